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

Figures are checked against the course's figure rules as the kernel shows them
(``helpers.viz.install_figure_check``: text >= 9 pt where GitHub shows the figure, photos >= ~300
px, no overlapping or clipped labels, coinciding curves distinguishable); what breaks a rule is
listed per cell ("FIGURE cell 12 (In[7]): ...") without changing the notebook. Look at the
rendered figures too (``python /work/shared/tools/render_notebook.py``, or GitHub's view).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clean_outputs import clean, problems  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: C-level writes to the kernel's stdout/stderr stay out of the notebook (they reach this log).
#: The kernel checks every figure it shows (helpers.viz.install_figure_check), leaving no name behind.
KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False",
               "--IPKernelApp.exec_lines=__import__('helpers.viz').viz.install_figure_check()"]


def figure_problems(nb, report: Path) -> list[str]:
    """The figure-rule problems the kernel recorded in ``report``, named by cell index and In[n]."""
    if not report.exists():
        return []
    index_of = {f"In[{cell.get('execution_count')}]": i for i, cell in enumerate(nb.cells)
                if cell.cell_type == "code"}
    found = []
    for line in report.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        where = record["cell"]
        cell = f"cell {index_of[where]} ({where})" if where in index_of else where
        found += [f"{cell}: {problem}" for problem in record["problems"]]
    return found


def run(path: Path, fast: bool, timeout: int) -> tuple[float, list[str], list[str]]:
    """Execute ``path`` in place; return the seconds it took, the output rules it breaks, and the
    figure rules its figures break."""
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "figures.jsonl"
        os.environ["COURSE_FIGURE_REPORT"] = str(report)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=KERNEL_ARGS,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute()
        finally:
            os.environ.pop("COURSE_FIGURE_REPORT", None)
        elapsed = time.perf_counter() - start
        figures = figure_problems(nb, report)
    clean(nb)
    nbformat.write(nb, path)
    return elapsed, problems(nb, size=path.stat().st_size), figures


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
        elapsed, found, figures = run(path, args.fast, args.timeout)
        print(f"  done in {elapsed:.1f} s", flush=True)
        for problem in found:
            print(f"  NOT CLEAN: {problem}", flush=True)
        for problem in figures:  # reported, not fatal: look at the figure and judge
            print(f"  FIGURE {problem}", flush=True)
        status = status or bool(found)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
