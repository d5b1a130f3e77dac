"""Independent check of four box/loss/matching functions against outside judges.

- ``helpers.boxes.generalized_box_iou``: judged by ``torchvision.ops.generalized_box_iou``.
- ``helpers.losses.giou_loss``: judged by ``torchvision.ops.generalized_box_iou_loss``.
- ``helpers.detr.hungarian_match``: judged by a brute-force search over every injective
  assignment (``itertools.permutations``) of DETR's matching cost, written here from the paper
  (softmax, L1 on cxcywh, torchvision's GIoU on xyxy), not taken from ``helpers``.
- ``helpers.fcos.centerness``: judged by FCOS eq. 3 written here, plus hand cases.

Each function is also fed bad input (wrong shapes, NaN, wrong types).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torchvision.ops as tvo

from helpers.boxes import generalized_box_iou
from helpers.detr import hungarian_match
from helpers.fcos import centerness
from helpers.losses import giou_loss

SEEDS = [0, 1, 2, 3]


# --------------------------------------------------------------------------- helpers of the judge


def random_xyxy(rng: np.random.Generator, n: int, dtype=np.float64, low: float = 0.5,
                integer: bool = False) -> np.ndarray:
    """``n`` valid xyxy boxes of positive size; ``integer`` puts them on a coarse grid (many ties)."""
    if integer:
        xy = rng.integers(0, 10, (n, 2)).astype(np.float64)
        wh = rng.integers(1, 6, (n, 2)).astype(np.float64)
    else:
        xy = rng.uniform(-50, 100, (n, 2))
        wh = rng.uniform(low, 60, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


def tv_giou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return tvo.generalized_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def tv_giou_loss(p: np.ndarray, t: np.ndarray, reduction: str, eps: float = 1e-7):
    out = tvo.generalized_box_iou_loss(torch.from_numpy(np.asarray(p, np.float64)),
                                       torch.from_numpy(np.asarray(t, np.float64)),
                                       reduction=reduction, eps=eps)
    return out.numpy()


def my_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def my_cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def detr_cost(logits, boxes, labels, tboxes, wc=1.0, wb=5.0, wg=2.0) -> np.ndarray:
    """DETR's HungarianMatcher cost, (Q, T), written independently of helpers."""
    prob = my_softmax(np.asarray(logits, np.float64))
    c_class = -prob[:, np.asarray(labels, np.int64)]
    c_l1 = np.abs(boxes[:, None, :] - tboxes[None, :, :]).sum(axis=2)
    c_giou = -tv_giou(my_cxcywh_to_xyxy(boxes), my_cxcywh_to_xyxy(tboxes))
    return wc * c_class + wb * c_l1 + wg * c_giou


def brute_force_min(cost: np.ndarray) -> float:
    """Least total cost over every injective map targets -> queries (T <= Q)."""
    q, t = cost.shape
    cols = np.arange(t)
    best = np.inf
    for rows in itertools.permutations(range(q), t):
        best = min(best, float(cost[list(rows), cols].sum()))
    return best


def random_detr(rng: np.random.Generator, q: int, t: int, c: int = 3):
    logits = rng.normal(0, 2, (q, c + 1))
    boxes = np.concatenate([rng.uniform(0.2, 0.8, (q, 2)), rng.uniform(0.05, 0.4, (q, 2))], axis=1)
    labels = rng.integers(0, c, t)
    tboxes = np.concatenate([rng.uniform(0.2, 0.8, (t, 2)), rng.uniform(0.05, 0.4, (t, 2))], axis=1)
    return logits, boxes, labels, tboxes


def check_matching(qi, ti, cost: np.ndarray) -> None:
    """One-to-one, min(Q, T) pairs, documented dtype/order, and a total equal to the brute-force optimum."""
    q, t = cost.shape
    qi, ti = np.asarray(qi), np.asarray(ti)
    assert qi.shape == ti.shape == (min(q, t),)
    assert qi.dtype == np.int64 and ti.dtype == np.int64
    assert len(set(qi.tolist())) == len(qi), f"a query matched twice: {qi}"
    assert len(set(ti.tolist())) == len(ti), f"a target matched twice: {ti}"
    assert np.all((qi >= 0) & (qi < q)) and np.all((ti >= 0) & (ti < t))
    assert np.all(np.diff(qi) > 0), f"query_idx not ascending: {qi}"
    if t:
        got = float(cost[qi, ti].sum())
        best = brute_force_min(cost)
        assert got == pytest.approx(best, rel=1e-12, abs=1e-12), f"total {got} > optimum {best}"


def my_centerness(d: np.ndarray) -> np.ndarray:
    left, top, right, bottom = d.T
    return np.sqrt(np.minimum(left, right) / np.maximum(left, right)
                   * np.minimum(top, bottom) / np.maximum(top, bottom))


# --------------------------------------------------------------------------- 1. generalized_box_iou


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,m", [(1, 1), (7, 5), (40, 33)])
def test_giou_matches_torchvision_float64(seed, n, m):
    rng = np.random.default_rng(seed)
    a, b = random_xyxy(rng, n), random_xyxy(rng, m)
    got = generalized_box_iou(a, b)
    assert got.shape == (n, m)
    np.testing.assert_allclose(got, tv_giou(a, b), rtol=1e-12, atol=1e-12)
    assert np.all(got <= 1.0) and np.all(got >= -1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_giou_float32_same_values_as_torchvision(seed):
    # docstring: float32 in gives the same float32 numbers as torchvision, operation for operation
    rng = np.random.default_rng(seed)
    a, b = random_xyxy(rng, 25, np.float32), random_xyxy(rng, 18, np.float32)
    got = generalized_box_iou(a, b)
    assert got.dtype == np.float32
    ref = tv_giou(a, b)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("seed", SEEDS)
def test_giou_integer_grid_many_touching_and_nested(seed):
    # boxes on a coarse integer grid: many touch, nest, coincide or share an edge
    rng = np.random.default_rng(seed)
    a, b = random_xyxy(rng, 30, integer=True), random_xyxy(rng, 30, integer=True)
    got = generalized_box_iou(a, b)
    np.testing.assert_allclose(got, tv_giou(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(generalized_box_iou(b, a), got.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.diag(generalized_box_iou(a, a)), 1.0, rtol=0, atol=1e-15)


def test_giou_hand_cases():
    a = np.array([[0.0, 0, 10, 10]])
    cases = {
        (0.0, 0, 10, 10): 1.0,  # identical
        (0.0, 0, 5, 10): 0.5,  # nested, half the area: enclosing = union, GIoU = IoU
        (10.0, 0, 20, 10): 0.0,  # touching: IoU 0, enclosing 200 = union
        (20.0, 0, 30, 10): -1.0 / 3.0,  # gap of 10: (300 - 200) / 300
        (5.0, 5, 15, 15): 25.0 / 175.0 - (225.0 - 175.0) / 225.0,
    }
    b = np.array(list(cases))
    got = generalized_box_iou(a, b)[0]
    np.testing.assert_allclose(got, list(cases.values()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, tv_giou(a, b)[0], rtol=1e-12, atol=1e-12)
    # far apart: GIoU tends to -1
    far = generalized_box_iou(a, [[1e6, 1e6, 1e6 + 10, 1e6 + 10]])[0, 0]
    assert -1.0 <= far < -0.9999


def test_giou_degenerate_boxes_documented_behaviour():
    # one zero-width box against a normal box: union > 0, enclosing > 0, so torchvision is finite
    a = np.array([[2.0, 0, 2, 10]])
    b = np.array([[0.0, 0, 10, 10], [20.0, 0, 30, 10]])
    np.testing.assert_allclose(generalized_box_iou(a, b), tv_giou(a, b), rtol=1e-12, atol=1e-12)
    # both degenerate: torchvision gives NaN (0/0), the docstring promises 0 here
    pts = np.array([[1.0, 1, 1, 1]])
    assert np.isnan(tv_giou(pts, pts)).all()
    np.testing.assert_array_equal(generalized_box_iou(pts, pts), [[0.0]])
    line = generalized_box_iou([[0.0, 1, 3, 1]], [[1.0, 1, 2, 1]])
    np.testing.assert_array_equal(line, [[0.0]])


def test_giou_empty_and_input_types():
    a = random_xyxy(np.random.default_rng(9), 3)
    assert generalized_box_iou(np.zeros((0, 4)), a).shape == (0, 3)
    assert generalized_box_iou(a, np.zeros((0, 4))).shape == (3, 0)
    as_list = generalized_box_iou(a.tolist(), a.tolist())
    as_tensor = generalized_box_iou(torch.from_numpy(a), torch.from_numpy(a))
    assert isinstance(as_tensor, np.ndarray)
    np.testing.assert_array_equal(as_list, as_tensor)


@pytest.mark.parametrize("bad,exc,match", [
    ([[0.0, 0, 1]], ValueError, r"shape \(N, 4\)"),
    (np.zeros((2, 4, 1)), ValueError, r"shape \(N, 4\)"),
    ([0.0, 0, 1, 1], ValueError, r"shape \(N, 4\)"),
    ([[np.nan, 0, 1, 1]], ValueError, "NaN"),
    ([[0.0, 0, np.inf, 1]], ValueError, "infinity"),
    ([[1.0, 0, 0, 1]], ValueError, "x2 < x1"),
    ("abc", TypeError, "numbers"),
    (None, TypeError, "numbers"),
    ([["0", "0", "1", "1"]], TypeError, "numbers"),
    ([[0, 0, 1, 1], [0, 0, 1]], TypeError, "array-like"),
])
def test_giou_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        generalized_box_iou(bad, [[0.0, 0, 1, 1]])
    with pytest.raises(exc, match=match):
        generalized_box_iou([[0.0, 0, 1, 1]], bad)


# --------------------------------------------------------------------------- 2. giou_loss


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 6, 50])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_giou_loss_matches_torchvision(seed, n, reduction):
    rng = np.random.default_rng(seed)
    p, t = random_xyxy(rng, n), random_xyxy(rng, n)
    got = giou_loss(p, t, reduction=reduction)
    ref = tv_giou_loss(p, t, reduction)
    if reduction == "none":
        assert np.shape(got) == (n,)
    else:
        assert np.ndim(got) == 0
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.asarray(got) >= 0.0) and np.all(np.asarray(got) <= 2.0 * n)


@pytest.mark.parametrize("seed", SEEDS)
def test_giou_loss_integer_grid_and_default_mean(seed):
    rng = np.random.default_rng(seed)
    p, t = random_xyxy(rng, 40, integer=True), random_xyxy(rng, 40, integer=True)
    np.testing.assert_allclose(giou_loss(p, t, "none"), tv_giou_loss(p, t, "none"), rtol=1e-12, atol=1e-12)
    assert giou_loss(p, t) == pytest.approx(float(tv_giou_loss(p, t, "mean")), rel=1e-12, abs=1e-12)
    # the loss of a pair is 1 - GIoU of that pair (torchvision's pairwise matrix, diagonal)
    np.testing.assert_allclose(giou_loss(p, t, "none"), 1.0 - np.diag(tv_giou(p, t)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("eps", [0.0, 1e-7, 1e-3])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_giou_loss_eps_matches_torchvision(seed, eps):
    rng = np.random.default_rng(seed)
    p, t = random_xyxy(rng, 12), random_xyxy(rng, 12)
    for reduction in ("none", "mean", "sum"):
        np.testing.assert_allclose(giou_loss(p, t, reduction, eps=eps), tv_giou_loss(p, t, reduction, eps),
                                   rtol=1e-12, atol=1e-12)


def test_giou_loss_hand_cases_single_pair_and_empty():
    assert giou_loss([0.0, 0, 10, 10], [0.0, 0, 10, 10], "sum") == pytest.approx(0.0, abs=1e-7)
    assert giou_loss([[0.0, 0, 10, 10]], [[20.0, 0, 30, 10]], "mean") == pytest.approx(1 + 1 / 3, abs=1e-7)
    single = giou_loss([0.0, 0, 1, 1], [0.0, 0, 2, 2], "none")
    assert np.ndim(single) == 0
    assert float(single) == pytest.approx(float(tv_giou_loss([0.0, 0, 1, 1], [0.0, 0, 2, 2], "none")), abs=1e-12)
    empty = np.zeros((0, 4))
    for reduction in ("mean", "sum"):
        got = giou_loss(empty, empty, reduction)
        assert got == 0.0 and float(tv_giou_loss(empty, empty, reduction)) == 0.0
    assert giou_loss(empty, empty, "none").shape == (0,)


@pytest.mark.parametrize("pred,target,exc,match", [
    ([[0.0, 0, 1]], [[0.0, 0, 1]], ValueError, r"shape \(N, 4\) or \(4,\)"),
    ([[0.0, 0, 1, 1]], [[0.0, 0, 1, 1], [0, 0, 2, 2]], ValueError, "same shape"),
    (np.zeros((2, 4, 1)), np.zeros((2, 4, 1)), ValueError, r"shape \(N, 4\)"),
    ([[np.nan, 0, 1, 1]], [[0.0, 0, 1, 1]], ValueError, "NaN"),
    ([[0.0, 0, 1, 1]], [[0.0, 0, np.inf, 1]], ValueError, "infinite"),
    ([[1.0, 0, 0, 1]], [[0.0, 0, 1, 1]], ValueError, "x2 < x1"),
    ("abc", [[0.0, 0, 1, 1]], TypeError, "pred must hold numbers"),
    ([["0", "0", "1", "1"]], [[0.0, 0, 1, 1]], TypeError, "pred must hold numbers"),
    ([[0, 0, 1, 1], [0, 0, 1]], [[0.0, 0, 1, 1]] * 2, TypeError, "pred must be array-like"),
    (torch.zeros(1, 4, requires_grad=True), torch.zeros(1, 4), TypeError, "requires grad"),
])
def test_giou_loss_bad_input(pred, target, exc, match):
    with pytest.raises(exc, match=match):
        giou_loss(pred, target)


def test_giou_loss_bad_reduction_and_none_input():
    with pytest.raises(ValueError, match="reduction"):
        giou_loss([[0.0, 0, 1, 1]], [[0.0, 0, 1, 1]], reduction="avg")
    with pytest.raises(TypeError, match="pred must hold numbers"):  # not "contains NaN"
        giou_loss(None, [[0.0, 0, 1, 1]])


# --------------------------------------------------------------------------- 3. hungarian_match


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("q,t", [(1, 1), (3, 3), (5, 5), (4, 1), (6, 3), (6, 4), (7, 5)])
def test_hungarian_is_optimal(seed, q, t):
    rng = np.random.default_rng(seed)
    logits, boxes, labels, tboxes = random_detr(rng, q, t)
    qi, ti = hungarian_match(logits, boxes, labels, tboxes)
    check_matching(qi, ti, detr_cost(logits, boxes, labels, tboxes))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weights", [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (3.0, 0.5, 7.0),
                                     (0.0, 0.0, 0.0)])
def test_hungarian_non_default_weights(seed, weights):
    rng = np.random.default_rng(seed)
    logits, boxes, labels, tboxes = random_detr(rng, 6, 4)
    wc, wb, wg = weights
    qi, ti = hungarian_match(logits, boxes, labels, tboxes, cost_class=wc, cost_bbox=wb, cost_giou=wg)
    check_matching(qi, ti, detr_cost(logits, boxes, labels, tboxes, wc, wb, wg))


@pytest.mark.parametrize("seed", SEEDS)
def test_hungarian_weights_change_the_answer_correctly(seed):
    # with class weight only, the matching must be optimal for the class term, not the default cost
    rng = np.random.default_rng(seed)
    logits, boxes, labels, tboxes = random_detr(rng, 5, 3)
    logits *= 4
    only_class = detr_cost(logits, boxes, labels, tboxes, 1.0, 0.0, 0.0)
    qi, ti = hungarian_match(logits, boxes, labels, tboxes, cost_class=1.0, cost_bbox=0.0, cost_giou=0.0)
    check_matching(qi, ti, only_class)


@pytest.mark.parametrize("seed", SEEDS)
def test_hungarian_exact_ties_duplicated_queries(seed):
    rng = np.random.default_rng(seed)
    logits, boxes, labels, tboxes = random_detr(rng, 3, 3)
    # queries 3, 4 duplicate query 0; query 5 duplicates query 1: several optimal matchings
    logits = np.vstack([logits, logits[[0, 0, 1]]])
    boxes = np.vstack([boxes, boxes[[0, 0, 1]]])
    qi, ti = hungarian_match(logits, boxes, labels, tboxes)
    check_matching(qi, ti, detr_cost(logits, boxes, labels, tboxes))
    # duplicated targets too
    labels2, tboxes2 = labels[[0, 0, 1]], tboxes[[0, 0, 1]]
    qi, ti = hungarian_match(logits, boxes, labels2, tboxes2)
    check_matching(qi, ti, detr_cost(logits, boxes, labels2, tboxes2))
    # every query identical: every matching costs the same, any one-to-one answer is fine
    same_l, same_b = np.repeat(logits[:1], 5, 0), np.repeat(boxes[:1], 5, 0)
    qi, ti = hungarian_match(same_l, same_b, labels, tboxes)
    check_matching(qi, ti, detr_cost(same_l, same_b, labels, tboxes))


@pytest.mark.parametrize("seed", SEEDS)
def test_hungarian_recovers_a_planted_permutation(seed):
    rng = np.random.default_rng(seed)
    t, q, c = 4, 7, 5
    _, _, labels, tboxes = random_detr(rng, t, t, c)
    perm = rng.permutation(q)[:t]  # target j is predicted exactly by query perm[j]
    logits = np.full((q, c + 1), -10.0)
    logits[:, c] = 10.0  # unmatched queries say "no object"
    boxes = np.concatenate([rng.uniform(0.2, 0.8, (q, 2)), rng.uniform(0.05, 0.4, (q, 2))], axis=1)
    logits[perm] = -10.0
    logits[perm, labels] = 10.0
    boxes[perm] = tboxes
    qi, ti = hungarian_match(logits, boxes, labels, tboxes)
    assert dict(zip(ti.tolist(), qi.tolist(), strict=True)) == dict(enumerate(perm.tolist()))


def test_hungarian_large_logits_are_stable():
    rng = np.random.default_rng(5)
    logits, boxes, labels, tboxes = random_detr(rng, 5, 3)
    logits = logits * 500.0  # magnitudes ~1000: a naive softmax overflows
    qi, ti = hungarian_match(logits, boxes, labels, tboxes)
    check_matching(qi, ti, detr_cost(logits, boxes, labels, tboxes))


@pytest.mark.parametrize("empty_labels,empty_boxes", [([], np.zeros((0, 4))), (np.zeros(0, np.int64), []),
                                                      ([], [])])
def test_hungarian_no_targets(empty_labels, empty_boxes):
    logits, boxes, _, _ = random_detr(np.random.default_rng(0), 4, 0)
    qi, ti = hungarian_match(logits, boxes, empty_labels, empty_boxes)
    assert qi.shape == ti.shape == (0,)
    assert qi.dtype == np.int64 and ti.dtype == np.int64


def test_hungarian_more_targets_than_queries_is_refused():
    # docstring: Q >= T is required (DETR has one query per object at least)
    logits, boxes, labels, tboxes = random_detr(np.random.default_rng(0), 3, 4)
    with pytest.raises(ValueError, match="queries"):
        hungarian_match(logits, boxes, labels, tboxes)


def _detr_ok():
    return random_detr(np.random.default_rng(1), 3, 2)


def _bad_case(name):
    logits, boxes, labels, tboxes = _detr_ok()
    if name == "logits_1col":
        logits = logits[:, :1]
    elif name == "logits_1d":
        logits = logits[0]
    elif name == "logits_nan":
        logits[0, 0] = np.nan
    elif name == "logits_str":
        logits = "abc"
    elif name == "boxes_rows":
        boxes = boxes[:2]
    elif name == "boxes_nan":
        boxes[1, 2] = np.nan
    elif name == "boxes_negative_size":
        boxes[0, 2] = -0.1
    elif name == "tboxes_cols":
        tboxes = tboxes[:, :3]
    elif name == "tboxes_nan":
        tboxes[0, 0] = np.nan
    elif name == "labels_count":
        labels = labels[:1]
    elif name == "labels_range":
        labels = np.array([0, logits.shape[1] - 1])  # the no-object column is not a target class
    elif name == "labels_negative":
        labels = np.array([-1, 0])
    elif name == "labels_fraction":
        labels = np.array([0.5, 1.0])
    elif name == "labels_str":
        labels = np.array(["a", "b"])
    elif name == "labels_bool":
        labels = np.array([True, False])
    return logits, boxes, labels, tboxes


@pytest.mark.parametrize("name,exc,match", [
    ("logits_1col", ValueError, r"\(Q, C \+ 1\)"),
    ("logits_1d", ValueError, r"\(Q, C \+ 1\)"),
    ("logits_nan", ValueError, "NaN"),
    ("logits_str", TypeError, "logits"),
    ("boxes_rows", ValueError, r"\(Q, 4\)"),
    ("boxes_nan", ValueError, "NaN"),
    ("boxes_negative_size", ValueError, "negative width"),
    ("tboxes_cols", ValueError, r"target_boxes must have shape \(T, 4\)"),
    ("tboxes_nan", ValueError, "target_boxes.*NaN"),
    ("labels_count", ValueError, "target_labels must have shape"),
    ("labels_range", ValueError, "no object"),
    ("labels_negative", ValueError, "target_labels must be in"),
    ("labels_fraction", ValueError, "integer"),
    ("labels_str", TypeError, "target_labels must be integer"),
    ("labels_bool", TypeError, "target_labels must be integer"),
])
def test_hungarian_bad_input(name, exc, match):
    with pytest.raises(exc, match=match):
        hungarian_match(*_bad_case(name))


@pytest.mark.parametrize("kw", [{"cost_class": -1.0}, {"cost_bbox": np.nan}, {"cost_giou": np.inf}])
def test_hungarian_bad_weights_value(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        hungarian_match(*_detr_ok(), **kw)


def test_hungarian_bad_weights_type():
    with pytest.raises(TypeError, match="cost_giou"):
        hungarian_match(*_detr_ok(), cost_giou="2")


# --------------------------------------------------------------------------- 4. centerness


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 10, 500])
def test_centerness_matches_formula(seed, n):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.01, 200, (n, 4))
    got = centerness(d)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, my_centerness(d), rtol=1e-12, atol=1e-15)
    assert np.all((got >= 0) & (got <= 1))
    # invariances of the formula: scale, swapping l<->r / t<->b, swapping the x and y pairs
    np.testing.assert_allclose(centerness(d * 37.5), got, rtol=1e-12)
    np.testing.assert_allclose(centerness(d[:, [2, 3, 0, 1]]), got, rtol=1e-12)
    np.testing.assert_allclose(centerness(d[:, [1, 0, 3, 2]]), got, rtol=1e-12)


def test_centerness_hand_cases():
    d = np.array([
        [5.0, 5, 5, 5],  # box centre
        [3.0, 8, 3, 8],  # centre of a non-square box
        [1.0, 5, 9, 5],  # x off centre: sqrt(1/9)
        [2.0, 1, 8, 4],  # sqrt(2/8 * 1/4) = 0.25
        [0.0, 5, 10, 5],  # on the left border
        [4.0, 0, 4, 6],  # on the top border
    ])
    np.testing.assert_allclose(centerness(d), [1.0, 1.0, 1 / 3, 0.25, 0.0, 0.0], rtol=1e-12, atol=0)


def test_centerness_goes_to_zero_near_an_edge_and_rises_to_one():
    # a point moving from the left edge of a 10x10 box to its centre, at mid height
    x = np.array([1e-9, 1e-6, 1e-3, 0.5, 1.0, 2.5, 4.0, 5.0])
    d = np.stack([x, np.full_like(x, 5.0), 10.0 - x, np.full_like(x, 5.0)], axis=1)
    got = centerness(d)
    np.testing.assert_allclose(got, np.sqrt(x / (10.0 - x)), rtol=1e-12)
    assert np.all(np.diff(got) > 0)
    assert got[0] < 1e-4 and got[-1] == pytest.approx(1.0)


def test_centerness_zero_distances_documented_zero():
    # docstring: 0 / 0 (a point on a box of zero width or height) gives 0, not NaN
    got = centerness([[0.0, 0, 0, 0], [0.0, 3, 0, 3], [3.0, 0, 3, 0]])
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0])
    assert centerness(np.zeros((0, 4))).shape == (0,)


def test_centerness_accepts_lists_and_tensors():
    d = [[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]]
    ref = my_centerness(np.array(d))
    np.testing.assert_allclose(centerness(d), ref, rtol=1e-12)
    np.testing.assert_allclose(centerness(torch.tensor(d, dtype=torch.float64)), ref, rtol=1e-12)


@pytest.mark.parametrize("bad,exc,match", [
    ([[1.0, 2, 3]], ValueError, r"shape \(N, 4\)"),
    ([1.0, 2, 3, 4], ValueError, r"shape \(N, 4\)"),
    (np.ones((2, 4, 1)), ValueError, r"shape \(N, 4\)"),
    ([[np.nan, 1, 1, 1]], ValueError, "NaN"),
    ([[np.inf, 1, 1, 1]], ValueError, "infinite"),
    ([[-1.0, 1, 1, 1]], ValueError, "negative distance"),
    ("abc", TypeError, "numbers"),
    (None, TypeError, "numbers"),
    ([["1", "1", "1", "1"]], TypeError, "numbers"),
])
def test_centerness_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        centerness(bad)
