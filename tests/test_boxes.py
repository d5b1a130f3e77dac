"""helpers.boxes against torchvision.ops and torchvision's Faster R-CNN BoxCoder."""

import math

import numpy as np
import pytest

from helpers import boxes as hb

torch = pytest.importorskip("torch")
tv_ops = pytest.importorskip("torchvision.ops")
from torchvision.models.detection._utils import BoxCoder  # noqa: E402


def random_boxes(rng, n, dtype=np.float32, size=100.0, degenerate=0.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(0, size / 2, (n, 2))
    if degenerate:
        wh[rng.random((n, 2)) < degenerate] = 0.0
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(5))
def test_area_and_iou_equal_torchvision_bit_for_bit(seed, dtype):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 37, dtype), random_boxes(rng, 53, dtype)
    np.testing.assert_array_equal(hb.box_area(a), tv_ops.box_area(torch.from_numpy(a)).numpy())
    ours = hb.box_iou(a, b)
    assert ours.dtype == dtype and ours.shape == (37, 53)
    np.testing.assert_array_equal(ours, tv_ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy())


def test_iou_adversarial_cases_match_torchvision():
    cases = np.array([
        [0, 0, 10, 10], [0, 0, 10, 10],      # identical
        [10, 0, 20, 10],                      # touching edge: IoU 0
        [5, 5, 15, 15],                       # partial
        [2, 2, 4, 4],                         # contained
        [1e6, 1e6, 1e6 + 1, 1e6 + 1],         # far away, large coordinates
        [-50, -50, -40, -40],                 # negative coordinates
        [0, 0, 1e-6, 1e-6],                   # tiny
    ], dtype=np.float64)
    np.testing.assert_array_equal(hb.box_iou(cases, cases), tv_ops.box_iou(torch.from_numpy(cases), torch.from_numpy(cases)).numpy())
    assert hb.box_iou(cases[:1], cases[2:3])[0, 0] == 0.0
    assert hb.box_iou(cases[:1], cases[3:4])[0, 0] == pytest.approx(25 / 175)


def test_degenerate_boxes_give_zero_never_nan(rng):
    a = random_boxes(rng, 40, degenerate=0.5)
    iou = hb.box_iou(a, a)
    assert np.isfinite(iou).all() and (iou >= 0).all() and (iou <= 1).all()
    point = np.array([[3.0, 3.0, 3.0, 3.0]])
    line = np.array([[0.0, 3.0, 10.0, 3.0]])
    assert hb.box_iou(point, point)[0, 0] == 0.0  # torchvision: NaN (0 / 0)
    assert math.isnan(tv_ops.box_iou(torch.tensor(point), torch.tensor(point))[0, 0])
    assert hb.box_iou(line, np.array([[0.0, 0.0, 10.0, 10.0]]))[0, 0] == 0.0
    # where the union is positive, degenerate boxes agree with torchvision exactly
    t = tv_ops.box_iou(torch.from_numpy(a), torch.from_numpy(a)).numpy()
    finite = np.isfinite(t)
    np.testing.assert_array_equal(iou[finite], t[finite])
    assert (iou[~finite] == 0).all()


def test_empty_inputs():
    e = np.zeros((0, 4))
    assert hb.box_area(e).shape == (0,)
    assert hb.box_iou(e, np.ones((3, 4))).shape == (0, 3)
    assert hb.box_convert(e, "xyxy", "cxcywh").shape == (0, 4)


def test_integer_and_list_inputs_compute_in_float64():
    out = hb.box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])
    assert out.dtype == np.float64 and out[0, 0] == pytest.approx(1 / 7)


@pytest.mark.parametrize("in_fmt", hb.FORMATS)
@pytest.mark.parametrize("out_fmt", hb.FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_convert_equals_torchvision(in_fmt, out_fmt, dtype, rng):
    xyxy = random_boxes(rng, 50, dtype, degenerate=0.1)
    src = tv_ops.box_convert(torch.from_numpy(xyxy), "xyxy", in_fmt).numpy()
    ours = hb.box_convert(src, in_fmt, out_fmt)
    ref = tv_ops.box_convert(torch.from_numpy(src), in_fmt, out_fmt).numpy()
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, ref)
    # round trip back to xyxy
    np.testing.assert_allclose(hb.box_convert(ours, out_fmt, "xyxy"), xyxy, rtol=1e-6, atol=1e-4)


def test_box_convert_does_not_alias_input():
    b = np.array([[0.0, 0.0, 1.0, 1.0]])
    out = hb.box_convert(b, "xyxy", "xyxy")
    out[0, 0] = 5
    assert b[0, 0] == 0


@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0), (2.0, 3.0, 0.5, 7.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encode_decode_equal_torchvision_boxcoder(weights, dtype, rng):
    gt = random_boxes(rng, 200, dtype) + np.array([0, 0, 1, 1], dtype)  # positive size
    anchors = random_boxes(rng, 200, dtype) + np.array([0, 0, 1, 1], dtype)
    coder = BoxCoder(weights)
    ref = coder.encode_single(torch.from_numpy(gt), torch.from_numpy(anchors)).numpy()
    ours = hb.encode_boxes(gt, anchors, weights)
    assert ours.dtype == dtype
    tol = 2e-6 if dtype == np.float32 else 1e-13  # log/exp may differ by an ulp between libms
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)
    deltas = rng.normal(0, 3, (200, 4)).astype(dtype)
    deltas[:5, 2:] = 80  # far beyond bbox_xform_clip * weight: the clamp must act
    ref_dec = coder.decode_single(torch.from_numpy(deltas), torch.from_numpy(anchors)).numpy()
    ours_dec = hb.decode_boxes(deltas, anchors, weights)
    assert np.isfinite(ours_dec).all()
    np.testing.assert_allclose(ours_dec, ref_dec, rtol=tol * 10, atol=tol * 1e3)
    w = anchors[:5, 2] - anchors[:5, 0]
    np.testing.assert_allclose(ours_dec[:5, 2] - ours_dec[:5, 0], w * 1000 / 16, rtol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_encode_decode_round_trip(seed):
    rng = np.random.default_rng(seed)
    # sizes 0.5..50.5 vs 2..52: every ratio stays below exp(bbox_xform_clip) = 62.5, so no clamping
    gt = random_boxes(rng, 500, np.float64) + np.array([0, 0, 0.5, 0.5])
    anchors = random_boxes(rng, 500, np.float64) + np.array([0, 0, 2.0, 2.0])
    back = hb.decode_boxes(hb.encode_boxes(gt, anchors), anchors)
    np.testing.assert_allclose(back, gt, rtol=1e-12, atol=1e-10)
    back32 = hb.decode_boxes(hb.encode_boxes(gt.astype(np.float32), anchors.astype(np.float32)), anchors.astype(np.float32))
    np.testing.assert_allclose(back32, gt, rtol=1e-5, atol=1e-3)


def test_encode_of_anchor_itself_is_zero():
    a = np.array([[10.0, 20.0, 50.0, 80.0]])
    np.testing.assert_array_equal(hb.encode_boxes(a, a), np.zeros((1, 4)))
    np.testing.assert_array_equal(hb.decode_boxes(np.zeros((1, 4)), a), a)


@pytest.mark.parametrize("bad, msg", [
    (np.array([[0.0, 0, 10, 10], [5, 0, 4, 10]]), r"boxes\[1\].*x2 < x1"),
    (np.array([[0.0, 10, 10, 5]]), "y2 < y1"),
    (np.array([[0.0, np.nan, 10, 10]]), "NaN"),
    (np.array([[0.0, 0, np.inf, 10]]), "infinity"),
    (np.zeros((3, 5)), r"shape \(N, 4\)"),
    (np.zeros(4), r"shape \(N, 4\)"),
])
def test_bad_boxes_raise_clear_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        hb.box_area(bad)
    with pytest.raises(ValueError, match=msg.replace("boxes", "boxes1")):
        hb.box_iou(bad, np.zeros((1, 4)))


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="in_fmt"):
        hb.box_convert(np.zeros((1, 4)), "xywhr", "xyxy")
    with pytest.raises(ValueError, match="negative width"):
        hb.box_convert([[0, 0, -1, 2]], "xywh", "xyxy")
    with pytest.raises(TypeError, match="numbers"):
        hb.box_area([["a", "b", "c", "d"]])
    with pytest.raises(ValueError, match="same shape"):
        hb.encode_boxes(np.ones((2, 4)) * [0, 0, 1, 1], np.ones((3, 4)) * [0, 0, 1, 1])
    with pytest.raises(ValueError, match="zero width or height"):
        hb.encode_boxes([[0, 0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="weights"):
        hb.encode_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], weights=(1, 1, 0, 1))
    with pytest.raises(ValueError, match="deltas.*NaN"):
        hb.decode_boxes([[0, np.nan, 0, 0]], [[0, 0, 1, 1]])


def test_decode_clip_and_weights_are_checked():
    deltas, anchors = np.zeros((1, 4)), np.array([[0.0, 0.0, 10.0, 10.0]])
    with pytest.raises(ValueError, match="clip must be a finite number"):
        hb.decode_boxes(deltas, anchors, clip=float("nan"))  # would make every box NaN
    with pytest.raises(TypeError, match="clip must be a number"):
        hb.decode_boxes(deltas, anchors, clip="4.1")
    with pytest.raises(TypeError, match="weights must be 4 numbers"):
        hb.decode_boxes(deltas, anchors, weights="1111")
    with pytest.raises(ValueError, match="weights must be 4 positive finite"):
        hb.encode_boxes(anchors, anchors, weights=(1, 1, float("nan"), 1))
    np.testing.assert_allclose(hb.decode_boxes(deltas, anchors, clip=np.float32(2.0)), anchors)
