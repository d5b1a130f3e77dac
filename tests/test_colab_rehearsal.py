"""The Colab rehearsal's own pieces: output checks, cache names, constraints, the [colab] extra.

The rehearsal itself (``python tools/colab_rehearsal.py``) builds a Python 3.13 environment and
runs every notebook twice; CI runs it after ``pytest``. These tests pin down the parts it relies
on: that its cache files sit exactly where torch hub and tensorflow_hub look, that its output
scan catches what it must and passes what the notebooks legitimately print.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "colab"))
sys.path.insert(0, str(ROOT / "tools"))
import checks  # noqa: E402
import colab_rehearsal  # noqa: E402
import prefill  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _cells(*outputs_per_cell):
    return [{"cell": i, "index": 2 * i + 1, "outputs": list(outs)} for i, outs in enumerate(outputs_per_cell)]


# --- the output scan --------------------------------------------------------------------------

OFFLINE_SSD = ("[offline] https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1 not reachable (network offline): "
               "using a locally built stand-in ssd_mobilenet_v2 (full, same architecture and outputs, random weights)")


def test_clean_online_outputs_pass():
    cells = _cells([_stream("Python 3.13.0 | network: online (forced by COURSE_ONLINE=1, not probed)\n")],
                   [_stream("ssd_mobilenet_v2: TF-Hub weights, 5.0 M parameters\n")],
                   [_stream("online: starting from torchvision's COCO-trained Faster R-CNN, new 5-class head\n")],
                   [{"output_type": "execute_result", "data": {"text/plain": "0.25"}}])
    assert checks.scan_notebook("04.ipynb", cells, online_pass=True) == []


def test_an_offline_notice_fails_the_online_pass_only():
    cells = _cells([_stream("x = 1\n")], [_stream(OFFLINE_SSD + "\n")])
    online = checks.scan_notebook("04.ipynb", cells, online_pass=True)
    assert [(f.cell, f.index, f.kind) for f in online] == [(1, 3, "offline-notice")]
    assert "stand-in" in online[0].text and "04.ipynb Cell 1 (cell index 3 in the file)" in str(online[0])
    assert checks.scan_notebook("04.ipynb", cells, online_pass=False) == []


@pytest.mark.parametrize("notice", [
    "offline and no backbone checkpoint: training from random weights",
    "Offline: these scores come from random weights; they show the method",
    "OFFLINE run: locally built stand-ins with random weights",
    "faster_rcnn: download failed (URLError: ...); using the stand-in",
    "torchvision's COCO weights are not reachable",
])
def test_each_notebook_offline_wording_is_a_notice(notice):
    found = checks.scan_notebook("n.ipynb", _cells([_stream(notice)]), online_pass=True)
    assert [f.kind for f in found] == ["offline-notice"]


def test_random_weights_on_purpose_is_not_an_offline_notice():
    """Notebook 03 builds architectures with random weights on purpose, online too."""
    line = "{'loss_classifier': 4.5403} (random weights: values mean nothing)"
    assert checks.scan_notebook("03.ipynb", _cells([_stream(line)]), online_pass=True) == []


@pytest.mark.parametrize("online_pass", [True, False])
def test_a_real_weights_claim_beside_a_stand_in_fails_either_pass(online_pass):
    """Issue 10, item 1: the run kind followed the probe while a stand-in loaded."""
    cells = _cells([_stream("These outputs come from an ONLINE run: real TF-Hub weights\n")],
                   [_stream(OFFLINE_SSD + "\n")])
    claims = [f for f in checks.scan_notebook("04.ipynb", cells, online_pass) if f.kind == "false-claim"]
    assert len(claims) == 1 and claims[0].cell == 0
    assert "ONLINE run" in claims[0].text and "Cell 1 says" in claims[0].text


@pytest.mark.parametrize("line", [
    "offline: torchvision's COCO weights are not reachable; starting from the MobileNetV3 backbone",
    "start: shapes backbone (COCO weights unavailable)",
    "trained without COCO weights",
    "no real TF-Hub weights in this run",
])
def test_a_line_saying_real_weights_are_missing_is_not_a_claim(line):
    cells = _cells([_stream("offline and no backbone checkpoint: training from random weights")], [_stream(line)])
    found = checks.scan_notebook("05.ipynb", cells, online_pass=False)
    assert found == []


def test_errors_are_reported_with_their_exception():
    cells = _cells([_stream("ok\n")], [{"output_type": "error", "ename": "ModuleNotFoundError",
                                        "evalue": "No module named 'pkg_resources'", "traceback": []}])
    found = checks.scan_notebook("04.ipynb", cells, online_pass=False)
    assert [(f.cell, f.kind, f.text) for f in found] == [(1, "error", "ModuleNotFoundError: No module named 'pkg_resources'")]


def test_progress_bars_are_read_as_their_final_line():
    bar = "train:  50%|#####     | 1/2\rtrain: 100%|##########| 2/2 [00:01<00:00]\n"
    assert checks.final_text(bar) == "train: 100%|##########| 2/2 [00:01<00:00]\n"
    assert checks.output_text({"output_type": "stream", "text": ["a\rb\n", "c"]}) == "b\nc"
    assert checks.output_text({"output_type": "display_data", "data": {"text/plain": ["<Figure>"], "image/png": "..."}}) == "<Figure>"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_pass_the_offline_scan(path):
    """The committed outputs come from an offline run: they must not claim real weights anywhere."""
    nb = json.loads(path.read_text())
    cells = [{"cell": n, "index": i, "outputs": c.get("outputs", [])}
             for n, (i, c) in enumerate((i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")]
    assert checks.scan_notebook(path.name, cells, online_pass=False) == []


# --- cache names: where torch hub and tensorflow_hub look ---------------------------------------

def test_torch_checkpoint_path_is_where_torch_hub_looks(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for name, weights in prefill.torchvision_weights_needed().items():
        path = prefill.torch_checkpoint_path(weights, tmp_path)
        assert path.name == weights.url.rsplit("/", 1)[-1] and path.name.endswith(".pth")
        assert path == Path(torch.hub.get_dir()) / "checkpoints" / path.name, name


def test_every_detector_build_detector_knows_has_coco_weights_to_prefill():
    from helpers.detection import COCO_MODELS, MODELS

    needed = prefill.torchvision_weights_needed()
    assert set(needed) == set(COCO_MODELS) | set(prefill.ALSO_LOADED) and set(COCO_MODELS) <= set(MODELS)
    assert set(MODELS) - set(COCO_MODELS) == {"retinanet_mobilenet_v3_large_fpn"}  # weights="coco" refuses it
    assert {w.name for w in needed.values()} == {"COCO_V1"}  # weights="coco" asks for DEFAULT = COCO_V1


def test_the_fcos_notebook_06_loads_is_prefilled():
    """Notebook 06 loads torchvision's FCOS COCO weights itself: the rehearsal pre-fills that file too."""
    from torchvision.models.detection import FCOS_ResNet50_FPN_Weights

    needed = prefill.torchvision_weights_needed()
    assert prefill.torch_checkpoint_name(needed["fcos_resnet50_fpn"]) == prefill.torch_checkpoint_name(
        FCOS_ResNet50_FPN_Weights.COCO_V1)


def test_tfhub_cache_key_matches_tensorflow_hubs_resolver(monkeypatch, tmp_path):
    pytest.importorskip("tensorflow")
    from helpers import tfhub

    resolver = pytest.importorskip("tensorflow_hub.compressed_module_resolver")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    for handle in tfhub.HANDLES.values():
        key = prefill.tfhub_cache_key(handle)
        assert key == hashlib.sha1(handle.encode()).hexdigest()
        assert Path(resolver._module_dir(handle)) == tmp_path / key


def test_prefilled_tfhub_cache_is_loaded_by_the_online_branch(monkeypatch, tmp_path):
    """load_detector(online=True) takes the pre-filled stand-in as the TF-Hub download, fetching nothing."""
    tf = pytest.importorskip("tensorflow")
    import urllib.request

    from helpers import tfhub

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("tried to download"))
    prefill.prefill_tfhub(tmp_path, variant="tiny")
    for name, handle in tfhub.HANDLES.items():
        fn, info = tfhub.load_detector(name, online=True, return_info=True, verbose=False)
        assert info.source == "tfhub" and Path(info.path) == tmp_path / prefill.tfhub_cache_key(handle)
        out = tfhub.to_numpy(fn(images=tf.zeros([1, 96, 128, 3])))
        assert len(out["detection_scores"]) > 0 and set(out) >= {"detection_boxes", "detection_class_entities"}
        # the cached model's class names must not read as an offline notice in the online pass
        assert all(e.startswith("cached class ") for e in out["detection_class_entities"])
        assert not checks.OFFLINE_NOTICE.search(" ".join(out["detection_class_entities"]))


# --- the constraints file and the [colab] extra ---------------------------------------------------

def test_constraints_pin_colabs_frameworks_each_with_its_source():
    pins = colab_rehearsal.preinstalled_requirements()
    names = {re.split(r"[=<>]", p)[0].lower() for p in pins}
    assert {"torch", "torchvision", "tensorflow", "keras", "numpy", "matplotlib", "pillow"} <= names
    assert "tensorflow-hub" not in names  # left to the notebooks' first cell ([colab] extra)
    for line in colab_rehearsal.CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            pin, _, comment = line.partition("#")
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.]*", pin.strip()), line
            assert "freeze:" in comment, f"no source for {pin.strip()}"


def test_colab_extra_provides_what_colab_lacks():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["colab"]
    assert "setuptools<81" in extra  # tensorflow_hub imports pkg_resources, gone in setuptools 81
    # helpers.voc parses XML with defusedxml: Colab has it, but a package-only install needs it too
    assert any(req.startswith("defusedxml") for req in project["dependencies"] + extra)


def test_nbval_failure_summary_keeps_the_message_and_the_diff():
    report = ("\x1b[91mNotebook cell execution failed\x1b[0m\nCell 7: Cell outputs differ\n\nInput:\nprint(1)\n\n"
              "Traceback:\n mismatch 'stdout'\n\n assert reference_output == test_output failed:\n\n  '1' == '2'\n")
    summary = colab_rehearsal.nbval_summary(report)
    assert summary.splitlines()[0] == "Cell 7: Cell outputs differ"
    assert "'1' == '2'" in summary and "print(1)" not in summary


def test_notebooks_get_torchvision_weights_only_through_helpers():
    """Every pretrained torchvision download goes through helpers.detection (whose weights the
    rehearsal pre-fills); notebooks build torchvision models with weights=None only."""
    pattern = re.compile(r"weights\s*=\s*(?!None\b)[\"']|_Weights\.|pretrained\s*=\s*True|weights_backbone\s*=\s*(?!None\b)")
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "torchvision" in source:
                assert not pattern.search(source), f"{path.name}: {pattern.search(source).group(0)!r}"


def test_readme_names_the_rehearsal_and_ci_runs_it_after_pytest():
    readme = (ROOT / "README.md").read_text()
    assert "python tools/colab_rehearsal.py" in readme and "(docs/rehearsal.md)" in readme
    doc = (ROOT / "docs" / "rehearsal.md").read_text()  # the maintainer's page: what it runs and proves
    assert "python tools/colab_rehearsal.py" in doc and "What it cannot prove" in doc
    ci = (ROOT / ".ci" / "run").read_text()
    pytest_at = re.search(r"^\s*python -m pytest\b", ci, re.M).start()
    rehearsal_at = re.search(r"^\s*python tools/colab_rehearsal\.py", ci, re.M).start()
    assert pytest_at < rehearsal_at
    assert re.search(r'exit "\$rehearsal"', ci), "CI must fail when the rehearsal fails"


def test_the_rehearsals_own_set_up_line_is_no_offline_notice(monkeypatch):
    """The first cell's line in the online pass (forced online, simulated Colab) must scan clean."""
    import types

    from helpers import env

    colab = types.ModuleType("google.colab")
    colab.STAND_IN = True
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_ONLINE", "1")
    line = env.describe_environment()
    assert "Colab" in line and "COURSE_ONLINE=1" in line
    cells = _cells([_stream(line + "\n")], [_stream("ssd_mobilenet_v2: TF-Hub weights, 5.0 M parameters\n")])
    assert checks.scan_notebook("04.ipynb", cells, online_pass=True) == []
