"""The committed notebooks' outputs are clean and light, and tools/run_notebooks.py makes them so.

Rules (DESIGN.md, Notebook conventions; ``tools/clean_outputs.RULES``): every notebook <= 1 MB, no
image output > 200 KB, no absolute local path, no framework C++ log line or warning a learner
cannot act on, a progress bar leaves one final line and it reads 100 % (a loop stopped early closes
its bar with ``helpers.progress.stop_bar``), no output line over 120 characters, no bare
True/False under an exercise cell, and the figure rules readable from the source (the set-up cell
calls ``helpers.viz.use_course_style()``; no font under 9 pt, no dpi override, no figure wider
than 8.8 in). Figures themselves are checked as they are shown (``tools/run_notebooks.py``
reports them) and by rendering the notebook and looking.
"""

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import clean_outputs as co  # noqa: E402

#: Every notebook of the course, those still being written included as soon as they exist.
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: Rules added by issue 22 (the learner's face). A committed notebook meets them once its owner has
#: re-executed it under them; until then a notebook named in NOT_YET_REEXECUTED reports its
#: violations of these rules as an expected failure (xfail, listed by ``pytest -ra``) instead of
#: failing. The list is the lead's to empty: a notebook leaves it when it passes.
NEW_RULES = ("progress bars", "line length", "exercise echo", "figure style")
NOT_YET_REEXECUTED: set[str] = set()  # empty: every notebook was re-executed under the rules


def _read(path):
    return nbformat.read(path, as_version=4), path.stat().st_size


@pytest.mark.parametrize("rule", co.RULES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_meets_rule(path, rule):
    nb, size = _read(path)
    found = co.problems_by_rule(nb, size=size)[rule]
    if found and rule in NEW_RULES and path.name in NOT_YET_REEXECUTED:
        pytest.xfail(f"{path.name} not yet re-executed under the rule {rule!r} ({len(found)} problems, e.g. "
                     f"{found[0][:150]})")
    assert not found, (f"{path.name} breaks the rule {rule!r} (fix the cell, then re-execute with "
                       "tools/run_notebooks.py, which cleans and checks):\n  " + "\n  ".join(found))


def test_the_gate_names_only_existing_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert NOT_YET_REEXECUTED <= names, NOT_YET_REEXECUTED - names


# ------------------------------------------------------------------ helpers


def notebook(*outputs, metadata=None):
    cell = new_code_cell("pass")
    cell.outputs = list(outputs)
    nb = new_notebook(cells=[cell])
    if metadata:
        nb.metadata.update(metadata)
    return nb


def stderr(text):
    return new_output("stream", name="stderr", text=text)


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def bar_widget_state(model_id, left, value, maximum, right):
    """The widget models tqdm.notebook creates (HBox of HTML, FloatProgress, HTML), as nbclient saves them."""
    state = {
        model_id: {"model_name": "HBoxModel", "state": {"children": [f"IPY_MODEL_{model_id}{k}" for k in "abc"]}},
        f"{model_id}a": {"model_name": "HTMLModel", "state": {"value": left}},
        f"{model_id}b": {"model_name": "FloatProgressModel", "state": {"value": value, "max": maximum}},
        f"{model_id}c": {"model_name": "HTMLModel", "state": {"value": right}},
    }
    return state


def widget_output(model_id, frozen_text):
    return new_output("display_data", data={
        "text/plain": frozen_text,
        co.WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id},
    })


# ------------------------------------------------------------------ cleaning


def test_carriage_returns_leave_each_line_final_state():
    assert co.resolve_carriage_returns("a  0%\ra 50%\ra 100%\nnext\n") == "a 100%\nnext\n"
    assert co.resolve_carriage_returns("no bars here\n") == "no bars here\n"
    assert co.resolve_carriage_returns("x\r   \rkept\n") == "kept\n"
    assert co.resolve_carriage_returns("before\n\r      \r\nafter\n") == "before\nafter\n"  # erased bar


def test_stream_fragments_merge_into_one_final_line():
    refreshes = [stderr(f"\rtrain: {p:3d}%|#         | {p}/100 [00:01<00:01, 5it/s]") for p in range(0, 101, 10)]
    nb = notebook(*refreshes, stderr("\n"), stdout("done\n"))
    assert len(co.problems(nb)) >= 2  # carriage returns, several states of one bar
    co.clean(nb)
    outs = nb.cells[0].outputs
    assert [o.name for o in outs] == ["stderr", "stdout"]
    assert outs[0].text == "train: 100%|#         | 100/100 [00:01<00:01, 5it/s]\n"
    assert co.problems(nb) == []


def test_widget_bar_becomes_its_final_line_and_state_is_dropped():
    state = bar_widget_state("m1", "Training: 100%", 50, 50, " 50/50 [00:00&lt;00:00, 95.3it/s]")
    nb = notebook(widget_output("m1", "Training:   0%|          | 0/50 [00:00<?, ?it/s]"), stdout("done\n"),
                  metadata={"widgets": {co.WIDGET_STATE: {"state": state}}})
    found = co.problems(nb)
    assert any("widget output" in p for p in found) and any("widget state" in p for p in found)
    co.clean(nb)
    outs = nb.cells[0].outputs
    assert outs[0].output_type == "display_data" and list(outs[0].data) == ["text/plain"]
    assert outs[0].data["text/plain"] == "Training: 100%|██████████| 50/50 [00:00<00:00, 95.3it/s]"
    assert "widgets" not in nb.metadata
    assert co.problems(nb) == []


def test_widget_bar_closed_without_leave_disappears_and_other_widgets_keep_their_text():
    state = {"w2": {"model_name": "IntSliderModel", "state": {"value": 3}}}
    nb = notebook(widget_output("gone", "0%"), widget_output("w2", "IntSlider(value=3)"),
                  metadata={"widgets": {co.WIDGET_STATE: {"state": state}}})
    co.clean(nb)
    assert [o.data["text/plain"] for o in nb.cells[0].outputs] == ["IntSlider(value=3)"]


def test_partial_widget_bar_is_rejected_even_with_a_reason():
    state = bar_widget_state("m", "budget:  56%", 2227, 4000,
                             " 2227/4000 [18:00&lt;14:24, 2.05it/s, loss=0.590, stopped: time budget of 1080 s reached]")
    nb = notebook(widget_output("m", "0%"), metadata={"widgets": {co.WIDGET_STATE: {"state": state}}})
    co.clean(nb)
    assert nb.cells[0].outputs[0].data["text/plain"].startswith("budget:  56%|█████     | 2227/4000 [18:00<14:24")
    assert any("short of 100 %" in p for p in co.problems(nb))


def test_stopped_widget_bar_at_100_percent_keeps_its_reason():
    state = bar_widget_state("m", "budget: 100%", 2227, 2227,
                             " 2227/2227 [18:00&lt;00:00, 2.05it/s, loss=0.590, stopped: time budget of 1080 s reached]")
    nb = notebook(widget_output("m", "0%"), metadata={"widgets": {co.WIDGET_STATE: {"state": state}}})
    co.clean(nb)
    assert "2227/2227" in nb.cells[0].outputs[0].data["text/plain"]
    assert "stopped: time budget of 1080 s reached" in nb.cells[0].outputs[0].data["text/plain"]
    assert co.problems(nb) == []


# ------------------------------------------------------------------ checking


def test_clean_output_has_no_problems():
    nb = notebook(stdout("IoU = 0.143\n"), stderr("predicting: 100%|██████████| 3/3 [00:01<00:00,  2.9batch/s]\n"))
    assert co.problems(nb) == []


@pytest.mark.parametrize("text, what", [
    ("/work/main/helpers/tfhub.py:21: UserWarning: x\n", "absolute local path"),
    ("saved to /home/me/runs/model.pt\n", "absolute local path"),
    ("see /tmp/venv1/lib/python3.11/site-packages/tqdm/auto.py\n", "absolute local path"),
    ("I0000 00:00:1795293708.889955   20742 port.cc:153] oneDNN custom operations are on.\n", "framework log"),
    ("W0000 00:00:1795293708.889955   20742 gpu_device.cc:2344] Cannot dlopen some GPU libraries.\n", "framework log"),
    ("E0000 00:00:1.2   1 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n", "framework log"),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n", "framework log"),
    ("auto.py:21: TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.\n", "framework log"),
    ("train: 40%|####      | 2/5 [00:00<00:00, 11.62it/s]\n", "short of 100 %"),
    ("t: 10%|#         | 306/3000 [01:50<16:01, stopped: time budget of 110 s reached]\n", "short of 100 %"),
    ("x" * 121 + "\n", "output line of 121 characters"),
    ("a: 10%|#         | 1/10 [00:00<?]\na: 100%|##########| 10/10 [00:01<00:00]\n", "states of one progress bar"),
    ("a: 10%|#         | 1/10 [00:00<?]\ra: 100%|##########| 10/10 [00:01<00:00]\n", "carriage returns"),
])
def test_each_rule_is_enforced(text, what):
    found = co.problems(notebook(stderr(text)))
    assert any(what in p for p in found), found


def test_separate_finished_bars_with_one_label_are_not_states_of_one_bar():
    bars = [new_output("display_data", data={"text/plain": f"training: 100%|██████████| 800/800 [01:0{i}<00:00]"})
            for i in range(3)]
    assert co.problems(notebook(*bars)) == []  # one bar per seed, each finished
    text = "training: 100%|##########| 800/800 [01:00<00:00]\ntraining: 100%|##########| 800/800 [01:01<00:00]\n"
    assert co.problems(notebook(stderr(text))) == []


def test_long_lines_count_where_a_learner_reads_them():
    wide = "y" * 130
    assert co.problems(notebook(stdout("x" * 120 + "\n"))) == []
    result = new_output("execute_result", data={"text/plain": wide}, execution_count=1)
    assert any("130 characters" in p for p in co.problems(notebook(result)))
    html = new_output("display_data", data={"text/plain": wide, "text/html": "<table></table>"})
    assert co.problems(notebook(html)) == []  # the front end shows the HTML, not the text fallback


def test_exercise_cells_do_not_echo_true_or_false():
    def exercise(source, *outputs):
        cell = new_code_cell(source)
        cell.outputs = list(outputs)
        return new_notebook(cells=[cell])

    message = stdout("box_iou: not attempted yet\n")
    echo = new_output("execute_result", data={"text/plain": "False"}, execution_count=1)
    found = co.problems(exercise('check("box_iou", my_box_iou)', message, echo))
    assert any("bare False" in p for p in found), found
    assert co.problems(exercise('passed = check("box_iou", my_box_iou)', message)) == []
    assert co.problems(exercise("1 > 0", echo)) == []  # not an exercise cell: a comparison may show False


def test_figure_rules_readable_from_the_source():
    def nb_of(*sources):
        return new_notebook(cells=[new_code_cell(s) for s in sources])

    good = nb_of("from helpers.viz import use_course_style\nuse_course_style()",
                 "fig, ax = plt.subplots(figsize=(8, 3))\nax.legend(fontsize=10)")
    assert co.figure_style_problems(good) == []
    bad = nb_of('plt.rcParams["figure.dpi"] = 72',
                "fig, axes = plt.subplots(1, 5, figsize=(17, 3.4))\ndraw_boxes(im, b, ax=ax, fontsize=6)")
    found = co.figure_style_problems(bad)
    assert any("use_course_style" in p for p in found)
    assert any("overrides the figure dpi" in p for p in found)
    assert any("figsize 17 in wide" in p for p in found)
    assert any("font size 6 pt" in p for p in found)


def test_size_and_image_limits():
    import base64

    big = base64.b64encode(b"\x89PNG" + bytes(co.MAX_IMAGE_BYTES)).decode()
    small = base64.b64encode(b"\x89PNG" + bytes(1000)).decode()
    nb = notebook(new_output("display_data", data={"image/png": big, "text/plain": "<Figure>"}))
    assert any("image/png output of 200 KB" in p for p in co.problems(nb))
    nb = notebook(new_output("display_data", data={"image/png": small, "text/plain": "<Figure>"}))
    assert co.problems(nb) == []
    assert any("notebook is 1.20 MB" in p for p in co.problems(nb, size=1_200_000))


def test_paths_in_error_tracebacks_are_found():
    err = new_output("error", ename="ValueError", evalue="bad", traceback=["File /root/x.py, line 3"])
    assert any("absolute local path" in p for p in co.problems(notebook(err)))


# ------------------------------------------------------------------ run_notebooks end to end


def test_run_notebooks_executes_cleans_and_checks(tmp_path):
    """A real kernel: tqdm.auto bars (widgets when ipywidgets is installed), a C-level write, a short bar."""
    import run_notebooks

    code = ("import os\nfrom tqdm.auto import tqdm\n"
            "os.write(2, b'I0000 00:00:1.5   1 port.cc:153] a C++ log line\\n')\n"
            "for _ in tqdm(range(30), desc='work'):\n    pass\n"
            "bar = tqdm(total=10, desc='budgeted')\nbar.update(4)\n"
            "from helpers.progress import stop_bar\nstop_bar(bar, 'time budget reached')\nprint('done')")
    figure = ("import matplotlib.pyplot as plt\nfrom helpers.viz import use_course_style\nuse_course_style()\n"
              "fig, ax = plt.subplots(figsize=(4, 3))\nax.set_title('too small', fontsize=5);")
    path = tmp_path / "nb.ipynb"
    nb = new_notebook(cells=[new_code_cell(code), new_code_cell(figure)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    _, found, figures = run_notebooks.run(path, fast=True, timeout=120)
    assert [p for p in found if "font size 5" not in p] == []  # the figure-style rule reads the source
    assert len(figures) == 1 and figures[0].startswith("cell 1 (In[2]): 1 text(s)") and "px high" in figures[0]
    out = nbformat.read(path, as_version=4)
    text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") + "\n" for o in out.cells[0].outputs)
    assert "C++ log line" not in text
    assert "work: 100%" in text and "30/30" in text
    assert "budgeted: 100%" in text and "4/4" in text and "stopped: time budget reached" in text
    assert text.rstrip().endswith("done")
    assert "widgets" not in out.metadata


# ------------------------------------------------------------------ helpers.train's bar


def test_a_training_bar_stopped_by_the_time_budget_ends_complete_and_says_why(tmp_path, capsys):
    pytest.importorskip("torchvision")
    import torch

    from helpers import detection, train
    from helpers.data import CLASSES, VOCDetectionDataset, make_batman_dataset

    make_batman_dataset(tmp_path, 4, seed=3, image_size=128, split_fractions=(0.5, 0.25, 0.25))
    torch.manual_seed(0)
    model = detection.build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", len(CLASSES), image_size=128,
                                     box_head_size=64)
    hist = train.train_detector(model, VOCDetectionDataset(tmp_path, "train"), iterations=50, batch_size=2,
                                time_budget_s=1e-9, desc="budgeted")
    assert hist["stopped_by"] == "time budget"
    text = capsys.readouterr().err
    final = co.resolve_carriage_returns(text).strip().splitlines()[-1]
    bar = co.BAR.search(final)
    assert bar and bar["pct"] == "100" and bar["n"] == bar["total"], final  # complete, not a crash
    assert "time budget" in final, final  # and it says why it stopped
    cleaned = co.clean(notebook(stderr(text)))
    assert co.problems(cleaned) == []


def test_a_cleaned_widget_bar_passes_nbval_against_a_fresh_run(tmp_path):
    """The committed final line and a fresh run's widget fallback ("0%") sanitise to the same text."""
    import subprocess

    import run_notebooks

    path = tmp_path / "bar.ipynb"
    nb = new_notebook(cells=[new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(14), desc='levels'):\n"
                                           "    pass\nprint('14 levels')")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    assert run_notebooks.run(path, fast=True, timeout=120)[1] == []
    out = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                          f"--nbval-sanitize-with={ROOT / 'notebooks' / 'sanitize.cfg'}", str(path), "-q"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
