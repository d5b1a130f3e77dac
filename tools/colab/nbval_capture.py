"""pytest plugin for the Colab rehearsal: record what every nbval cell printed, and how it ended.

Loaded with ``-p nbval_capture`` (the rehearsal puts this file's folder on the path). At the end
of the session it writes ``$REHEARSAL_CAPTURE`` (JSON): one record per executed notebook cell with
the notebook, nbval's cell number and the cell's index in the file, its first line, nbval's outcome, the outputs the kernel produced (nbval's
``item.test_outputs``) and, on failure, nbval's report. ``tools/colab/checks.py`` scans it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_RECORDS: list[dict] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not hasattr(item, "cell_num"):
        return
    cells = getattr(getattr(item, "parent", None), "nb", {}).get("cells", [])
    index = next((i for i, cell in enumerate(cells) if cell is item.cell), None)
    source = item.cell.source.strip().splitlines()
    _RECORDS.append({
        "notebook": Path(str(item.fspath)).name,
        "cell": item.cell_num,  # nbval's "Cell N": N-th code cell, counted from 0
        "index": index,  # position among all cells of the .ipynb, counted from 0
        "first_line": source[0][:100] if source else "",
        "outcome": report.outcome,
        "outputs": list(getattr(item, "test_outputs", None) or []),
        "report": str(report.longrepr) if report.failed else "",
        "seconds": round(call.duration, 2),
    })


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("REHEARSAL_CAPTURE")
    if path:
        Path(path).write_text(json.dumps(_RECORDS, default=str))
