"""helpers.boxes.generalized_box_iou and helpers.losses.giou_loss against torchvision.ops."""

import math

import numpy as np
import pytest

from helpers import boxes as hb
from helpers import losses as hl

torch = pytest.importorskip("torch")
tv_ops = pytest.importorskip("torchvision.ops")


def random_boxes(rng, n, dtype=np.float64, size=100.0, degenerate=0.0):
    """``n`` xyxy boxes, corners sorted from uniform draws; ``degenerate``: share of zero sides."""
    corners = np.sort(rng.uniform(0, size, (n, 2, 2)), axis=1)  # (n, [min, max], [x, y])
    flat = rng.random((n, 2)) < degenerate
    corners[:, 1][flat] = corners[:, 0][flat]
    return corners.reshape(n, 4).astype(dtype)


def tv_giou(a, b):
    return tv_ops.generalized_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_generalized_box_iou_equals_torchvision(seed, dtype):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 29, dtype), random_boxes(rng, 41, dtype)
    ours = hb.generalized_box_iou(a, b)
    assert ours.shape == (29, 41) and ours.dtype == dtype
    np.testing.assert_allclose(ours, tv_giou(a, b), rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-7)
    assert (ours >= -1).all() and (ours <= 1).all()


def test_generalized_box_iou_hand_cases():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    cases = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [3, 0, 5, 2], [0, 0, 1, 1], [10, 10, 12, 12]], float)
    got = hb.generalized_box_iou(a, cases)[0]
    # identical: 1; partial overlap: IoU 1/7, enclosing 9, union 7 -> 1/7 - 2/9; disjoint side by side:
    # 0 - (10 - 8) / 10; inside: IoU 1/4, enclosing = union; far apart: 0 - (144 - 8) / 144
    expected = [1.0, 1 / 7 - 2 / 9, -0.2, 0.25, -136 / 144]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got, tv_giou(a, cases)[0], rtol=1e-12)


def test_generalized_box_iou_degenerate_boxes_never_nan():
    rng = np.random.default_rng(7)
    a = random_boxes(rng, 40, degenerate=0.5)
    ours = hb.generalized_box_iou(a, a)
    assert np.isfinite(ours).all() and (ours >= -1).all() and (ours <= 1).all()
    ref = tv_giou(a, a)
    finite = np.isfinite(ref)
    assert not finite.all()  # torchvision gives NaN on some of these pairs
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-12, atol=1e-12)
    point, line = np.array([[3.0, 3, 3, 3]]), np.array([[0.0, 3, 10, 3]])
    assert hb.generalized_box_iou(point, point)[0, 0] == 0.0        # union 0 and enclosing 0
    assert hb.generalized_box_iou(line, np.array([[0.0, 5, 10, 5]]))[0, 0] == -1.0  # union 0, enclosing 20
    assert math.isnan(tv_giou(point, point)[0, 0])


def test_generalized_box_iou_empty_and_bad_inputs():
    e = np.zeros((0, 4))
    b = np.array([[0.0, 0, 1, 1], [1, 1, 2, 3]])
    assert hb.generalized_box_iou(e, b).shape == (0, 2) == tuple(tv_giou(e, b).shape)
    assert hb.generalized_box_iou(b, e).shape == (2, 0)
    with pytest.raises(ValueError, match="x2 < x1"):
        hb.generalized_box_iou([[2.0, 0, 1, 1]], b)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        hb.generalized_box_iou([[0.0, 0, 1]], b)
    with pytest.raises(ValueError, match="NaN"):
        hb.generalized_box_iou([[0.0, 0, np.nan, 1]], b)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("seed", range(3))
def test_giou_loss_equals_torchvision(seed, reduction):
    rng = np.random.default_rng(seed)
    p, t = random_boxes(rng, 50), random_boxes(rng, 50)
    p[:5] = t[:5]  # a few perfect predictions
    ours = hl.giou_loss(p, t, reduction=reduction)
    ref = tv_ops.generalized_box_iou_loss(torch.from_numpy(p), torch.from_numpy(t), reduction=reduction).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    if reduction == "none":
        assert ours.shape == (50,) and (ours >= 0).all() and (ours <= 2).all()


def test_giou_loss_default_is_mean_single_pair_empty_and_degenerate():
    rng = np.random.default_rng(3)
    p, t = random_boxes(rng, 10), random_boxes(rng, 10)
    assert hl.giou_loss(p, t) == pytest.approx(hl.giou_loss(p, t, reduction="none").mean(), rel=1e-15)
    one = hl.giou_loss(p[0], t[0], reduction="none")
    assert np.ndim(one) == 0 and float(one) == pytest.approx(
        tv_ops.generalized_box_iou_loss(torch.from_numpy(p[0]), torch.from_numpy(t[0])).item(), rel=1e-12)
    e = np.zeros((0, 4))
    for reduction in ("mean", "sum"):
        ref = tv_ops.generalized_box_iou_loss(torch.from_numpy(e), torch.from_numpy(e), reduction=reduction).item()
        assert hl.giou_loss(e, e, reduction=reduction) == ref == 0.0
    assert hl.giou_loss(e, e, reduction="none").shape == (0,)
    d = random_boxes(rng, 20, degenerate=0.5)
    loss = hl.giou_loss(d, d[::-1].copy(), reduction="none")
    ref = tv_ops.generalized_box_iou_loss(torch.from_numpy(d), torch.from_numpy(d[::-1].copy())).numpy()
    assert np.isfinite(loss).all()
    np.testing.assert_allclose(loss, ref, rtol=1e-12, atol=1e-12)


def test_giou_loss_bad_inputs():
    b = np.array([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match="reduction"):
        hl.giou_loss(b, b, reduction="average")
    with pytest.raises(ValueError, match="same shape"):
        hl.giou_loss(b, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x2 < x1"):
        hl.giou_loss([[1.0, 0, 0, 1]], b)
    with pytest.raises(ValueError, match="NaN"):
        hl.giou_loss([[0.0, 0, np.inf, 1]], b)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        hl.giou_loss(np.zeros((2, 3)), np.zeros((2, 3)))


def test_iou_loss_is_scale_invariant_l1_is_not():
    t = np.array([[10.0, 10, 30, 30]])
    p = np.array([[12.0, 11, 33, 29]])
    for k in (0.1, 10.0):
        assert hl.giou_loss(p * k, t * k) == pytest.approx(hl.giou_loss(p, t), rel=1e-6)  # up to eps
        assert hl.mae(p * k, t * k) == pytest.approx(k * hl.mae(p, t), rel=1e-12)


def test_losses_refuse_a_tensor_that_requires_grad_with_a_pointer_to_torch():
    pred = torch.tensor([[0.0, 0.0, 2.0, 2.0]], requires_grad=True)
    target = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    with pytest.raises(TypeError, match=r"requires grad.*generalized_box_iou_loss.*detach"):
        hl.giou_loss(pred, target)
    expected = float(tv_ops.generalized_box_iou_loss(pred.detach(), target))
    assert hl.giou_loss(pred.detach(), target) == pytest.approx(expected, abs=1e-6)
