"""helpers.progress: bars that end at 100 % with the reason a loop stopped early."""

import io
import sys
import time
from pathlib import Path

import pytest
from tqdm import tqdm

from helpers.progress import budgeted, stop_bar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from clean_outputs import BAR, resolve_carriage_returns  # noqa: E402


def _last_bar(stream: io.StringIO):
    text = resolve_carriage_returns(stream.getvalue())
    bars = list(BAR.finditer(text))
    assert bars, text
    return bars[-1]


def test_stop_bar_closes_at_100_percent_with_the_reason():
    out = io.StringIO()
    bar = tqdm(total=3000, desc="training", file=out, mininterval=0)
    bar.update(306)
    bar.set_postfix(loss="0.41")
    stop_bar(bar, "time budget of 110 s reached")
    last = _last_bar(out)
    assert last["pct"] == "100" and last["n"] == last["total"] == "306"
    assert "loss=0.41, stopped: time budget of 110 s reached" in last.group(0)


def test_stop_bar_needs_a_reason():
    bar = tqdm(total=10, file=io.StringIO())
    with pytest.raises(ValueError, match="say why"):
        stop_bar(bar, " ")


def test_budgeted_runs_everything_within_budget():
    out = io.StringIO()
    assert list(budgeted(range(5), 60, desc="work", bar=tqdm, file=out, mininterval=0)) == [0, 1, 2, 3, 4]
    last = _last_bar(out)
    assert last["n"] == last["total"] == "5" and "stopped" not in last.group(0)


def test_budgeted_stops_at_the_budget_and_the_bar_reads_complete():
    out = io.StringIO()
    done = []
    for i in budgeted(range(1000), 0.05, desc="work", bar=tqdm, file=out, mininterval=0):
        time.sleep(0.02)
        done.append(i)
    assert 1 <= len(done) < 1000
    last = _last_bar(out)
    assert last["pct"] == "100" and int(last["n"]) == int(last["total"]) == len(done)
    assert "stopped: time budget of 0.05 s reached" in last.group(0)


def test_a_break_in_the_callers_loop_closes_the_bar_complete():
    out = io.StringIO()
    for i in budgeted(range(100), None, desc="search", bar=tqdm, file=out, mininterval=0):
        if i == 7:
            break
    last = _last_bar(out)
    assert last["n"] == last["total"] == "7" and "stopped: loop ended early" in last.group(0)


def test_a_stopped_bar_passes_the_committed_output_rule():
    from clean_outputs import _bar_problems

    out = io.StringIO()
    bar = tqdm(total=50, desc="x", file=out, mininterval=0)
    bar.update(20)
    assert _bar_problems("cell 0", resolve_carriage_returns(out.getvalue()))  # short of 100 %: rejected
    stop_bar(bar, "converged")
    assert _bar_problems("cell 0", resolve_carriage_returns(out.getvalue())) == []


def test_notebook_widget_bar_max_follows(monkeypatch):
    pytest.importorskip("ipywidgets")
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr("tqdm.notebook.display", lambda *a, **k: None)
    bar = notebook_tqdm(total=100, desc="w")
    bar.update(30)
    stop_bar(bar, "time budget of 1 s reached")
    progress = bar.container.children[1]
    assert progress.value == progress.max == 30 and progress.bar_style != "danger"
