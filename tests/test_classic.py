"""helpers.classic against torchvision.ops (RoI pooling), scikit-image (pyramids) and brute force."""

import math

import numpy as np
import pytest

from helpers import classic

torch = pytest.importorskip("torch")
ops = pytest.importorskip("torchvision.ops")


# ---------------------------------------------------------------- sliding windows
@pytest.mark.parametrize("image, window, stride", [(100, 24, 1), ((480, 640), (24, 24), 4), ((50, 30), (10, 7), (3, 2)),
                                                   ((10, 10), (10, 10), 1), ((9, 10), (10, 10), 1)])
def test_count_windows_matches_brute_force_and_sliding_windows(image, window, stride):
    H, W = classic._pair(image, "i")
    h, w = classic._pair(window, "w")
    sy, sx = classic._pair(stride, "s")
    brute = sum(1 for y in range(0, H, sy) for x in range(0, W, sx) if y + h <= H and x + w <= W)
    assert classic.count_windows(image, window, stride) == brute
    boxes = classic.sliding_windows(image, window, stride)
    assert len(boxes) == brute
    if brute:
        assert boxes[:, 2].max() <= W and boxes[:, 3].max() <= H and (boxes[:, :2] >= 0).all()
        np.testing.assert_array_equal(boxes[:, 2] - boxes[:, 0], w)


def test_pyramid_shapes_match_skimage_pyramid_gaussian():
    transform = pytest.importorskip("skimage.transform")
    image = np.zeros((123, 200))
    ours = classic.pyramid_shapes(image.shape, downscale=1.5)
    theirs = [level.shape for level in transform.pyramid_gaussian(image, downscale=1.5)]
    assert ours == theirs  # skimage stops when ceil(size / downscale) no longer shrinks
    assert classic.pyramid_shapes((100, 100), 2, min_size=24) == [(100, 100), (50, 50), (25, 25)]


def test_pyramid_window_counts_sum_levels():
    levels = classic.pyramid_window_counts((100, 100), 24, stride=1, downscale=2)
    assert [d["windows"] for d in levels] == [77 * 77, 27 * 27, 2 * 2]
    assert [d["scale"] for d in levels] == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("bad", [0, -3, (0, 5), "ab", None])
def test_bad_sizes_raise(bad):
    with pytest.raises((ValueError, TypeError)):
        classic.count_windows(bad, 3)
    with pytest.raises(ValueError, match="downscale"):
        classic.pyramid_shapes((10, 10), downscale=1.0)


# ---------------------------------------------------------------- RoI pooling
def _tv(fn, features, rois, **kw):
    f = torch.from_numpy(np.asarray(features, dtype=np.float64))[None]
    r = torch.from_numpy(np.hstack([np.zeros((len(rois), 1)), rois]))
    return fn(f, r, **kw).numpy()


def test_roi_pool_classic_5x7_to_2x2_example():
    # 8x8 map, region x 0..6 (7 cells wide), y 3..7 (5 cells high) -> 2x2 bins. The textbook picture splits
    # it into 2x3, 2x4, 3x3 and 3x4 cells; torchvision's floor/ceil edges make every bin 3x4, overlapping by a cell.
    rng = np.random.default_rng(0)
    features = rng.random((1, 8, 8))
    roi = np.array([[0.0, 3.0, 6.0, 7.0]])
    bins = classic.roi_pool_bins(roi[0], 2)
    sizes = [[(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in row] for row in bins]
    assert sizes == [[(3, 4), (3, 4)], [(3, 4), (3, 4)]]  # rows [3, 6) and [5, 8); cols [0, 4) and [3, 7)
    assert bins[1][1] == (slice(5, 8), slice(3, 7))
    ours = classic.roi_pool(features, roi, 2)
    np.testing.assert_allclose(ours, _tv(ops.roi_pool, features, roi, output_size=2, spatial_scale=1.0))
    for i in range(2):
        for j in range(2):
            rows, cols = bins[i][j]
            assert ours[0, 0, i, j] == features[0, rows, cols].max()


@pytest.mark.parametrize("scale, out", [(1.0, 2), (0.5, (3, 2)), (1 / 16, 7), (0.25, (1, 4))])
def test_roi_pool_matches_torchvision_on_random_boxes(rng, scale, out):
    features = rng.normal(size=(3, 13, 17))
    xy = rng.uniform(-10, 17 / scale + 10, size=(40, 2, 2))
    rois = np.hstack([xy.min(1), xy.max(1)])  # x1 <= x2, y1 <= y2, some outside the map
    rois = rois[:, [0, 1, 2, 3]]
    rois[:5, 2:] = rois[:5, :2]  # degenerate (zero-size) boxes
    np.testing.assert_allclose(classic.roi_pool(features, rois, out, scale),
                               _tv(ops.roi_pool, features, rois, output_size=out, spatial_scale=scale), rtol=0, atol=1e-12)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_roi_align_matches_torchvision(rng, aligned, sampling_ratio):
    features = rng.normal(size=(2, 11, 9))
    xy = rng.uniform(-6, 40, size=(25, 2, 2))
    rois = np.hstack([xy.min(1), xy.max(1)])
    rois[:3, 2:] = rois[:3, :2]
    kw = dict(output_size=(3, 2), spatial_scale=0.25, sampling_ratio=sampling_ratio, aligned=aligned)
    np.testing.assert_allclose(classic.roi_align(features, rois, **kw), _tv(ops.roi_align, features, rois, **kw),
                               rtol=1e-10, atol=1e-12)


def test_roi_pool_rejects_bad_input():
    with pytest.raises(ValueError, match="features"):
        classic.roi_pool(np.zeros((1, 2, 3, 4)), [[0, 0, 1, 1]], 2)
    with pytest.raises(ValueError, match="rois"):
        classic.roi_pool(np.zeros((1, 4, 4)), [[0, 0, 1]], 2)
    with pytest.raises(ValueError, match="NaN"):
        classic.roi_align(np.zeros((1, 4, 4)), [[0, 0, np.nan, 1]], 2)
    with pytest.raises(ValueError, match="spatial_scale"):
        classic.roi_pool(np.zeros((1, 4, 4)), [[0, 0, 1, 1]], 2, spatial_scale=0)
    assert classic.roi_pool(np.zeros((1, 4, 4)), np.zeros((0, 4)), 2).shape == (0, 1, 2, 2)


# ---------------------------------------------------------------- hard negative mining
def _torchvision_style_mining(losses, positive, ratio):
    """The mining of torchvision.models.detection.ssd.SSD.compute_loss, for one batch."""
    loss = torch.from_numpy(losses.copy())
    fg = torch.from_numpy(positive)
    num_negative = ratio * fg.sum(1, keepdim=True)
    negative_loss = loss.clone()
    negative_loss[fg] = -float("inf")
    _, idx = negative_loss.sort(1, descending=True)
    return (idx.sort(1)[1] < num_negative).numpy()


def test_hard_negative_mining_matches_torchvision_ssd(rng):
    losses = rng.random((4, 500))
    positive = rng.random((4, 500)) < 0.03
    ours = classic.hard_negative_mining(losses, positive, 3)
    np.testing.assert_array_equal(ours, _torchvision_style_mining(losses, positive, 3))
    np.testing.assert_array_equal(ours.sum(1), 3 * positive.sum(1))
    assert not (ours & positive).any()


def test_hard_negative_mining_edges():
    losses = np.array([0.5, 0.9, 0.9, 0.1, 0.3])
    positive = np.array([True, False, False, False, False])
    np.testing.assert_array_equal(classic.hard_negative_mining(losses, positive, 1), [0, 1, 0, 0, 0])  # tie: lower index
    np.testing.assert_array_equal(classic.hard_negative_mining(losses, positive, 10), ~positive)  # capped at #negatives
    assert not classic.hard_negative_mining(losses, np.zeros(5, bool)).any()  # no positive -> no negative
    with pytest.raises(TypeError, match="boolean"):
        classic.hard_negative_mining(losses, positive.astype(int))
    with pytest.raises(ValueError, match="shape"):
        classic.hard_negative_mining(losses, positive[:3])
    with pytest.raises(ValueError, match="NaN"):
        classic.hard_negative_mining(np.full(5, np.nan), positive)


# ---------------------------------------------------------------- depthwise separable cost
@pytest.mark.parametrize("size, cin, cout, k, stride", [(14, 32, 64, 3, 1), ((15, 9), 8, 16, 3, 2), (7, 512, 1024, 5, 1)])
def test_conv_mac_formulas_match_torch_flop_counter(size, cin, cout, k, stride):
    from torch.utils.flop_counter import FlopCounterMode

    h, w = classic._pair(size, "s")
    x = torch.zeros(1, cin, h, w)
    standard = torch.nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False)
    depthwise = torch.nn.Conv2d(cin, cin, k, stride, padding=k // 2, groups=cin, bias=False)
    pointwise = torch.nn.Conv2d(cin, cout, 1, bias=False)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        standard(x)
    assert fc.get_total_flops() == 2 * classic.conv_macs(size, cin, cout, k, stride)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        pointwise(depthwise(x))
    sep = classic.depthwise_separable_macs(size, cin, cout, k, stride)
    assert fc.get_total_flops() == 2 * sep["total"]
    assert math.isclose(sep["total"] / classic.conv_macs(size, cin, cout, k, stride), classic.separable_cost_ratio(cout, k))


def test_separable_cost_ratio_values():
    assert classic.separable_cost_ratio(1024, 3) == pytest.approx(1 / 1024 + 1 / 9)
    with pytest.raises(ValueError):
        classic.separable_cost_ratio(0, 3)
