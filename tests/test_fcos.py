"""helpers.fcos against torchvision's FCOS: the matching of FCOS.compute_loss and the
centerness targets of FCOSHead.compute_loss, and against the paper's formula."""

from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest

from helpers import fcos

torch = pytest.importorskip("torch")
from torchvision.models.detection.anchor_utils import AnchorGenerator  # noqa: E402
from torchvision.models.detection.fcos import FCOS, FCOSHead  # noqa: E402
from torchvision.models.detection.image_list import ImageList  # noqa: E402

STRIDES = (8, 16, 32)


def tv_anchors(image_size, strides=STRIDES):
    gen = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
    feats = [torch.zeros(1, 1, image_size // s, image_size // s) for s in strides]
    return gen(ImageList(torch.zeros(1, 3, image_size, image_size), [(image_size, image_size)]), feats)[0], feats


def tv_matching(boxes, image_size, strides=STRIDES, radius=1.5):
    anchors, feats = tv_anchors(image_size, strides)
    captured = {}

    def head_loss(targets, head_outputs, anchors, matched_idxs):
        captured["matched"] = matched_idxs[0].numpy()
        return {}

    fake = SimpleNamespace(center_sampling_radius=radius, head=SimpleNamespace(compute_loss=head_loss))
    targets = [{"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.ones(len(boxes), dtype=torch.int64)}]
    FCOS.compute_loss(fake, targets, {}, [anchors], [f.shape[2] * f.shape[3] for f in feats])
    return captured["matched"], anchors


def random_gt(rng, n, image_size, lo=6.0, hi=None):
    hi = hi or image_size * 0.9
    for _ in range(100):
        wh = np.exp(rng.uniform(np.log(lo), np.log(hi), (n, 2)))
        xy = rng.uniform(0, 1, (n, 2)) * (image_size - wh)
        b = np.round(np.concatenate([xy, xy + wh], 1), 1).astype(np.float32).astype(np.float64)
        area = np.sort((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        if n < 2 or np.diff(area).min() > 20:  # torchvision ranks areas in float32 at 1e8: keep them apart
            return b
    raise AssertionError("could not draw boxes of distinct areas")


def test_points_are_torchvision_anchor_centres_with_offset_0():
    anchors, _ = tv_anchors(128)
    a = anchors.numpy()
    pts, strides, levels = fcos.feature_points([128 // s for s in STRIDES], STRIDES, offset=0.0)
    np.testing.assert_array_equal(pts, (a[:, :2] + a[:, 2:]) / 2)
    np.testing.assert_array_equal(strides, a[:, 2] - a[:, 0])
    assert np.bincount(levels).tolist() == [256, 64, 16]
    centred, _, _ = fcos.feature_points([(2, 3)], [8])  # the paper's floor(s/2) + x*s
    assert centred.tolist() == [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]]


def test_level_ranges_are_fcos_bounds():
    r = fcos.level_ranges((8, 16, 32, 64, 128))
    assert r.tolist() == [[0, 64], [64, 128], [128, 256], [256, 512], [512, np.inf]]
    with pytest.raises(ValueError, match="low < high"):
        fcos.level_ranges((8, 16), factors=(4, 4))


@pytest.mark.parametrize("seed", range(12))
def test_assignment_equals_torchvision_fcos_matching(seed):
    rng = np.random.default_rng(seed)
    size = 128
    gt = random_gt(rng, int(rng.integers(1, 7)), size)
    matched_tv, _ = tv_matching(gt, size)
    pts, strides, levels = fcos.feature_points([size // s for s in STRIDES], STRIDES, offset=0.0)
    ours = fcos.assign_points(pts, strides, levels, gt, fcos.level_ranges(STRIDES))
    np.testing.assert_array_equal(ours, matched_tv)
    assert (ours >= 0).any()


def test_assignment_small_hand_case_and_radius():
    # one 40x40 box: at stride 8 its points reach 20 (<= 32 px: level 0 with bounds 0-32, 32-64)
    gt = np.array([[20.0, 20, 60, 60]])
    pts, strides, levels = fcos.feature_points([8, 4], [8, 16])
    ranges = fcos.level_ranges([8, 16])
    matched = fcos.assign_points(pts, strides, levels, gt, ranges, center_radius=1.5)
    pos = pts[matched == 0]
    assert (np.abs(pos - 40).max(axis=1) < 12).all() and len(pos) > 0
    everywhere = fcos.assign_points(pts, strides, levels, gt, ranges, center_radius=None)
    assert (everywhere >= 0).sum() > (matched >= 0).sum()
    matched_tv, _ = tv_matching(gt, 64, strides=(8, 16))
    ours0 = fcos.assign_points(*fcos.feature_points([8, 4], [8, 16], offset=0.0), gt, ranges)
    np.testing.assert_array_equal(ours0, matched_tv)


def test_assignment_overlap_takes_smallest_box_and_empty():
    gt = np.array([[0.0, 0, 64, 64], [8, 8, 40, 40]])
    pts, strides, levels = fcos.feature_points([8], [8])
    m = fcos.assign_points(pts, strides, levels, gt, fcos.level_ranges([8]), center_radius=None)
    inside_small = (pts[:, 0] > 8) & (pts[:, 0] < 40) & (pts[:, 1] > 8) & (pts[:, 1] < 40)
    assert (m[inside_small] == 1).all() and (m[~inside_small] == 0).all()
    assert (fcos.assign_points(pts, strides, levels, np.zeros((0, 4)), fcos.level_ranges([8])) == -1).all()
    with pytest.raises(ValueError, match="one entry per point"):
        fcos.assign_points(pts, strides[:3], levels, gt, fcos.level_ranges([8]))


def test_centerness_paper_formula_and_edges():
    ltrb = np.array([[5.0, 5, 5, 5], [1, 2, 3, 6], [0, 4, 4, 4], [0, 0, 0, 0]])
    expected = [1.0, np.sqrt(1 / 3 * 2 / 6), 0.0, 0.0]
    np.testing.assert_allclose(fcos.centerness(ltrb), expected, rtol=1e-15)
    assert fcos.centerness(np.zeros((0, 4))).shape == (0,)
    with pytest.raises(ValueError, match="negative distance"):
        fcos.centerness([[1.0, -1, 1, 1]])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        fcos.centerness([[1.0, 1, 1]])


@pytest.mark.parametrize("seed", range(5))
def test_centerness_equals_torchvision_fcos_head_targets(seed):
    rng = np.random.default_rng(100 + seed)
    size = 128
    gt = random_gt(rng, 3, size)
    matched_tv, anchors = tv_matching(gt, size)
    head = FCOSHead(in_channels=32, num_anchors=1, num_classes=3, num_convs=1)
    n = len(anchors)
    outputs = {"cls_logits": torch.zeros(1, n, 3), "bbox_regression": torch.zeros(1, n, 4),
               "bbox_ctrness": torch.zeros(1, n, 1)}
    targets = [{"boxes": torch.tensor(gt, dtype=torch.float32), "labels": torch.tensor([0, 1, 2])}]
    seen = []
    real_bce = torch.nn.functional.binary_cross_entropy_with_logits

    def spy(input, target, *args, **kwargs):
        seen.append(target.detach().numpy().copy())
        return real_bce(input, target, *args, **kwargs)

    with mock.patch("torch.nn.functional.binary_cross_entropy_with_logits", spy):
        head.compute_loss(targets, outputs, [anchors], [torch.from_numpy(matched_tv)])
    pts, strides, levels = fcos.feature_points([size // s for s in STRIDES], STRIDES, offset=0.0)
    labels, _, ltrb, ctr, matched = fcos.fcos_targets(pts, strides, levels, gt, [1, 2, 3], fcos.level_ranges(STRIDES))
    fg = matched >= 0
    np.testing.assert_array_equal(matched, matched_tv)
    ctr_tv = seen[-1]  # the focal loss calls it first; the centerness loss last
    assert len(seen) == 2 and ctr_tv.shape == (fg.sum(),)
    np.testing.assert_allclose(ctr[fg], ctr_tv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fcos.centerness(ltrb[fg]), ctr[fg])
    assert (labels[fg] == np.array([1, 2, 3])[matched[fg]]).all() and (labels[~fg] == 0).all()
