"""helpers.compare: arms trained at a fixed budget and scored on val, labels of mixed sets, plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import ConcatDataset, Subset  # noqa: E402

from helpers import compare, detection  # noqa: E402
from helpers.data import CLASSES, VOCDetectionDataset, make_batman_dataset  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("batman")
    make_batman_dataset(root, 8, seed=5, image_size=128, split_fractions=(0.5, 0.25, 0.25))
    return root


def test_labels_of_subsets_and_concatenations_follow_their_indices(root):
    ds = VOCDetectionDataset(root, "train")
    own = [np.asarray(r["labels"]) for r in ds.records]
    mixed = ConcatDataset([Subset(ds, [2, 2, 0]), ds])
    got = compare.dataset_labels(mixed)
    assert len(got) == len(mixed) == 3 + len(ds)
    for a, b in zip(got, [own[2], own[2], own[0], *own], strict=True):
        np.testing.assert_array_equal(a, b)
    counts = compare.objects_per_class(mixed, len(CLASSES))
    expected = np.bincount(np.concatenate([own[2], own[2], own[0], *own]), minlength=6)[1:]
    np.testing.assert_array_equal(counts, expected)
    # the labels really are what the dataset returns for each item
    for i in (0, 3):
        np.testing.assert_array_equal(mixed[i][1]["labels"].numpy(), got[i])
    with pytest.raises(TypeError, match="cannot read labels"):
        compare.dataset_labels([1, 2, 3])
    with pytest.raises(ValueError, match="labels must be in 1..2"):
        compare.objects_per_class(ds, 2)


def test_train_arm_trains_within_budget_and_scores_on_val(root):
    torch.manual_seed(0)
    model = detection.build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 5, image_size=128, box_head_size=32)
    train_ds, val_ds = VOCDetectionDataset(root, "train"), VOCDetectionDataset(root, "val")
    arm = compare.train_arm("tiny", model, train_ds, val_ds, iterations=2, time_budget_s=None, batch_size=2,
                            warmup=1, progress=False)
    assert arm["iterations"] == 2 and arm["stopped_by"] == "iterations" and arm["seconds"] > 0
    assert not arm["model"].training and next(arm["model"].parameters()).device.type == "cpu"
    assert len(arm["val"]["predictions"]) == len(val_ds)
    assert arm["AP50"] == arm["val"]["coco"]["AP50"] and set(arm["AP50_per_class"]) == set(range(1, 6))
    with pytest.raises(ValueError, match="time_budget_s"):
        compare.train_arm("x", model, train_ds, val_ds, iterations=1, time_budget_s=0)
    with pytest.raises(ValueError, match="label"):
        compare.train_arm("", model, train_ds, val_ds, iterations=1, time_budget_s=None)


def test_plots_draw_one_bar_per_arm_and_class_and_one_point_per_detector():
    names = {1: "a", 2: "b", 3: "c"}
    per_class = {"x": {1: 0.5, 2: 0.6, 3: 0.7}, "y": {1: 0.2, 2: 0.3, 3: 0.9}}
    ax = compare.plot_per_class(per_class, names, intervals={"x": {1: (0.4, 0.6), 2: (0.5, 0.7), 3: (0.6, 0.8)}})
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted([0.5, 0.6, 0.7, 0.2, 0.3, 0.9])
    with pytest.raises(ValueError, match="without an AP"):
        compare.plot_per_class({"x": {1: 0.5}}, names)
    with pytest.raises(ValueError, match="empty"):
        compare.plot_per_class({}, names)
    ax = compare.plot_accuracy_latency([{"label": "A", "latency_ms": 10, "AP50": 0.8},
                                        {"label": "B", "latency_ms": 40, "AP50": 0.9, "latency_range": (35, 50)}])
    assert [t.get_text() for t in ax.texts] == ["A", "B"] and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        compare.plot_accuracy_latency([])
