"""Non-maximum suppression in NumPy: greedy NMS, per-class (batched) NMS and soft-NMS.

:func:`nms` returns exactly the indices ``torchvision.ops.nms`` returns: boxes are visited in
descending score order, a kept box suppresses every later box whose IoU with it is strictly
greater than the threshold, and the IoU is computed operation for operation as torchvision's
CPU kernel does (in the boxes' dtype, compared with the threshold in float64).

Ties in scores. torchvision's CPU kernel orders boxes with ``scores.sort(descending=True)``,
which is *not* a stable sort: for up to 16 boxes (insertion sort) tied boxes keep their input
order, above that their order is whatever the sort happens to produce. Here ties are always
broken by the lower index first (a stable sort), so results are deterministic and equal
torchvision's whenever the scores are distinct or there are at most 16 boxes; with more tied
boxes they equal torchvision's on the same problem with the ties broken by index.

Speed. torchvision's kernel is a scalar double loop, O(kept x N). NumPy cannot run that loop
fast, so this module evaluates fewer pairs, vectorised:

1. degenerate boxes (zero width or height) have IoU 0 (or 0/0) with everything, so they are
   never suppressed and never suppress (for thresholds >= 0);
2. *dense rounds*: while the best remaining boxes suppress many others (detector outputs:
   clusters of near-duplicates), take a block of the best remaining boxes, resolve it
   internally, and let its kept boxes suppress all later boxes at once (a kept x remaining
   IoU matrix);
3. *sparse graph*: once a dense round removes boxes less cheaply than the sweep below would
   resolve them, only boxes that overlap at all can suppress each other: the image is cut
   into strips about one box high, a sweep over x1 in each strip lists the pairs that overlap
   in x (less those whose overlap is provably too short for IoU > threshold), the pairs that
   also overlap in y get their IoU, the pairs above the threshold form a graph, and greedy
   NMS on that graph is resolved in vectorised rounds (a box is kept once all its
   higher-scoring neighbours are suppressed, suppressed once one of them is kept), with a
   plain loop for whatever long chains remain.

``benchmarks/bench_nms.py`` times this against torchvision: faster on uniformly scattered
boxes at 1,000-20,000 boxes, slower on small clustered problems (under a few milliseconds,
where NumPy's per-call overhead dominates).
"""

from __future__ import annotations

import math

import numpy as np

from helpers.boxes import as_float_array, box_iou, check_boxes

_DENSE_BLOCK = 32          # first block of the dense rounds; doubles while they pay off
_SWEEP_COST = 3.0          # cost of one sweep candidate pair, in dense IoU evaluations (measured)
_DENSE_CHEAP = 100.0       # dense rounds removing a box per <= this many IoUs go on unquestioned
_PAIR_CHUNK = 1 << 20      # candidate pairs materialised at once in the sparse sweep
_MAX_ROUNDS = 24           # vectorised resolution rounds before the sequential finish


def _check_scores(scores, n: int, name: str = "scores") -> np.ndarray:
    s = as_float_array(scores, name)
    if s.ndim != 1 or s.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one per box), got {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"{name}[{int(np.flatnonzero(np.isnan(s))[0])}] is NaN")
    return s


def _check_threshold(value, name: str = "iou_threshold") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"{name} is NaN")
    return float(value)


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score, ties by ascending index."""
    return np.argsort(-scores, kind="stable")


def _pair_iou(x1, y1, x2, y2, area, i, j):
    """IoU of the pairs (i[k], j[k]) with torchvision's formula and rounding (inputs: dtype arrays)."""
    w = np.maximum(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0)
    h = np.maximum(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0)
    inter = w * h
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area[i] + area[j] - inter)


def _resolve(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Greedy NMS on a suppression graph: edge src -> dst (src < dst, both score ranks).

    Returns the boolean keep mask of the n nodes: node v is kept iff no kept node u < v has an
    edge u -> v, which is what the sequential greedy loop computes.
    """
    state = np.zeros(n, np.int8)  # 0 undecided, 1 kept, 2 suppressed
    has_in = np.zeros(n, bool)
    has_in[dst] = True
    state[~has_in] = 1
    for _ in range(_MAX_ROUNDS):
        state[dst[state[src] == 1]] = 2  # kept boxes suppress their neighbours
        live = (state[src] == 0) & (state[dst] == 0)
        src, dst = src[live], dst[live]
        if src.size == 0:
            state[state == 0] = 1
            return state == 1
        has_in[:] = False
        has_in[dst] = True
        state[(state == 0) & ~has_in] = 1  # every higher-scoring neighbour is suppressed
    state[dst[state[src] == 1]] = 2
    live = (state[src] == 0) & (state[dst] == 0)
    src, dst = src[live], dst[live]
    # Long dependency chains: finish in score order (src ascending gives the adjacency lists).
    by_src = np.argsort(src, kind="stable")
    src, dst = src[by_src], dst[by_src]
    starts = np.searchsorted(src, np.arange(n + 1))
    for v in np.flatnonzero(state == 0):
        if state[v] == 0:
            state[v] = 1
            state[dst[starts[v]:starts[v + 1]]] = 2
    return state == 1


def _strip_edges(x1, y1, x2, y2, area, m: np.ndarray, here: np.ndarray, counts: np.ndarray,
                 thr: np.float64, prune: float):
    """Pairs of boxes ``m`` (one horizontal strip, sorted by x1) with IoU > thr.

    ``counts[p]``: how many boxes after position p start within p's x window (see
    :func:`_strip_plan`). Only pairs that overlap in y as well count, and only if their overlap
    starts in this strip (``here``: the box's top edge lies in the strip), so a pair spanning
    several strips is seen once.
    """
    n = m.size
    mx1, my1, mx2, my2, marea = x1[m], y1[m], x2[m], y2[m], area[m]  # contiguous: local gathers
    mh = my2 - my1
    cum = np.concatenate([[0], np.cumsum(counts)])
    src, dst = [], []
    p0 = 0
    while p0 < n and cum[-1]:
        p1 = min(max(int(np.searchsorted(cum, cum[p0] + _PAIR_CHUNK, side="right")) - 1, p0 + 1), n)
        c = counts[p0:p1]
        total = int(cum[p1] - cum[p0])
        if total:
            p = np.repeat(np.arange(p0, p1, dtype=np.int32), c)
            q = np.arange(total, dtype=np.int32)
            q -= np.repeat((cum[p0:p1] - cum[p0] - np.arange(p0 + 1, p1 + 1)).astype(np.int32), c)
            # y overlap (strict, inter > 0), larger than prune * max height (as for x), starting here
            top = np.maximum(np.repeat(my1[p0:p1], c), my1[q])
            oy = np.minimum(np.repeat(my2[p0:p1], c), my2[q]) - top
            ok = oy > 0
            if prune:
                ok &= oy > prune * np.maximum(np.repeat(mh[p0:p1], c), mh[q])
            ok &= np.repeat(here[p0:p1], c) | here[q]
            p, q = p[ok], q[ok]
            hit = _pair_iou(mx1, my1, mx2, my2, marea, p, q) > thr
            i, j = m[p[hit]], m[q[hit]]
            src.append(np.minimum(i, j))
            dst.append(np.maximum(i, j))
        p0 = p1
    return src, dst


def _prune_factor(x1, y1, x2, y2, thr: float) -> float:
    """How far the x-sweep may shrink its window: IoU > t implies an x-overlap > t max(w1, w2).

    Proof: inter = ox oy <= ox min(h1, h2) and union >= max(w1 h1, w2 h2) >= max(w1, w2) min(h1, h2),
    so IoU <= ox / max(w1, w2). The float IoU is within ~25 units of roundoff of the exact one
    (every difference is rounded once, the union has no cancellation since inter <= min(areas)),
    so pruning with t (1 - 2e-3) keeps every pair the float IoU could put above t, provided the
    float64 window bound is accurate to 1e-3 t w; that holds unless coordinates dwarf the box
    sizes (then no pruning, 0 returned).
    """
    if thr < 1e-3:
        return 0.0
    magnitude = max(float(np.abs(x1).max()), float(np.abs(x2).max()), float(np.abs(y1).max()), float(np.abs(y2).max()))
    smallest = float(min((x2 - x1).min(), (y2 - y1).min()))
    if not smallest > 0 or magnitude > 1e8 * smallest:
        return 0.0
    return min(thr, 1.0) * (1 - 2e-3)


def _strip_plan(x1, y1, x2, y2, thr: float):
    """Cut the image into horizontal strips about one box high and plan a sweep in each.

    Each box joins the strips it spans; inside a strip, boxes are sorted by x1 and box p's
    window holds the later boxes with x1 < x2[p] - prune * w[p] (all pairs that overlap in x,
    less those too short an overlap for IoU > thr, see :func:`_prune_factor`).

    Returns
    -------
    strips : list of (boxes sorted by x1, starts-here flags, window sizes)
    candidates : int, total pairs the sweep will look at (the cost of :func:`_sparse_edges`)
    prune : float
    """
    n = x1.shape[0]
    if n < 2:
        return [], 0, 0.0
    y0 = float(y1.min())
    h = (y2 - y1).astype(np.float64)
    # strips as high as a typical box; a few huge boxes must not join thousands of strips
    height = max(float(np.median(h)), float(h.mean()) / 4)
    first = np.floor((y1 - y0) / height).astype(np.int64)
    last = np.floor((y2 - y0) / height).astype(np.int64)
    nstrips = last - first + 1
    box = np.repeat(np.arange(n), nstrips)
    strip = np.repeat(first, nstrips) + (np.arange(box.size) - np.repeat(np.cumsum(nstrips) - nstrips, nstrips))
    by_strip = np.lexsort((x1[box], strip))  # strip, then x1
    box, strip = box[by_strip], strip[by_strip]
    starts_here = first[box] == strip
    bounds = np.flatnonzero(np.diff(strip)) + 1
    prune = _prune_factor(x1, y1, x2, y2, thr)
    strips, candidates = [], 0
    for m, here in zip(np.split(box, bounds), np.split(starts_here, bounds), strict=True):
        if m.size < 2:
            continue
        # float64 makes the window bound exact enough for the margin prune leaves
        right = x2[m].astype(np.float64)
        limit = right - prune * (right - x1[m]) if prune else right
        counts = np.searchsorted(x1[m], limit, side="left") - np.arange(m.size) - 1
        np.maximum(counts, 0, out=counts)
        candidates += int(counts.sum())
        strips.append((m, here, counts))
    return strips, candidates, prune


def _sparse_edges(x1, y1, x2, y2, area, thr: float, plan=None):
    """Pairs (i < j, score ranks) with IoU > thr >= 0, from a sweep in strips (:func:`_strip_plan`).

    Only pairs that overlap in both x and y can have IoU > 0; the strips and the sweep list
    those without looking at all N^2 pairs.
    """
    strips, _, prune = plan if plan is not None else _strip_plan(x1, y1, x2, y2, thr)
    srcs, dsts = [], []
    for m, here, counts in strips:
        # thr as float64: the C++ kernel compares its float IoU with a double threshold
        a, b = _strip_edges(x1, y1, x2, y2, area, m, here, counts, np.float64(thr), prune)
        srcs += a
        dsts += b
    if not srcs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(srcs), np.concatenate(dsts)


def _nms_sorted(b: np.ndarray, thr: float) -> np.ndarray:
    """Greedy NMS of boxes already in descending score order; returns kept positions, ascending."""
    n = b.shape[0]
    x1, y1, x2, y2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    area = (x2 - x1) * (y2 - y1)
    if thr < 0:
        # IoU >= 0 > thr: a kept box suppresses everything except where IoU is 0/0 (both boxes
        # of zero area). So: the first box, and if it has zero area, every other zero-area box.
        return np.array([0]) if area[0] != 0 else np.flatnonzero(area == 0)
    keep = np.zeros(n, bool)
    degenerate = ~((x2 > x1) & (y2 > y1))
    keep[degenerate] = True  # inter = 0, IoU 0 or 0/0: never suppressed, never suppress
    alive = np.flatnonzero(~degenerate)
    block = _DENSE_BLOCK
    thr64 = np.float64(thr)
    plan = None
    # Dense rounds: the best remaining block, resolved in itself, suppresses everything after it.
    # Go on while that removes boxes more cheaply than the sweep would resolve them.
    while alive.size > 2 * block:
        head, rest = alive[:block], alive[block:]
        ii, jj = np.triu_indices(block, 1)
        hit = _pair_iou(x1, y1, x2, y2, area, head[ii], head[jj]) > thr64
        kept_head = head[_resolve(block, ii[hit], jj[hit])]
        keep[kept_head] = True
        iou = _pair_iou(x1, y1, x2, y2, area, kept_head[:, None], rest[None, :])
        removed = (iou > thr64).any(axis=0)
        alive = rest[~removed]
        dense_cost = iou.size / max(int(removed.sum()), 1)  # IoU evaluations per box removed
        if dense_cost > _DENSE_CHEAP:  # planning the sweep costs time: only when in doubt
            plan = _strip_plan(x1[alive], y1[alive], x2[alive], y2[alive], thr)
            if dense_cost > _SWEEP_COST * plan[1] / max(alive.size, 1):  # sweep cost per box
                break
            plan = None
        block *= 2
    if alive.size:
        src, dst = _sparse_edges(x1[alive], y1[alive], x2[alive], y2[alive], area[alive], thr, plan)
        keep[alive[_resolve(alive.size, src, dst)]] = True
    return np.flatnonzero(keep)


def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; the indices ``torchvision.ops.nms`` returns.

    Visit boxes from the highest score down; keep a box unless a box kept before it overlaps
    it with IoU strictly greater than ``iou_threshold``.

    Parameters
    ----------
    boxes : (N, 4) array-like, xyxy
    scores : (N,) array-like, no NaN
    iou_threshold : float
        Boxes with IoU > iou_threshold with a kept, higher-scoring box are discarded.

    Returns
    -------
    (K,) int64 array of indices into ``boxes``, by descending score (ties: lower index first).
    """
    b = check_boxes(boxes)
    s = _check_scores(scores, b.shape[0])
    thr = _check_threshold(iou_threshold)
    if b.shape[0] == 0:
        return np.empty(0, np.int64)
    order = _score_order(s)
    return order[_nms_sorted(b[order], thr)].astype(np.int64)


def _check_idxs(idxs, n: int) -> np.ndarray:
    arr = np.asarray(idxs)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"idxs must have shape ({n},) (one category per box), got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"idxs must be integers (category ids), got dtype {arr.dtype}")
    return arr.astype(np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold: float) -> np.ndarray:
    """NMS within each category separately; the indices ``torchvision.ops.batched_nms`` returns.

    Boxes of different categories (``idxs``) never suppress each other. torchvision runs one
    NMS on boxes shifted by ``idx * (max coordinate + 1)`` when there are at most 1,000 boxes
    and one NMS per category above that; the shift rounds the coordinates, which can move an
    IoU across the threshold, so the same switch is made here to return the same indices.

    Parameters
    ----------
    boxes : (N, 4) array-like, xyxy
    scores : (N,) array-like
    idxs : (N,) integer array-like, the category of each box
    iou_threshold : float

    Returns
    -------
    (K,) int64 array of indices into ``boxes``, by descending score (ties: lower index first).
    """
    b = check_boxes(boxes)
    s = _check_scores(scores, b.shape[0])
    cls = _check_idxs(idxs, b.shape[0])
    thr = _check_threshold(iou_threshold)
    n = b.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    if b.size <= 4000:  # torchvision's CPU switch: boxes.numel() > 4000 -> one NMS per category
        offsets = cls.astype(b.dtype) * (b.max() + b.dtype.type(1))
        return nms(b + offsets[:, None], s, thr)
    keep = np.zeros(n, bool)
    by_cls = np.argsort(cls, kind="stable")
    bounds = np.flatnonzero(np.diff(cls[by_cls])) + 1
    for members in np.split(by_cls, bounds):
        keep[members[nms(b[members], s[members], thr)]] = True
    kept = np.flatnonzero(keep)
    return kept[_score_order(s[kept])].astype(np.int64)


def soft_nms(boxes, scores, iou_threshold: float = 0.3, sigma: float = 0.5,
             score_threshold: float = 0.001, method: str = "linear"):
    """Soft-NMS (Bodla et al., 2017): decay the scores of overlapping boxes instead of dropping them.

    Repeatedly take the remaining box with the highest (decayed) score (ties: lower index), output
    it, and decay every remaining box ``i`` by its IoU with it:

    - ``"linear"``: ``s_i *= 1 - IoU`` when ``IoU > iou_threshold`` (unchanged otherwise);
    - ``"gaussian"``: ``s_i *= exp(-IoU**2 / sigma)`` (``iou_threshold`` unused);

    then drop boxes whose score fell below ``score_threshold``. ``method="linear"`` with a
    decay of 1 would be plain NMS.

    Parameters
    ----------
    boxes : (N, 4) array-like, xyxy
    scores : (N,) array-like
    iou_threshold : float, overlap above which the linear method decays
    sigma : float > 0, width of the Gaussian penalty
    score_threshold : float, boxes whose score drops below it are discarded
    method : {"linear", "gaussian"}

    Returns
    -------
    keep : (K,) int64 indices into ``boxes`` in the order they were selected
    new_scores : (K,) float64 decayed scores of those boxes (non-increasing)
    """
    if method not in ("linear", "gaussian"):
        raise ValueError(f"method must be 'linear' or 'gaussian', got {method!r}")
    b = check_boxes(boxes)
    s = _check_scores(scores, b.shape[0]).astype(np.float64)
    thr = _check_threshold(iou_threshold)
    score_threshold = _check_threshold(score_threshold, "score_threshold")
    sigma = _check_threshold(sigma, "sigma")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    alive = np.flatnonzero(s >= score_threshold)
    s = s.copy()
    keep, kept_scores = [], []
    while alive.size:
        top = int(np.argmax(s[alive]))
        m = alive[top]
        keep.append(m)
        kept_scores.append(s[m])
        alive = np.delete(alive, top)
        if not alive.size:
            break
        iou = box_iou(b[m:m + 1].astype(np.float64), b[alive].astype(np.float64))[0]
        if method == "linear":
            decay = np.where(iou > thr, 1.0 - iou, 1.0)
        else:
            decay = np.exp(-(iou * iou) / sigma)
        s[alive] *= decay
        alive = alive[s[alive] >= score_threshold]
    return np.asarray(keep, np.int64), np.asarray(kept_scores, np.float64)
