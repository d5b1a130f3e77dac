"""helpers.ssd (targets, SSD loss, TinySSD training, detection) and helpers.shapes."""

from types import SimpleNamespace

import numpy as np
import pytest

from helpers import anchors as ha
from helpers import shapes
from helpers.boxes import box_iou

torch = pytest.importorskip("torch")
from torchvision.models.detection._utils import BoxCoder, SSDMatcher  # noqa: E402
from torchvision.models.detection.ssd import SSD  # noqa: E402

from helpers import ssd  # noqa: E402


def random_problem(seed, batch=3, num_classes=4, empty_image=False):
    rng = np.random.default_rng(seed)
    anchors = ha.ssd_default_boxes((8, 4, 2), ((2,), (2, 3), (2,)), scales=(0.1, 0.3, 0.6, 0.9), image_size=128)
    targets = []
    for i in range(batch):
        k = 0 if (empty_image and i == 1) else int(rng.integers(1, 5))
        c = rng.uniform(10, 118, (k, 2))
        s = rng.uniform(8, 70, (k, 2))
        targets.append({"boxes": np.concatenate([c - s / 2, c + s / 2], 1),
                        "labels": rng.integers(1, num_classes + 1, k)})
    logits = torch.from_numpy(rng.normal(0, 2, (batch, len(anchors), num_classes + 1)))
    regression = torch.from_numpy(rng.normal(0, 1, (batch, len(anchors), 4)))
    return anchors, targets, logits, regression


def torchvision_loss(anchors, targets, logits, regression):
    """torchvision's SSD.compute_loss (its own code, with its box coder and 3:1 ratio) on the same inputs."""
    a = torch.from_numpy(anchors)
    tv_targets, matched = [], []
    for t in targets:
        boxes = torch.from_numpy(t["boxes"]).reshape(-1, 4)
        tv_targets.append({"boxes": boxes, "labels": torch.from_numpy(t["labels"]).long()})
        if boxes.numel() == 0:  # what SSD.forward does for an image without objects
            matched.append(torch.full((len(a),), -1, dtype=torch.int64))
        else:
            matched.append(SSDMatcher(0.5)(box_iou_t(boxes, a)))
    owner = SimpleNamespace(box_coder=BoxCoder(weights=(10.0, 10.0, 5.0, 5.0)), neg_to_pos_ratio=3.0)
    return SSD.compute_loss(owner, tv_targets, {"cls_logits": logits, "bbox_regression": regression},
                            [a] * len(targets), matched)


def box_iou_t(a, b):
    from torchvision.ops import box_iou as tv_box_iou

    return tv_box_iou(a, b)


@pytest.mark.parametrize("seed", range(6))
def test_ssd_loss_equals_torchvision_compute_loss(seed):
    anchors, targets, logits, regression = random_problem(seed, empty_image=seed % 2 == 1)
    labels, offsets, _ = ssd.ssd_targets(anchors, targets, dtype=np.float64)
    ours = ssd.ssd_loss(logits, regression, labels, offsets)
    ref = torchvision_loss(anchors, targets, logits, regression)
    for key in ("classification", "bbox_regression"):
        np.testing.assert_allclose(ours[key].item(), ref[key].item(), rtol=1e-10, err_msg=key)


def test_ssd_targets_match_torchvision_matcher_and_coder():
    anchors, targets, _, _ = random_problem(7)
    labels, offsets, matched = ssd.ssd_targets(anchors, targets)
    coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    for i, t in enumerate(targets):
        ref = SSDMatcher(0.5)(torch.from_numpy(box_iou(t["boxes"], anchors))).numpy()
        np.testing.assert_array_equal(matched[i], ref)
        fg = ref >= 0
        np.testing.assert_array_equal(labels[i, fg], t["labels"][ref[fg]])
        assert (labels[i, ~fg] == 0).all() and (offsets[i, ~fg] == 0).all()
        enc = coder.encode_single(torch.from_numpy(t["boxes"][ref[fg]]), torch.from_numpy(anchors[fg])).numpy()
        np.testing.assert_allclose(offsets[i, fg], enc, rtol=1e-5, atol=1e-5)


def test_hard_negative_mask_picks_the_highest_loss_negatives():
    loss = torch.tensor([[5.0, 0.1, 0.9, 0.3, 0.8, 0.2, 0.7], [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0]])
    labels = torch.tensor([[1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]])
    mask = ssd.hard_negative_mask(loss, labels, 3.0)
    assert mask[0].nonzero().flatten().tolist() == [2, 4, 6]  # 3 x 1 positive, never the positive itself
    assert not mask[1].any()  # no positive, no negative
    many = ssd.hard_negative_mask(loss, torch.tensor([[1, 1, 0, 0, 0, 0, 0]] * 2), 3.0)
    assert many.sum(1).tolist() == [5, 5]  # capped at the negatives there are


def test_ssd_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        ssd.ssd_loss(torch.zeros(2, 10, 4), torch.zeros(2, 10, 4), np.zeros((2, 9), np.int64), np.zeros((2, 9, 4)))


def test_training_a_few_iterations_reduces_the_loss():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only spin on a busy machine
    images, targets = shapes.make_split(16, seed=5, image_size=64)
    torch.manual_seed(0)
    model = ssd.TinySSD(len(shapes.CLASSES), image_size=64, width=16)
    labels, offsets, _ = ssd.ssd_targets(model.anchors, targets)

    def total_loss():
        model.eval()
        with torch.no_grad():
            out = ssd.ssd_loss(*model(ssd.to_tensor(images)), labels, offsets)
        return float(out["classification"] + out["bbox_regression"])

    before = total_loss()
    history = ssd.train_ssd(model, images, targets, iterations=25, batch_size=16, lr=1e-2, warmup=5,
                            flip=False, progress=False)
    assert history["iterations"] == 25 and len(history["loss"]) == 25 and history["seconds"] > 0
    after = total_loss()
    torch.set_num_threads(threads)
    assert after < 0.6 * before, (before, after)


def test_detect_returns_clipped_boxes_sorted_per_image():
    images, _ = shapes.make_split(3, seed=6, image_size=64)
    torch.manual_seed(0)
    model = ssd.TinySSD(3, image_size=64, width=8)
    dets = ssd.detect(model, images, score_threshold=0.2, max_detections=10)
    assert len(dets) == 3
    for d in dets:
        assert d["boxes"].shape == (len(d["scores"]), 4) and len(d["labels"]) == len(d["scores"]) <= 10
        assert (d["boxes"] >= 0).all() and (d["boxes"] <= 64).all()
        assert set(d["labels"].tolist()) <= {1, 2, 3} and (d["scores"] > 0.2).all()


def test_tiny_ssd_anchor_count_and_output_shapes():
    model = ssd.TinySSD(3)
    assert model.feature_sizes == (12, 6, 3) and len(model.anchors) == (144 + 36 + 9) * 4
    cls, box = model(torch.zeros(2, 3, 96, 96))
    assert cls.shape == (2, 756, 4) and box.shape == (2, 756, 4)
    with pytest.raises(ValueError, match="multiple of 32"):
        ssd.TinySSD(3, image_size=100)


def test_shapes_are_deterministic_and_splits_differ():
    a, ta = shapes.make_split(4, seed=0)
    b, tb = shapes.make_split(4, seed=0)
    c, _ = shapes.make_split(4, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for t, u in zip(ta, tb, strict=True):
        np.testing.assert_array_equal(t["boxes"], u["boxes"])
    _, many = shapes.make_split(50, seed=2)
    for t in many:
        bx = t["boxes"]
        assert 1 <= len(bx) <= 4 and (bx >= 0).all() and (bx <= 96).all() and (bx[:, 2:] > bx[:, :2]).all()
        assert set(t["labels"].tolist()) <= {1, 2, 3}
        iou = box_iou(bx, bx) - np.eye(len(bx))
        assert iou.max() < 0.1 + 1e-9
    with pytest.raises(ValueError, match="n must"):
        shapes.make_split(-1, seed=0)
