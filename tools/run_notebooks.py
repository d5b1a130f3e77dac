"""Re-execute notebooks headless and write their outputs in place (full mode by default).

    python tools/run_notebooks.py                 # every notebook, full mode (COURSE_FAST=0)
    python tools/run_notebooks.py 02 04           # only notebooks whose name starts with 02 or 04
    python tools/run_notebooks.py --fast 01       # test mode (COURSE_FAST=1), e.g. to time it

Run this before committing a notebook: the committed outputs are the course's face on GitHub,
and nbval compares the test run against them. After executing, the outputs are cleaned
(``tools/clean_outputs.py``: each progress bar becomes its final line) and checked against the
committed-output rules; the notebook is written either way, and any rule it breaks is listed and
makes the command fail (exit status 1), so nothing is committed by accident.

Noise is kept out at its source: the kernel does not forward what C++ libraries write to its
file descriptors (TensorFlow's absl log lines, oneDNN and CUDA notices go to this command's
stderr instead), and ``TF_CPP_MIN_LOG_LEVEL=2`` silences TensorFlow's C++ info and warnings.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clean_outputs import clean, problems  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: C-level writes to the kernel's stdout/stderr stay out of the notebook (they reach this log).
KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]


def run(path: Path, fast: bool, timeout: int) -> tuple[float, list[str]]:
    """Execute ``path`` in place; return the seconds it took and the rules its outputs break."""
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=KERNEL_ARGS,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    clean(nb)
    nbformat.write(nb, path)
    return elapsed, problems(nb, size=path.stat().st_size)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--fast", action="store_true", help="run in test mode (COURSE_FAST=1)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        paths = [p for p in paths if any(p.name.startswith(x) for x in args.prefixes)]
    if not paths:
        print("no notebook matches", args.prefixes, file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        print(f"running {path.name} ({'fast' if args.fast else 'full'} mode) ...", flush=True)
        elapsed, found = run(path, args.fast, args.timeout)
        print(f"  done in {elapsed:.1f} s", flush=True)
        for problem in found:
            print(f"  NOT CLEAN: {problem}", flush=True)
        status = status or bool(found)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
