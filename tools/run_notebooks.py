"""Re-execute notebooks headless and write their outputs in place (full mode by default).

    python tools/run_notebooks.py                 # every notebook, full mode (COURSE_FAST=0)
    python tools/run_notebooks.py 02 04           # only notebooks whose name starts with 02 or 04
    python tools/run_notebooks.py --fast 01       # test mode (COURSE_FAST=1), e.g. to time it

Run this before committing a notebook: the committed outputs are the course's face on GitHub,
and nbval compares the test run against them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run(path: Path, fast: bool, timeout: int) -> float:
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


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
    for path in paths:
        print(f"running {path.name} ({'fast' if args.fast else 'full'} mode) ...", flush=True)
        print(f"  done in {run(path, args.fast, args.timeout):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
