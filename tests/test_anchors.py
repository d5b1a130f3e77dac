"""helpers.anchors against torchvision's AnchorGenerator / DefaultBoxGenerator and the papers."""

import math

import numpy as np
import pytest

from helpers import anchors as ha

torch = pytest.importorskip("torch")
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator  # noqa: E402
from torchvision.models.detection.image_list import ImageList  # noqa: E402


def torchvision_anchors(image_hw, feature_hw, sizes, ratios):
    gen = AnchorGenerator(sizes=(tuple(sizes),), aspect_ratios=(tuple(ratios),))
    images = ImageList(torch.zeros(1, 3, *image_hw), [tuple(image_hw)])
    return gen(images, [torch.zeros(1, 1, *feature_hw)])[0].numpy()


@pytest.mark.parametrize("image_hw, feature_hw, sizes, ratios", [
    ((800, 800), (50, 50), (128, 256, 512), (0.5, 1.0, 2.0)),
    ((600, 1000), (38, 63), (128, 256, 512), (0.5, 1.0, 2.0)),
    ((256, 320), (16, 20), (32, 45.5), (0.25, 1.0, 3.0, 1.7)),
])
def test_grid_anchors_equal_torchvision_anchor_generator(image_hw, feature_hw, sizes, ratios):
    stride = (image_hw[0] // feature_hw[0], image_hw[1] // feature_hw[1])
    ours = ha.grid_anchors(feature_hw, stride, sizes, ratios)
    ref = torchvision_anchors(image_hw, feature_hw, sizes, ratios)
    k = len(sizes) * len(ratios)
    assert ours.shape == (feature_hw[0] * feature_hw[1] * k, 4) == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_grid_anchors_have_the_faster_rcnn_shapes():
    a = ha.grid_anchors(2, 16, rounded=False, offset=0.5)
    assert a.shape == (2 * 2 * 9, 4)
    w, h = a[:9, 2] - a[:9, 0], a[:9, 3] - a[:9, 1]
    np.testing.assert_allclose(w * h, np.tile([128.0**2, 256.0**2, 512.0**2], 3), rtol=1e-6)
    np.testing.assert_allclose(h / w, np.repeat([0.5, 1.0, 2.0], 3), rtol=1e-6)
    np.testing.assert_allclose((a[:9, :2] + a[:9, 2:]) / 2, 8.0)           # cell (0, 0) centre
    np.testing.assert_allclose((a[9:18, :2] + a[9:18, 2:]) / 2, [[24.0, 8.0]] * 9)  # cell (0, 1)


def ssd_reference(feature_sizes, aspect_ratios, image_size=300, **kw):
    gen = DefaultBoxGenerator([list(r) for r in aspect_ratios], **kw)
    images = ImageList(torch.zeros(1, 3, image_size, image_size), [(image_size, image_size)])
    maps = [torch.zeros(1, 1, f, f) for f in feature_sizes]
    return gen(images, maps)[0].numpy()


def test_ssd300_paper_config_gives_8732_boxes_equal_to_torchvision():
    ours = ha.ssd_default_boxes()
    assert ours.shape == (8732, 4)
    assert ha.ssd_boxes_per_location() == [4, 6, 6, 6, 4, 4]
    assert sum(f * f * n for f, n in zip(ha.SSD300_FEATURE_SIZES, ha.ssd_boxes_per_location(), strict=True)) == 8732
    ref = ssd_reference(ha.SSD300_FEATURE_SIZES, ha.SSD300_ASPECT_RATIOS, min_ratio=0.2, max_ratio=0.9)
    np.testing.assert_array_equal(ours, ref)


def test_ssd300_torchvision_vgg16_config():
    scales = [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]
    steps = [8, 16, 32, 64, 100, 300]
    ours = ha.ssd_default_boxes(scales=scales, steps=steps)
    ref = ssd_reference(ha.SSD300_FEATURE_SIZES, ha.SSD300_ASPECT_RATIOS, scales=scales, steps=steps)
    assert ours.shape == (8732, 4)
    np.testing.assert_array_equal(ours, ref)


def test_ssd_scales_follow_the_paper_formula():
    s = ha.ssd_scales(6, 0.2, 0.9)
    np.testing.assert_allclose(s[:6], [0.2 + 0.7 * (k - 1) / 5 for k in range(1, 7)])
    assert s[6] == 1.0
    boxes = ha.ssd_default_boxes(clip=False)
    first = boxes[:4] / 300  # cell (0, 0) of the 38x38 map
    w, h = first[:, 2] - first[:, 0], first[:, 3] - first[:, 1]
    np.testing.assert_allclose(w, [0.2, math.sqrt(0.2 * 0.34), 0.2 * math.sqrt(2), 0.2 / math.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(w * h, [0.04, 0.2 * 0.34, 0.04, 0.04], rtol=1e-6)
    np.testing.assert_allclose((first[:, 0] + first[:, 2]) / 2, 0.5 / 38, rtol=1e-5)


def test_kmeans_recovers_planted_shapes_and_beats_a_bad_guess():
    rng = np.random.default_rng(1)
    planted = np.array([[10, 12], [40, 25], [30, 80], [120, 100]], dtype=float)
    wh = np.concatenate([p * np.exp(rng.normal(0, 0.05, (200, 2))) for p in planted])
    clusters, miou = ha.kmeans_anchors(wh, 4, seed=0)
    assert clusters.shape == (4, 2)
    np.testing.assert_allclose(clusters, planted, rtol=0.05)
    assert miou == pytest.approx(ha.mean_best_iou(wh, clusters))
    assert miou > 0.9 > ha.mean_best_iou(wh, [[50, 50], [60, 60], [70, 70], [80, 80]])
    again, miou2 = ha.kmeans_anchors(wh, 4, seed=0)
    np.testing.assert_array_equal(again, clusters)
    assert miou2 == miou


def test_kmeans_is_a_local_optimum_of_the_iou_objective():
    rng = np.random.default_rng(2)
    wh = rng.lognormal(3, 0.7, (500, 2))
    clusters, miou = ha.kmeans_anchors(wh, 5, seed=3)
    # more clusters never fit worse, and k = N reproduces every box exactly
    _, miou9 = ha.kmeans_anchors(wh, 9, seed=3)
    assert miou9 >= miou
    small = wh[:6]
    _, exact = ha.kmeans_anchors(small, 6, seed=0)
    assert exact == pytest.approx(1.0)


def test_wh_iou_matches_box_iou_of_centred_boxes():
    from helpers.boxes import box_iou
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1, 50, (7, 2)), rng.uniform(1, 50, (5, 2))
    centred = lambda wh: np.concatenate([-wh / 2, wh / 2], axis=1)  # noqa: E731
    np.testing.assert_allclose(ha.wh_iou(a, b), box_iou(centred(a), centred(b)), rtol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        ha.grid_anchors(0, 16)
    with pytest.raises(ValueError, match="ratios"):
        ha.grid_anchors(4, 16, ratios=(0.5, -1))
    with pytest.raises(ValueError, match="one aspect-ratio list"):
        ha.ssd_default_boxes(feature_sizes=(38, 19))
    with pytest.raises(ValueError, match="scales"):
        ha.ssd_default_boxes(scales=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        ha.kmeans_anchors(np.ones((5, 4)), 2)
    with pytest.raises(ValueError, match="positive"):
        ha.kmeans_anchors([[1, 2], [0, 3]], 1)
    with pytest.raises(ValueError, match="distinct"):
        ha.kmeans_anchors([[1, 2], [1, 2]], 2)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ha.ssd_default_boxes(steps=[8, 16, 0, 64, 100, 300]), ValueError, "steps"),  # ZeroDivisionError before
        (lambda: ha.ssd_default_boxes(scales=[0.07, -0.15, 0.33, 0.51, 0.69, 0.87, 1.05]), ValueError, "scales"),
        (lambda: ha.ssd_default_boxes(aspect_ratios=((2,), ("2",), (2,), (2,), (2,), (2,))), TypeError, r"aspect_ratios\[1\]"),
        (lambda: ha.ssd_default_boxes(aspect_ratios=((2,), (-2,), (2,), (2,), (2,), (2,))), ValueError, r"aspect_ratios\[1\]"),
        (lambda: ha.ssd_scales(3, s_min="0.2"), TypeError, "s_min"),
        (lambda: ha.ssd_scales(True), TypeError, "num_maps"),
        (lambda: ha.grid_anchors(4, 16, scales="abc"), TypeError, "scales"),
        (lambda: ha.grid_anchors(4, 16, offset=float("nan")), ValueError, "offset"),
        (lambda: ha.kmeans_anchors([[1, 2], [3, 4]], 2.5), TypeError, "k must be an int"),
        (lambda: ha.kmeans_anchors([[1, 2], [3, 4]], 1, max_iter="9"), TypeError, "max_iter"),
    ],
)
def test_generator_arguments_are_checked_naming_them(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cell_anchor_rows_matches_enumerating_the_layout():
    shapes, per_cell = [(4, 6), 3, (2, 1)], [2, 5, 3]
    order = [(level, r, c, a) for level, (s, k) in enumerate(zip(shapes, per_cell, strict=True))
             for r in range(s[0] if isinstance(s, tuple) else s)
             for c in range(s[1] if isinstance(s, tuple) else s) for a in range(k)]
    for level, r, c in {(lv, r, c) for lv, r, c, _ in order}:
        rows = ha.cell_anchor_rows(shapes, per_cell, level, r, c)
        assert [order[i] for i in range(rows.start, rows.stop)] == [(level, r, c, a) for a in range(per_cell[level])]


def test_cell_anchor_rows_finds_a_cells_boxes_in_ssd_default_boxes():
    boxes = ha.ssd_default_boxes()  # SSD300: maps 38, 19, 10, 5, 3, 1 with 4, 6, 6, 6, 4, 4 boxes
    per_cell = ha.ssd_boxes_per_location()
    for level, size in enumerate(ha.SSD300_FEATURE_SIZES):
        row, col = size // 2, size - 1
        cell = boxes[ha.cell_anchor_rows(ha.SSD300_FEATURE_SIZES, per_cell, level, row, col)]
        centres = (cell[:, :2] + cell[:, 2:]) / 2  # unclipped centre of the cell, (x, y)
        assert cell.shape == (per_cell[level], 4)
        assert np.allclose(centres[:, 1], (row + 0.5) / size * 300, atol=0.5 * 300 / size)


@pytest.mark.parametrize("args, error", [
    (([(2, 2)], [3], 1, 0, 0), ValueError),   # no map 1
    (([(2, 2)], [3], 0, 2, 0), ValueError),   # row outside
    (([(2, 2)], [3], 0, 0, -1), ValueError),  # negative column
    (([(2, 2), 1], [3], 0, 0, 0), ValueError),  # lengths differ
    (([(2, 2)], [3], 0, 0.5, 0), TypeError),  # not an int
])
def test_cell_anchor_rows_rejects_bad_cells(args, error):
    with pytest.raises(error):
        ha.cell_anchor_rows(*args)
