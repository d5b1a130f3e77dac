"""Repository-wide pytest set-up.

`COURSE_FAST=1` is the default for every test run (unit tests and the notebook kernels nbval
starts, which inherit this environment), so the whole suite stays short on 2 CPU cores.
Run `COURSE_FAST=0 pytest` to check the notebooks in full mode.
"""

import os
from pathlib import Path

os.environ.setdefault("COURSE_FAST", "1")

# nbval's kernels must import *this* checkout's helpers (a git worktree, a clone beside an
# editable install of another one), as the unit tests do through pytest's `pythonpath`.
_ROOT = str(Path(__file__).resolve().parent)
if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != _ROOT:
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)
