"""Repository-wide pytest set-up.

`COURSE_FAST=1` is the default for every test run (unit tests and the notebook kernels nbval
starts, which inherit this environment), so the whole suite stays short on 2 CPU cores.
Run `COURSE_FAST=0 pytest` to check the notebooks in full mode.
"""

import os

os.environ.setdefault("COURSE_FAST", "1")
