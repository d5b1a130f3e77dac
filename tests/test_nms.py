"""helpers.nms against torchvision.ops.nms / batched_nms (same indices), and soft-NMS by definition."""

import numpy as np
import pytest

from helpers import boxgen
from helpers import nms as hn

torch = pytest.importorskip("torch")
tv_ops = pytest.importorskip("torchvision.ops")


def tv_nms(boxes, scores, thr):
    return tv_ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()


def assert_same(boxes, scores, thr):
    ours = hn.nms(boxes, scores, thr)
    ref = tv_nms(boxes, scores, thr)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, ref)
    return ours


def distinct_scores(rng, n, dtype=np.float32):
    return rng.permutation(n).astype(dtype) / n + dtype(1e-3)


@pytest.mark.parametrize("seed", range(40))
def test_random_problems_equal_torchvision(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    kind = seed % 3
    if kind == 0:
        boxes, _ = boxgen.uniform_boxes(n, seed, max_size=float(rng.uniform(20, 400)))
    elif kind == 1:
        boxes, _, _ = boxgen.clustered_boxes(n, seed, n_objects=int(rng.integers(1, 30)))
    else:
        boxes, _ = boxgen.large_boxes(n, seed)
    scores = distinct_scores(rng, n)
    for thr in (0.0, 0.3, 0.5, 0.7, 0.95):
        assert_same(boxes, scores, thr)


@pytest.mark.parametrize("n", [5000, 20000])
def test_large_problems_take_every_code_path(n):
    for boxes, scores in (boxgen.uniform_boxes(n, 1), boxgen.clustered_boxes(n, 1)[:2], boxgen.large_boxes(n, 1)):
        assert_same(boxes, scores, 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float64_and_integer_grid_boxes(dtype):
    rng = np.random.default_rng(7)
    # integer coordinates on a coarse grid: many exact ties in IoU and many IoUs exactly at 0.5
    xy = rng.integers(0, 20, (800, 2))
    wh = rng.integers(1, 8, (800, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(dtype)
    scores = distinct_scores(rng, 800, dtype)
    for thr in (0.0, 1 / 3, 0.5, 0.6, 1.0):
        assert_same(boxes, scores, thr)


def test_iou_exactly_at_threshold_is_kept_strictly_greater_suppresses():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 10, 10]], np.float32)  # IoU(0, 1) = 1/3
    scores = np.array([0.9, 0.8, 0.1], np.float32)
    iou01 = np.float32(50) / np.float32(150)
    np.testing.assert_array_equal(assert_same(boxes, scores, float(iou01)), [0, 1])  # IoU == thr: kept
    np.testing.assert_array_equal(assert_same(boxes, scores, 0.3), [0])  # IoU > thr: suppressed
    half = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], np.float32)  # IoU exactly 0.5
    np.testing.assert_array_equal(assert_same(half, scores[:2], 0.5), [0, 1])
    np.testing.assert_array_equal(assert_same(half, scores[:2], 0.4999), [0])


def test_float32_iou_is_compared_with_the_threshold_in_float64():
    # IoU float32(0.6) is a hair above 0.6: the C++ kernel (float vs double) suppresses, a
    # float32 comparison would not.
    target = np.float32(0.6)
    assert float(target) > 0.6
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, target]], np.float32)
    scores = np.array([1.0, 0.5], np.float32)
    iou = hn.box_iou(boxes[:1], boxes[1:])[0, 0]
    assert iou == target
    np.testing.assert_array_equal(assert_same(boxes, scores, 0.6), [0])


def test_empty_single_identical_and_degenerate_boxes():
    e = np.zeros((0, 4), np.float32)
    assert hn.nms(e, np.zeros(0, np.float32), 0.5).shape == (0,)
    np.testing.assert_array_equal(tv_nms(e, np.zeros(0, np.float32), 0.5), hn.nms(e, np.zeros(0), 0.5))
    assert_same(np.array([[1, 2, 3, 4]], np.float32), np.array([0.3], np.float32), 0.5)
    same = np.tile(np.array([[0, 0, 10, 10]], np.float32), (10, 1))
    tenscores = distinct_scores(np.random.default_rng(0), 10)
    np.testing.assert_array_equal(assert_same(same, tenscores, 0.5), [np.argmax(tenscores)])
    degenerate = np.array([[0, 0, 10, 10], [0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 9], [1, 1, 9, 9]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5], np.float32)
    for thr in (-0.5, 0.0, 0.5):
        assert_same(degenerate, scores, thr)
    assert_same(degenerate[1:], scores[1:], -0.1)  # the best box has zero area


@pytest.mark.parametrize("seed", range(10))
def test_negative_and_extreme_thresholds(seed):
    rng = np.random.default_rng(seed)
    boxes, _ = boxgen.uniform_boxes(300, seed)
    flat = rng.random(300) < 0.2
    boxes[flat, 2] = boxes[flat, 0]  # some zero width
    scores = distinct_scores(rng, 300)
    for thr in (-1.0, -1e-9, 0.0, 1.0, 2.0):
        assert_same(boxes, scores, thr)


def test_tied_scores():
    rng = np.random.default_rng(3)
    boxes, _, _ = boxgen.clustered_boxes(16, 3, n_objects=3)
    tied = rng.integers(0, 3, 16).astype(np.float32)
    assert_same(boxes, tied, 0.5)  # <= 16 boxes: torchvision's sort keeps tied boxes in input order
    # More boxes: torchvision's sort is not stable, so compare with the tie broken by index
    boxes, _, _ = boxgen.clustered_boxes(3000, 3, n_objects=20)
    tied = rng.integers(0, 5, 3000).astype(np.float32)
    rank = np.empty(3000, np.float32)
    rank[np.argsort(-tied, kind="stable")] = np.arange(3000, 0, -1)
    ours = hn.nms(boxes, tied, 0.5)
    np.testing.assert_array_equal(ours, tv_nms(boxes, rank, 0.5))
    assert (np.diff(tied[ours]) <= 0).all()


@pytest.mark.parametrize("seed", range(12))
def test_batched_nms_equals_torchvision(seed):
    rng = np.random.default_rng(seed)
    n = [50, 900, 1000, 1001, 3000, 8000][seed % 6]
    boxes, _, _ = boxgen.clustered_boxes(n, seed, n_objects=max(1, n // 50))
    scores = distinct_scores(rng, n)
    idxs = rng.integers(0, [1, 3, 80][seed % 3], n)
    for thr in (0.3, 0.5, 0.7):
        ours = hn.batched_nms(boxes, scores, idxs, thr)
        ref = tv_ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs), thr).numpy()
        np.testing.assert_array_equal(ours, ref)
    assert hn.batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).shape == (0,)


def test_batched_nms_never_suppresses_across_categories():
    boxes = np.array([[0, 0, 10, 10]] * 4, np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    np.testing.assert_array_equal(hn.batched_nms(boxes, scores, [0, 1, 0, 1], 0.5), [0, 1])


def reference_soft_nms(boxes, scores, thr, sigma, score_thr, method):
    """Plain-Python Soft-NMS, one box at a time, as in the paper's Algorithm 1."""
    s = [float(v) for v in scores]
    remaining = [i for i in range(len(s)) if s[i] >= score_thr]
    keep, kept = [], []
    while remaining:
        m = max(remaining, key=lambda i: (s[i], -i))
        keep.append(m)
        kept.append(s[m])
        remaining.remove(m)
        for i in remaining:
            iou = hn.box_iou(np.float64(boxes[m:m + 1]), np.float64(boxes[i:i + 1]))[0, 0]
            if method == "linear":
                s[i] *= (1 - iou) if iou > thr else 1.0
            else:
                s[i] *= np.exp(-iou * iou / sigma)
        remaining = [i for i in remaining if s[i] >= score_thr]
    return keep, kept


@pytest.mark.parametrize("method", ["linear", "gaussian"])
@pytest.mark.parametrize("seed", range(4))
def test_soft_nms_matches_the_paper_algorithm(method, seed):
    boxes, scores, _ = boxgen.clustered_boxes(120, seed, n_objects=4)
    keep, new = hn.soft_nms(boxes, scores, 0.3, 0.5, 0.05, method)
    ref_keep, ref_scores = reference_soft_nms(boxes, scores, 0.3, 0.5, 0.05, method)
    np.testing.assert_array_equal(keep, ref_keep)
    np.testing.assert_allclose(new, ref_scores, rtol=1e-12)
    assert (np.diff(new) <= 1e-12).all() and (new >= 0.05).all()


def test_soft_nms_by_hand_and_vs_hard_nms():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 8], [20, 20, 30, 30]], float)  # IoU(0, 1) = 0.8
    scores = np.array([0.9, 0.8, 0.7])
    keep, new = hn.soft_nms(boxes, scores, iou_threshold=0.5, method="linear")
    np.testing.assert_array_equal(keep, [0, 2, 1])
    np.testing.assert_allclose(new, [0.9, 0.7, 0.8 * 0.2])
    keep, new = hn.soft_nms(boxes, scores, sigma=0.5, method="gaussian")
    np.testing.assert_array_equal(keep, [0, 2, 1])
    np.testing.assert_allclose(new, [0.9, 0.7, 0.8 * np.exp(-0.64 / 0.5)])
    keep, _ = hn.soft_nms(boxes, scores, iou_threshold=0.5, score_threshold=0.2)
    np.testing.assert_array_equal(keep, [0, 2])  # 0.16 < 0.2: dropped
    np.testing.assert_array_equal(hn.nms(boxes, scores, 0.5), [0, 2])


def test_bad_inputs():
    good = np.array([[0, 0, 1, 1]], np.float32)
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        hn.nms(good, [0.5, 0.4], 0.5)
    with pytest.raises(ValueError, match="NaN"):
        hn.nms(good, [np.nan], 0.5)
    with pytest.raises(ValueError, match="x2 < x1"):
        hn.nms([[5, 0, 1, 1]], [0.5], 0.5)
    with pytest.raises(ValueError, match="iou_threshold is NaN"):
        hn.nms(good, [0.5], float("nan"))
    with pytest.raises(TypeError, match="iou_threshold"):
        hn.nms(good, [0.5], "0.5")
    with pytest.raises(TypeError, match="integers"):
        hn.batched_nms(good, [0.5], [0.5], 0.5)
    with pytest.raises(ValueError, match="idxs"):
        hn.batched_nms(good, [0.5], [0, 1], 0.5)
    with pytest.raises(ValueError, match="method"):
        hn.soft_nms(good, [0.5], method="hard")
    with pytest.raises(ValueError, match="sigma"):
        hn.soft_nms(good, [0.5], sigma=0, method="gaussian")


@pytest.mark.parametrize("n", [50, 400, 3000])
def test_long_suppression_chains(n):
    # box k overlaps box k+1 with IoU 0.6 and outscores it: the greedy result alternates, and
    # deciding box k needs box k-1 decided first (longer than the vectorised rounds go)
    x = np.arange(n, dtype=np.float32) * 2.5
    boxes = np.stack([x, np.zeros(n, np.float32), x + 10, np.full(n, 10, np.float32)], axis=1)
    scores = np.linspace(1, 0.1, n).astype(np.float32)
    keep = assert_same(boxes, scores, 0.5)
    # interleave two chains in reverse score order as well
    assert_same(boxes, scores[::-1].copy(), 0.5)
    assert len(keep) < n


@pytest.mark.parametrize("rounds", [0, 1, 3, hn._MAX_ROUNDS])
def test_resolve_matches_sequential_greedy_on_random_graphs(rounds, monkeypatch):
    monkeypatch.setattr(hn, "_MAX_ROUNDS", rounds)  # 0: all sequential; small: the hand-over
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 300))
        i, j = rng.integers(0, n, (2, 4 * n))
        src, dst = np.minimum(i, j), np.maximum(i, j)
        src, dst = src[src < dst], dst[src < dst]
        expected = np.ones(n, bool)
        for v in range(n):
            if expected[v]:
                expected[dst[src == v]] = False
        np.testing.assert_array_equal(hn._resolve(n, src, dst), expected)
