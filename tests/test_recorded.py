"""helpers.recorded (benchmark results shipped with the package) and the summaries and curves it holds."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import compare, recorded  # noqa: E402


def record(**change):
    run = {"detector": "SSDlite", "seed": 0, "curve": {"iteration": [10.0, 20.0], "seconds": [5.0, 10.0],
                                                        "AP50": [0.2, 0.4], "AP": [0.1, 0.2]}}
    return {"command": "python benchmarks/x.py", "commit": "abc", "machine": "a CPU, 2 cores", "date": "2026-12-06",
            "runs": [run], **change}


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.setattr(recorded, "RECORDED", tmp_path / "recorded")
    return tmp_path / "recorded"


def test_a_saved_record_loads_back_equal_and_leaves_no_temporary_file(scratch):
    path = recorded.save_recorded("some_curves", record())
    assert path == scratch / "some_curves.json"
    assert recorded.load_recorded("some_curves") == record()
    assert sorted(p.name for p in scratch.iterdir()) == ["some_curves.json"]


@pytest.mark.parametrize("bad, message", [
    ({"commit": None}, r"commit \(str\)"),
    ({"runs": []}, "'runs' is empty"),
    ({"runs": {"a": 1}}, r"runs \(list\)"),
])
def test_a_record_without_its_provenance_or_runs_is_refused(scratch, bad, message):
    with pytest.raises(ValueError, match=message):
        recorded.save_recorded("x", record(**bad))
    (scratch).mkdir(exist_ok=True)
    (scratch / "y.json").write_text(json.dumps(record(**bad)))
    with pytest.raises(ValueError, match=message):
        recorded.load_recorded("y")
    with pytest.raises(ValueError, match="JSON object"):
        recorded.check_record([1])


def test_a_missing_record_names_the_script_and_bad_names_are_refused(scratch):
    with pytest.raises(FileNotFoundError, match=r"benchmarks/nothing_here\.py"):
        recorded.load_recorded("nothing_here")
    for name in ("../etc", "a/b", "", "x.json", 3):
        with pytest.raises(ValueError, match="letters, digits and underscores"):
            recorded.record_path(name)


def test_the_shipped_records_are_valid_and_each_names_its_command():
    shipped = sorted(recorded.RECORDED.glob("*.json")) if recorded.RECORDED.is_dir() else []
    assert {p.stem for p in shipped} >= {"batman_curves", "detr_convergence"}
    for path in shipped:
        rec = recorded.load_recorded(path.stem)
        assert rec["command"].startswith("python benchmarks/"), rec["command"]
        for run in rec["runs"]:
            if "curve" in run:  # a curve against training seconds (batman_curves)
                assert len(run["curve"]["seconds"]) == len(run["curve"]["AP50"]) >= 1
                assert np.all(np.diff(run["curve"]["seconds"]) > 0)
            else:  # checkpoints against iterations (detr_convergence)
                its = [c["iteration"] for c in run["checkpoints"]]
                assert its and its[-1] == run["iterations"] and np.all(np.diff(its) > 0)
                assert all(0 <= c["AP50"] <= 1 and 0 <= c["AP"] <= 1 for c in run["checkpoints"])


def fake_arm():
    return {"iterations": 7, "seconds": 3.5, "stopped_by": "time budget", "AP50": 0.5, "AP": 0.25,
            "AP50_per_class": {1: 0.1, 2: 0.9}, "curve": {"iteration": [3, 7], "seconds": [1.5, 3.5],
                                                          "AP50": [np.float32(0.25), 0.5], "AP": [0.1, 0.25]},
            "history": {"loss": list(np.arange(30.0)), "loss_classifier": list(np.ones(30)), "lr": [0.1] * 30,
                        "classification": []}}


def test_arm_summary_keeps_plain_json_numbers_and_names_the_classes():
    out = compare.arm_summary(fake_arm(), ["bat", "joker"], detector="SSDlite", seed=1)
    assert json.loads(json.dumps(out)) == out  # JSON-ready
    assert out["detector"] == "SSDlite" and out["seed"] == 1 and out["iterations"] == 7
    assert out["val_AP50_per_class"] == {"bat": 0.1, "joker": 0.9}
    assert out["curve"]["AP50"] == [0.25, 0.5]
    assert out["last_losses"] == {"loss_classifier": 1.0}  # loss terms only, the mean of the last 20


def test_plot_curves_draws_one_line_per_run_in_one_colour_per_detector():
    runs = [{**compare.arm_summary(fake_arm(), ["a", "b"]), "detector": d, "seed": s}
            for d in ("SSDlite", "RetinaNet") for s in (0, 1)]
    fig, axes = plt.subplots(1, 2)
    handles = compare.plot_curves(runs, axes)
    assert len(handles) == len(axes[0].lines) == len(axes[1].lines) == 4
    colours = [line.get_color() for line in axes[0].lines]
    assert colours[0] == colours[1] != colours[2] == colours[3]
    assert [line.get_linestyle() for line in axes[0].lines] == ["-", "--", "-", "--"]
    np.testing.assert_allclose(axes[1].lines[0].get_xdata(), [3, 7])
    plt.close(fig)
    with pytest.raises(ValueError, match="without a curve"):
        compare.plot_curves([{**runs[0], "curve": {"seconds": [], "iteration": [], "AP50": []}}], axes)
    with pytest.raises(ValueError, match="empty"):
        compare.plot_curves([], axes)


def test_append_puts_the_earlier_runs_first_and_keeps_the_new_ones():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "recording.py"
    spec = importlib.util.spec_from_file_location("recording", path)
    recording = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recording)
    earlier = {"command": "python benchmarks/x.py --a", "commit": "c1", "date": "d1", "runs": [{"seed": 0}]}
    record = {"command": "python benchmarks/x.py --b", "commit": "c2", "date": "d2", "runs": [{"seed": 1}]}
    assert recording.continue_record(record, earlier) is record
    assert record["runs"] == [{"seed": 0}, {"seed": 1}]
    assert record["command"] == "python benchmarks/x.py --a; then python benchmarks/x.py --b"
    assert (record["commit"], record["date"]) == ("c1; then c2", "d1; then d2")
