"""helpers.detection / train / export / detection_eval: building, training, evaluating, exporting detectors.

Everything runs on tiny images (128 px) and a handful of generated Batman scenes, so the file
stays well under a minute on 2 CPU cores.
"""

import math
import re

import numpy as np
import pytest
import torch
import torchvision

from helpers import detection, detection_eval, train
from helpers.data import CLASSES, VOCDetectionDataset, make_batman_dataset, voc_to_coco

FRCNN = "fasterrcnn_mobilenet_v3_large_320_fpn"
SMALL = {"image_size": 128, "box_head_size": 64}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("batman")
    make_batman_dataset(root, 12, seed=3, image_size=128, split_fractions=(0.5, 0.25, 0.25))
    return root


@pytest.fixture(scope="module")
def tiny_train(tiny_root):
    return VOCDetectionDataset(tiny_root, "train")


@pytest.fixture(scope="module")
def tiny_test(tiny_root):
    return VOCDetectionDataset(tiny_root, "test")


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return detection.build_detector(FRCNN, len(CLASSES), **{**SMALL, **kw})


# ------------------------------------------------------------------ building
@pytest.mark.parametrize("name", list(detection.MODELS))
def test_build_has_new_head_and_detects(name):
    torch.manual_seed(0)
    kw = {} if name.startswith("ssd") else {"image_size": 128}
    model = detection.build_detector(name, 5, **kw).eval()
    if name.startswith("fasterrcnn"):
        assert model.roi_heads.box_predictor.cls_score.out_features == 6  # 5 classes + background
        assert model.roi_heads.box_predictor.bbox_pred.out_features == 4 * 6
    elif name.startswith("retinanet"):
        assert model.head.classification_head.num_classes == 6  # column 0, the background, is never positive
    else:
        head = model.head.classification_head
        assert head.num_columns == 6
    with torch.no_grad():
        out = model([torch.rand(3, 128, 160)])
    assert set(out[0]) == {"boxes", "labels", "scores"}
    assert out[0]["boxes"].shape[1] == 4 and out[0]["boxes"].dtype == torch.float32
    labels = out[0]["labels"]
    assert labels.dtype == torch.int64 and ((labels >= 1) & (labels <= 5)).all()


def test_build_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'yolo'.*fasterrcnn_mobilenet_v3_large_320_fpn"):
        detection.build_detector("yolo")
    with pytest.raises(ValueError, match="num_classes"):
        detection.build_detector(FRCNN, 0)
    with pytest.raises(ValueError, match="weights must be"):
        detection.build_detector(FRCNN, 5, weights="imagenet")
    with pytest.raises(ValueError, match="trainable_backbone_layers"):
        detection.build_detector(FRCNN, 5, trainable_backbone_layers=7)
    with pytest.raises(ValueError, match="no COCO weights for retinanet_mobilenet_v3_large_fpn"):
        detection.build_detector("retinanet_mobilenet_v3_large_fpn", 5, weights="coco")
    with pytest.raises(ValueError, match="box_head_size is a Faster R-CNN option; SSDlite has no box head"):
        detection.build_detector("ssdlite320_mobilenet_v3_large", 5, box_head_size=64)
    with pytest.raises(FileNotFoundError, match="pretrain_backbone"):
        detection.build_detector(FRCNN, 5, weights=tmp_path / "missing.pt")


def _half(module):
    return {k: v.half() if v.is_floating_point() else v for k, v in module.state_dict().items()}


def test_backbone_checkpoint_is_loaded_and_frozen(tmp_path):
    torch.manual_seed(1)
    source = torchvision.models.mobilenet_v3_large()
    path = tmp_path / "bb.pt"
    torch.save({"features": _half(source.features), "meta": {"task": "test"}}, path)
    model = detection.build_detector(FRCNN, 5, weights=path, trainable_backbone_layers=2, image_size=128)
    body = model.backbone.body
    w = source.features[0][0].weight.detach().half().float()
    assert torch.equal(body["0"][0].weight, w)
    assert isinstance(body["0"][1], torchvision.ops.FrozenBatchNorm2d)
    assert not body["0"][0].weight.requires_grad  # early stages frozen
    assert body[str(len(body) - 1)][0].weight.requires_grad  # the top stage trains


def test_detector_checkpoint_transfers_backbone_fpn_and_rpn_not_the_head(tmp_path):
    source = _model(seed=2)  # stands in for the shapes-pretrained detector (8 classes there)
    path = tmp_path / "det.pt"
    torch.save({"features": _half(source.backbone.body), "fpn": _half(source.backbone.fpn),
                "rpn": _half(source.rpn), "meta": {}}, path)
    model = _model(seed=3, weights=path)
    for name in ("backbone.fpn.layer_blocks.0.0.weight", "rpn.head.conv.0.0.weight", "rpn.head.cls_logits.weight"):
        expected = source.state_dict()[name].half().float()
        assert torch.equal(model.state_dict()[name], expected), name
    head = "roi_heads.box_predictor.cls_score.weight"
    assert not torch.equal(model.state_dict()[head], source.state_dict()[head])


# ------------------------------------------------------------------ training
def test_one_train_step_changes_parameters(tiny_train):
    model = _model()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    hist = train.train_detector(model, tiny_train, iterations=1, batch_size=2, lr=0.01, warmup=0, progress=False)
    assert math.isfinite(hist["loss"][0]) and hist["loss"][0] > 0
    assert {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"} <= set(hist)
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert "roi_heads.box_predictor.cls_score.weight" in changed and len(changed) > 10
    assert hist["device"] == "cpu" and hist["amp"] is False and hist["stopped_by"] == "iterations"


def test_resume_continues_exactly(tiny_train, tmp_path):
    torch.set_num_threads(1)  # deterministic CPU kernels for the exact comparison
    kw = {"batch_size": 2, "lr": 0.01, "warmup": 1, "progress": False}
    full = train.train_detector(_model(), tiny_train, iterations=3, **kw)
    ckpt = tmp_path / "run.pt"
    train.train_detector(_model(), tiny_train, iterations=2, checkpoint=ckpt, **kw)
    resumed = train.train_detector(_model(seed=9), tiny_train, iterations=3, checkpoint=ckpt, **kw)
    assert resumed["resumed_from"] == 2 and resumed["iteration"] == [1, 2, 3]
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-4)
    np.testing.assert_allclose(resumed["lr"], full["lr"], rtol=1e-12)


def test_schedule_and_batches():
    f = train.warmup_cosine(100, 10, final_fraction=0.01)
    assert f(0) == pytest.approx(0.001) and f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.01)
    assert all(f(i) >= f(i + 1) for i in range(10, 100))
    stream = train._batches(10, 3, seed=0, start_iteration=0)
    first = [next(stream) for _ in range(6)]
    assert sorted(sum(first[:3], [])) == sorted(set(sum(first[:3], [])))  # no repeats inside a pass
    again = train._batches(10, 3, seed=0, start_iteration=4)
    assert next(again) == first[4]
    assert train.cpu_threads() >= 1
    with pytest.raises(ValueError, match="iterations"):
        train.train_detector(_model(), [], iterations=0)


def test_time_budget_stops_training(tiny_train):
    hist = train.train_detector(_model(), tiny_train, iterations=50, batch_size=2, time_budget_s=1e-9, progress=False)
    assert hist["stopped_by"] == "time budget" and len(hist["iteration"]) == 1


def test_checkpoint_round_trip(tmp_path, tiny_test):
    model = _model(seed=4).eval()
    path = detection.save_checkpoint(tmp_path / "m.pt", model, note="hello")
    loaded, ckpt = detection.load_checkpoint(path)  # rebuilt from the recipe
    assert ckpt["note"] == "hello" and loaded.build_recipe == model.build_recipe
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    img = tiny_test[0][0]
    a, b = detection.predict(model, [img])[0], detection.predict(loaded, [img])[0]
    np.testing.assert_array_equal(a["boxes"], b["boxes"])
    with pytest.raises(FileNotFoundError):
        detection.load_checkpoint(tmp_path / "nope.pt")
    torch.save({"something": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a detector checkpoint"):
        detection.load_checkpoint(tmp_path / "bad.pt")


# ------------------------------------------------------------------ evaluation
def test_detections_to_coco_converts_xyxy_to_xywh():
    preds = [{"boxes": np.array([[10.0, 20.0, 30.0, 60.0]]), "labels": np.array([2]), "scores": np.array([0.9])},
             {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)}]
    dets = detection.detections_to_coco(preds, image_ids=[7, 8])
    assert dets == [{"image_id": 7, "category_id": 2, "bbox": [10.0, 20.0, 20.0, 40.0], "score": pytest.approx(0.9)}]
    with pytest.raises(ValueError, match="image ids"):
        detection.detections_to_coco(preds, image_ids=[1])


def test_evaluate_detector_returns_metrics(tiny_test, tiny_root):
    out = detection.evaluate_detector(_model(), tiny_test)
    keys = {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
    assert keys <= set(out["coco"])
    assert set(out["AP50_per_class"]) == {1, 2, 3, 4, 5}
    assert len(out["predictions"]) == len(tiny_test) == len(out["ground_truth"])
    # the ground truth it builds is the dataset's own COCO export
    ref = voc_to_coco(tiny_root, "test")
    np.testing.assert_allclose([a["bbox"] for a in out["coco_gt"]["annotations"]], [a["bbox"] for a in ref["annotations"]])
    # perfect predictions score 1
    perfect = [{"boxes": g["boxes"], "labels": g["labels"], "scores": np.ones(len(g["labels"]))} for g in out["ground_truth"]]
    from helpers.metrics import coco_evaluate

    assert coco_evaluate(out["coco_gt"], detection.detections_to_coco(perfect))["AP"] == pytest.approx(1.0)


def test_confusion_matrix_counts_hits_confusions_alarms_and_misses():
    gts = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 60]], float), "labels": np.array([1, 2, 3])}]
    preds = [{"boxes": np.array([[0, 0, 10, 10], [21, 21, 40, 40], [70, 70, 80, 80], [0, 0, 10, 11]], float),
              "labels": np.array([1, 3, 2, 1]), "scores": np.array([0.9, 0.8, 0.7, 0.2])}]
    cm = detection_eval.confusion_matrix(gts, preds, num_classes=3, score_threshold=0.5)
    expected = np.zeros((4, 4), int)
    expected[1, 1] = 1  # found
    expected[2, 3] = 1  # right place, wrong class
    expected[0, 2] = 1  # false alarm
    expected[3, 0] = 1  # missed (the 0.2 prediction is under the threshold)
    np.testing.assert_array_equal(cm, expected)
    verdict = detection_eval.image_outcomes(gts, preds)[0]
    assert verdict == {"correct": 1, "wrong_class": 1, "false_alarms": 1, "missed": 1, "verdict": "missed"}
    with pytest.raises(ValueError, match="outside 1..3"):
        detection_eval.confusion_matrix(gts, [{**preds[0], "labels": np.array([1, 9, 2, 1])}], num_classes=3)
    empty = [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)}]
    assert detection_eval.confusion_matrix(empty, empty, 3).sum() == 0


# ------------------------------------------------------------------ export
def test_onnx_export_matches_pytorch(tmp_path, tiny_test):
    export = pytest.importorskip("helpers.export")
    pytest.importorskip("onnxruntime")
    model = _model(seed=5).eval()
    path = export.export_onnx(model, tmp_path / "m.onnx", image_size=128)
    session = export.onnx_session(path)
    for img in (tiny_test[0][0], torch.rand(3, 112, 144, generator=torch.Generator().manual_seed(0))):
        ours = detection.predict(model, [img])[0]
        theirs = export.onnx_predict(session, img)
        cmp = export.compare_outputs(ours, theirs, score_threshold=0.0)
        assert cmp["n_torch"] > 0 and cmp["matched"], cmp
        assert cmp["max_box_diff"] < 1e-2 and cmp["max_score_diff"] < 1e-4
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        export.onnx_predict(session, np.zeros((1, 3, 8, 8), np.float32))


def test_committed_shapes_checkpoint_builds_the_notebook_model():
    if not detection.SHAPES_BACKBONE.is_file():
        pytest.skip("no committed checkpoint (run tools/pretrain_backbone.py)")
    parts, meta = detection.load_backbone_state()  # weights_only=True: plain tensors and strings only
    assert set(parts) == {"features", "fpn", "rpn"} and meta["iterations"] > 0
    assert detection.SHAPES_BACKBONE.stat().st_size < 20 * 2**20
    model = detection.build_detector(FRCNN, 5, weights="shapes", image_size=128, box_head_size=64)
    assert torch.equal(model.rpn.head.cls_logits.weight, parts["rpn"]["head.cls_logits.weight"])
    assert detection.default_weights(online=False)[0] == "shapes"


# ------------------------------------------------------------------ untrusted checkpoints (issue 15)
class _Exploit:
    """Unpickling this calls ``exec``: what a malicious checkpoint does to torch.load(weights_only=False)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, tiny_train):
    marker = tmp_path / "pwned.txt"
    model = _model()
    evil = tmp_path / "evil.pt"
    torch.save({"model": model.state_dict(), "recipe": model.build_recipe, "iteration": 1, "history": {},
                "payload": _Exploit(marker)}, evil)
    try:
        detection.load_checkpoint(evil)
    except ValueError as err:
        message = str(err)
    else:
        message = "(loaded without an error)"
    assert not marker.exists(), "loading the checkpoint ran code from it"
    assert re.search("refused.*exec.*nothing in the file was run", message) and str(evil) in message, message
    with pytest.raises(ValueError, match="refused"):  # resuming finds the file and loads it
        train.train_detector(model, tiny_train, iterations=2, batch_size=2, checkpoint=evil, progress=False)
    bb = tmp_path / "evil_backbone.pt"
    torch.save({"features": _Exploit(marker)}, bb)
    with pytest.raises(ValueError, match="refused"):
        detection.build_detector(FRCNN, 5, weights=bb, image_size=128)
    assert not marker.exists()


def test_truncated_or_foreign_checkpoint_names_the_file(tmp_path):
    good = detection.save_checkpoint(tmp_path / "good.pt", _model())
    data = good.read_bytes()
    for name, content in (("truncated.pt", data[: len(data) // 2]), ("notes.pt", b"just some text\n"),
                          ("empty.pt", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match="truncated, corrupted or not a checkpoint") as err:
            detection.load_checkpoint(path)
        assert str(path) in str(err.value) and isinstance(err.value, detection.CheckpointError)
        assert "PytorchStreamReader" not in str(err.value)


def test_checkpoint_for_another_model_says_what_differs(tmp_path):
    path = detection.save_checkpoint(tmp_path / "three.pt", detection.build_detector(FRCNN, 3, **SMALL))
    with pytest.raises(ValueError, match="has 3 classes, the model 5") as err:
        detection.load_checkpoint(path, _model())
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="is a fasterrcnn_mobilenet_v3_large_320_fpn model"):
        detection.load_checkpoint(path, detection.build_detector("ssdlite320_mobilenet_v3_large", 3))
    bare = _model()  # no recipe to compare: the weights' shapes tell
    del bare.build_recipe
    with pytest.raises(ValueError, match=r"three.pt: its weights do not fit this model: size mismatch"):
        detection.load_checkpoint(path, bare)


def test_checkpoint_with_an_unknown_model_name_lists_the_valid_ones(tmp_path):
    model = _model()
    path = tmp_path / "yolo.pt"
    torch.save({"model": model.state_dict(), "recipe": {**model.build_recipe, "name": "yolov8"}}, path)
    with pytest.raises(ValueError, match="unknown model 'yolov8'; valid names: fasterrcnn_mobilenet"):
        detection.load_checkpoint(path)
    torch.save({"model": model.state_dict(), "recipe": {**model.build_recipe, "num_classes": "5"}}, path)
    with pytest.raises(ValueError, match="invalid build recipe: num_classes"):
        detection.load_checkpoint(path)


def test_resume_needs_training_state(tmp_path, tiny_train):
    path = detection.save_checkpoint(tmp_path / "weights_only.pt", _model())  # no iteration/history
    with pytest.raises(ValueError, match="no training state.*resume=False"):
        train.train_detector(_model(), tiny_train, iterations=2, batch_size=2, checkpoint=path, progress=False)


def test_committed_checkpoint_digest_is_checked(tmp_path, monkeypatch):
    import hashlib
    import shutil

    source = detection.SHAPES_BACKBONE
    if not source.is_file():
        pytest.skip("no committed checkpoint")
    record = source.with_name(source.name + ".sha256")
    assert record.is_file(), "the committed checkpoint's SHA-256 record is missing"
    assert record.read_text().split()[0] == hashlib.sha256(source.read_bytes()).hexdigest()
    copy = tmp_path / source.name  # a copy with 64 flipped bytes, its record beside it
    data = bytearray(source.read_bytes())
    middle = slice(len(data) // 2, len(data) // 2 + 64)
    data[middle] = bytes(b ^ 0xFF for b in data[middle])
    copy.write_bytes(bytes(data))
    shutil.copy(record, tmp_path / record.name)
    monkeypatch.setattr(detection, "SHAPES_BACKBONE", copy)
    with pytest.raises(ValueError, match="SHA-256 mismatch.*tools/pretrain_backbone.py") as err:
        detection.build_detector(FRCNN, 5, weights="shapes", image_size=128)
    assert str(copy) in str(err.value)
    (tmp_path / record.name).unlink()
    with pytest.raises(ValueError, match="record .*sha256 is missing"):
        detection.load_backbone_state(copy)


def test_pretrain_tool_writes_the_digest_it_is_checked_against(tmp_path):
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("pretrain_backbone", Path(__file__).resolve().parents[1] / "tools" / "pretrain_backbone.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pretrain_backbone", tool)
    spec.loader.exec_module(tool)
    out = tool.save_backbone(_model(seed=6), {"task": "test"}, tmp_path / "shapes.pt")
    assert detection.digest_path(out).is_file()
    parts, meta = detection.load_backbone_state(out)  # checked against the record: passes
    assert set(parts) == {"features", "fpn", "rpn"} and meta == {"task": "test"}
    out.write_bytes(out.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        detection.load_backbone_state(out)


def test_every_torch_load_in_the_project_is_weights_only():
    """helpers, tools, benchmarks, tests and notebook code: ``torch.load`` only with ``weights_only=True``."""
    import ast
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parents[1]
    sources = {p: p.read_text() for d in ("helpers", "tools", "benchmarks", "tests") for p in (root / d).rglob("*.py")}
    for nb in (root / "notebooks").glob("*.ipynb"):
        cells = nbformat.read(nb, as_version=4).cells
        def python(line):  # IPython magics and shell lines become `pass` at the same indentation
            code = line.lstrip()
            return line[: len(line) - len(code)] + "pass" if code.startswith(("%", "!")) else line

        sources[nb] = "\n".join("\n".join(map(python, c.source.splitlines())) for c in cells if c.cell_type == "code")
    calls, unsafe = 0, []
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                calls += 1
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                    unsafe.append(f"{path.relative_to(root)}:{node.lineno}")
    assert calls >= 1 and not unsafe, f"torch.load without weights_only=True: {unsafe}"
