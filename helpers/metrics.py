"""Detection metrics: precision/recall curves, average precision, Pascal VOC and COCO evaluation.

Three ways to turn a precision/recall curve into one number (:func:`average_precision`):

- ``"voc07"``: 11-point interpolated AP of PASCAL VOC 2007, the mean over recall levels
  0, 0.1, ..., 1 of the best precision reached at that recall or beyond;
- ``"voc12"``: all-point AP of VOC 2010-2012, the exact area under the monotone (right-to-left
  running maximum) envelope of the curve;
- ``"coco"``: 101-point AP of COCO, the mean of the envelope read at recall levels
  ``np.linspace(0, 1, 101)``, found with ``np.searchsorted`` as pycocotools does.

:func:`voc_evaluate` runs the Pascal VOC protocol (one IoU threshold, "difficult" objects
neither rewarded nor punished) on per-image arrays. :func:`coco_evaluate` runs the COCO
protocol on COCO-format input and returns the 12 standard numbers; it equals
``pycocotools.cocoeval.COCOeval(iouType="bbox")`` on every statistic, but evaluates all
(image, category) groups at once with NumPy instead of one Python loop per group, which makes
it many times faster (``benchmarks/bench_coco_eval.py``): IoUs of all same-group pairs in one
pass (with the exact floating-point steps of pycocotools' C code); the greedy matching "rank by
rank", step s matching the s-th candidate detection of every group against its group's gts for
all 4 area ranges and 10 IoU thresholds at once; and accumulation from the true positives
alone, with exact integer counts.

Deliberate differences from pycocotools (all documented where they apply):

- pycocotools records a match as the matched annotation's *id* and tests it for truth, so a
  ground-truth annotation with ``id == 0`` can never count as found: its detection becomes a
  false positive. Here matches are tracked by position, so id 0 is an ordinary id (the result
  equals pycocotools on the same data with ids renumbered from 1).
- Bad input raises a ``ValueError``/``TypeError`` naming the problem where pycocotools
  silently drops data or fails deep inside: detections of unknown categories, unknown image
  ids, boxes that are not 4 finite numbers or have negative width/height, NaN scores, missing
  keys, duplicate annotation ids. A missing ``iscrowd`` means 0.

Boxes: COCO input uses ``[x, y, w, h]`` as COCO does; the per-image arrays of
:func:`voc_evaluate` use ``xyxy`` float pixels (no "+1"), as everywhere in ``helpers``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from helpers.validate import real

__all__ = [
    "AP_METHODS",
    "COCO_AREA_RANGES",
    "COCO_IOU_THRESHOLDS",
    "COCO_MAX_DETS",
    "COCO_RECALL_THRESHOLDS",
    "COCO_STAT_KEYS",
    "average_precision",
    "coco_ap_by_area",
    "coco_evaluate",
    "coco_pr_curve",
    "precision_recall_curve",
    "voc_evaluate",
]

AP_METHODS = ("voc07", "voc12", "coco")

#: IoU thresholds .50:.05:.95, built exactly as pycocotools builds them (linspace, not arange).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: Recall levels 0:.01:1 at which COCO reads the precision envelope.
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)
#: Object-size buckets on the annotation's ``area`` field; both ends inclusive, as in pycocotools.
COCO_AREA_RANGES = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
#: Detections kept per image *and* category, for AR@1, AR@10 and everything else (100).
COCO_MAX_DETS = (1, 10, 100)
COCO_STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

_EPS = np.spacing(1)  # pycocotools' guard in tp / (tp + fp + eps)


# --------------------------------------------------------------------------------------------
# precision/recall curves and average precision
# --------------------------------------------------------------------------------------------

def _curve(recall, precision) -> tuple[np.ndarray, np.ndarray]:
    recall = np.asarray(recall, dtype=float)
    precision = np.asarray(precision, dtype=float)
    if recall.ndim != 1 or precision.ndim != 1:
        raise ValueError(f"recall and precision must be 1-D, got shapes {recall.shape} and {precision.shape}")
    if recall.shape != precision.shape:
        raise ValueError(f"recall {recall.shape} and precision {precision.shape} must have the same length")
    if not (np.all(np.isfinite(recall)) and np.all(np.isfinite(precision))):
        raise ValueError("recall and precision must be finite (no NaN/inf)")
    if recall.size and (recall.min() < 0 or recall.max() > 1 or precision.min() < 0 or precision.max() > 1):
        raise ValueError("recall and precision must lie in [0, 1]")
    if np.any(np.diff(recall) < 0):
        raise ValueError("recall must be non-decreasing (points in the order detections are ranked)")
    return recall, precision


def precision_recall_curve(scores, is_tp, num_gt: int, ignore=None):
    """Precision/recall curve of scored detections, ranked by descending score.

    Parameters
    ----------
    scores : (D,) array_like
        Detection confidences. Ties keep their input order (stable sort).
    is_tp : (D,) array_like of bool
        Whether each detection matched a not-yet-matched ground truth (a true positive).
    num_gt : int
        Number of ground-truth objects (the recall denominator), > 0.
    ignore : (D,) array_like of bool, optional
        Detections that count neither as true nor false positives (e.g. matched to a
        "difficult" or crowd object); they are left out of the curve.

    Returns
    -------
    recall, precision, thresholds : (D',) float arrays
        One point per kept detection, in rank order; ``thresholds`` are the sorted scores,
        i.e. point ``i`` is what you get by keeping detections with score >= thresholds[i]
        (ties in input order). Precision is ``tp / (tp + fp)`` exactly.
    """
    scores = np.asarray(scores, dtype=float).reshape(-1)
    is_tp = np.asarray(is_tp, dtype=bool).reshape(-1)
    if is_tp.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and is_tp {is_tp.shape} must have the same length")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no NaN/inf)")
    if not (isinstance(num_gt, (int, np.integer)) and num_gt > 0):
        raise ValueError(f"num_gt must be a positive integer, got {num_gt!r}")
    keep = np.ones_like(is_tp)
    if ignore is not None:
        ignore = np.asarray(ignore, dtype=bool).reshape(-1)
        if ignore.shape != scores.shape:
            raise ValueError(f"ignore {ignore.shape} must have the length of scores {scores.shape}")
        keep = ~ignore
    order = np.argsort(-scores, kind="mergesort")
    order = order[keep[order]]
    tp = np.cumsum(is_tp[order])
    if tp.size and tp[-1] > num_gt:
        raise ValueError(f"{tp[-1]} true positives but only num_gt={num_gt} objects")
    fp = np.arange(1, tp.size + 1) - tp
    return tp / num_gt, tp / (tp + fp), scores[order]


def average_precision(recall, precision, method: str = "voc12") -> float:
    """Average precision of one precision/recall curve.

    Parameters
    ----------
    recall, precision : (N,) array_like
        Points of the curve in rank order (recall non-decreasing), values in [0, 1], e.g.
        from :func:`precision_recall_curve`. An empty curve has AP 0.
    method : {"voc07", "voc12", "coco"}
        ``"voc07"``: mean over recall levels t = 0, 0.1, ..., 1 of max(precision[recall >= t])
        (0 where recall never reaches t). The levels are the correctly rounded decimals
        ``i / 10``; the classic ``voc_eval.py`` uses ``np.arange(0, 1.1, 0.1)`` (and
        ``np.linspace`` is no better), whose 0.30000000000000004 misses a recall of exactly 0.3.
        ``"voc12"``: area under the precision envelope (running max from the right), the curve
        extended with recall 0 and 1 at precision 0, summed where recall changes.
        ``"coco"``: mean of the envelope at the 101 recall levels ``np.linspace(0, 1, 101)``,
        each read at the first point whose recall reaches the level (``np.searchsorted``,
        side="left"), 0 past the end of the curve, as pycocotools' ``accumulate``.

    Returns
    -------
    float
    """
    if method not in AP_METHODS:
        raise ValueError(f"method must be one of {AP_METHODS}, got {method!r}")
    recall, precision = _curve(recall, precision)
    if method == "voc07":
        ap = 0.0
        for t in np.arange(11) / 10:  # correctly rounded i/10; linspace/arange give 0.30000000000000004
            reached = recall >= t
            ap += (precision[reached].max() if reached.any() else 0.0) / 11.0
        return float(ap)
    if method == "voc12":
        mrec = np.concatenate(([0.0], recall, [1.0]))
        mpre = np.concatenate(([0.0], precision, [0.0]))
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        i = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    inds = np.searchsorted(recall, COCO_RECALL_THRESHOLDS, side="left")
    q = np.zeros(COCO_RECALL_THRESHOLDS.size)
    inside = inds < recall.size
    q[inside] = envelope[inds[inside]]
    return float(np.mean(q))


# --------------------------------------------------------------------------------------------
# input checking shared by VOC and COCO evaluation
# --------------------------------------------------------------------------------------------

def _column(records, key: str, what: str) -> list:
    """``[r[key] for r in records]`` with an error naming the first record that lacks ``key``."""
    try:
        return [r[key] for r in records]
    except (KeyError, TypeError, IndexError):
        for i, r in enumerate(records):
            if not isinstance(r, Mapping):
                raise TypeError(f"{what} {i} must be a dict, got {type(r).__name__}") from None
            if key not in r:
                raise ValueError(f"{what} {i} has no {key!r} key: {_short(r)}") from None
        raise


def _short(obj, n: int = 120) -> str:
    text = repr(obj)
    return text if len(text) <= n else text[: n - 3] + "..."


def _numbers(values, what: str, key: str) -> np.ndarray:
    """A float64 vector of ``values`` with a clear error for non-numbers or NaN/inf."""
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or out.ndim != 1:
        for i, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{what} {i}: {key!r} must be a number, got {_short(v)}") from None
        raise ValueError(f"{what}: {key!r} values must be numbers")
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise ValueError(f"{what} {bad[0]}: {key!r} is {out[bad[0]]} (must be finite)")
    return out


def _xywh(values, what: str) -> np.ndarray:
    """An (N, 4) float64 array of ``[x, y, w, h]`` boxes, checked: 4 finite numbers, w, h >= 0."""
    n = len(values)
    if n == 0:
        return np.zeros((0, 4))
    try:  # fast path for a list of 4-sequences (3x faster than np.asarray on a nested list)
        if np.any(np.fromiter(map(len, values), dtype=np.int64, count=n) != 4):
            raise ValueError
        boxes = np.fromiter(itertools.chain.from_iterable(values), dtype=np.float64, count=4 * n)
    except (TypeError, ValueError):
        boxes = None
    if boxes is None:
        for i, b in enumerate(values):
            try:
                ok = len(b) == 4 and all(np.isscalar(v) and np.isreal(v) for v in b)
            except TypeError:
                ok = False
            if not ok:
                raise ValueError(f"{what} {i}: 'bbox' must be 4 numbers [x, y, w, h], got {_short(b)}")
        raise ValueError(f"{what}: every 'bbox' must be 4 numbers [x, y, w, h]")
    boxes = boxes.reshape(n, 4)
    bad = np.flatnonzero(~np.all(np.isfinite(boxes), axis=1))
    if bad.size:
        raise ValueError(f"{what} {bad[0]}: 'bbox' {values[bad[0]]} is not finite")
    bad = np.flatnonzero((boxes[:, 2] < 0) | (boxes[:, 3] < 0))
    if bad.size:
        raise ValueError(f"{what} {bad[0]}: 'bbox' {values[bad[0]]} has a negative width or height")
    return boxes


def _is_id(value) -> bool:
    return isinstance(value, (int, np.integer, str)) and not isinstance(value, (bool, np.bool_))


def _unique_ids(records, what: str) -> list:
    """The ``id`` of every record: ints or strings (one kind), each used once; errors name the record."""
    ids = _column(records, "id", what)
    bad = next((n for n, i in enumerate(ids) if not _is_id(i)), None)
    if bad is not None:
        raise TypeError(f"{what} {bad}: 'id' must be an int or a string, got {_short(ids[bad])}")
    strings = [isinstance(i, str) for i in ids]
    if any(strings) and not all(strings):
        raise TypeError(f"{what} ids mix ints and strings ({_short(ids[strings.index(False)])} and "
                        f"{_short(ids[strings.index(True)])}); use one kind")
    if len(set(ids)) != len(ids):
        seen = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise ValueError(f"{what} id {dup!r} is used more than once")
    return ids


def _indices(ids, index: dict, what: str, key: str) -> np.ndarray:
    """Positions of ``ids`` in ``index`` ({id: position}), with an error naming an unknown id."""
    try:
        return np.fromiter(map(index.__getitem__, ids), dtype=np.int64, count=len(ids))
    except (KeyError, TypeError):
        for n, i in enumerate(ids):
            try:
                index[i]
            except (KeyError, TypeError):
                known = sorted(index, key=repr)
                sample = ", ".join(map(repr, known[:5])) + (", ..." if len(known) > 5 else "")
                raise ValueError(f"{what} {n}: unknown {key} {i!r} (known: {sample or 'none'})") from None
        raise


# --------------------------------------------------------------------------------------------
# Pascal VOC evaluation
# --------------------------------------------------------------------------------------------

def _voc_image(record, i: int, what: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(record, Mapping):
        raise TypeError(f"{what} image {i} must be a dict with keys {keys}, got {type(record).__name__}")
    out = {}
    for key in keys:
        if key not in record:
            raise ValueError(f"{what} image {i} has no {key!r} key (needs {keys})")
        out[key] = np.asarray(record[key])
    try:
        boxes = out["boxes"].astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} image {i}: 'boxes' must be numbers") from None
    boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{what} image {i}: 'boxes' must have shape (N, 4) xyxy, got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{what} image {i}: 'boxes' contain NaN/inf")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"{what} image {i}: a box has x2 < x1 or y2 < y1 (boxes are xyxy)")
    out["boxes"] = boxes
    n = len(boxes)
    for key in keys[1:]:
        out[key] = out[key].reshape(0) if out[key].size == 0 else out[key]
        if out[key].shape != (n,):
            raise ValueError(f"{what} image {i}: {key!r} must have shape ({n},), got {out[key].shape}")
    out["labels"] = _integer_labels(out["labels"], f"{what} image {i}")
    return out


def _integer_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """Class labels as int64: integers, or floats with whole values (1.0); 1.7, NaN, text refused."""
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
        if bad.size == 0:
            return labels.astype(np.int64)
        raise ValueError(f"{what}: 'labels' must be whole numbers (class ids), got {labels[bad[0]]!r}")
    raise TypeError(f"{what}: 'labels' must be integers (class ids), got dtype {labels.dtype}")


def _pair_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row i of ``a`` with row i of ``b`` (both (P, 4) xyxy); 0 where the union is empty."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _group_pairs(det_code: np.ndarray, gt_code_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (detection, ground truth) index pairs sharing a group code; gts sorted by code."""
    lo = np.searchsorted(gt_code_sorted, det_code, side="left")
    cnt = np.searchsorted(gt_code_sorted, det_code, side="right") - lo
    total = int(cnt.sum())
    pdet = np.repeat(np.arange(det_code.size), cnt)
    first = np.repeat(np.cumsum(cnt) - cnt, cnt)
    pgt = np.repeat(lo, cnt) + (np.arange(total) - first)
    return pdet, pgt


def voc_evaluate(gt: Sequence[Mapping], dets: Sequence[Mapping], iou_threshold: float = 0.5,
                 metric: str = "voc12") -> dict:
    """Pascal VOC evaluation: per-class AP at one IoU threshold and their mean (mAP).

    The protocol of py-faster-rcnn's ``voc_eval.py``: per class, detections are ranked by
    descending score (ties: image order, then order within the image). Each takes the
    ground-truth box of its class and image with the highest IoU (the first one on ties); if
    that IoU is above ``iou_threshold`` (strictly: ``ovmax > ovthresh`` in ``voc_eval.py``; the
    official MATLAB devkit's ``VOCevaldet.m`` accepts ``ovmax >= minoverlap``, so the two differ
    only for an IoU exactly at the threshold), the detection is a true
    positive when that box was not found before, a false positive when it was, and is ignored
    (neither) when the box is "difficult". Otherwise it is a false positive. Recall counts the
    non-difficult objects. Boxes are xyxy without the devkit's "+1" pixel convention.

    Parameters
    ----------
    gt : sequence of dict, one per image
        ``{"boxes": (G, 4) xyxy, "labels": (G,) int, "difficult": (G,) bool (optional)}``.
    dets : sequence of dict, same length and image order as ``gt``
        ``{"boxes": (D, 4) xyxy, "scores": (D,), "labels": (D,) int}``.
    iou_threshold : float
        Overlap needed to match, in [0, 1).
    metric : {"voc12", "voc07", "coco"}
        How each class's curve becomes an AP, see :func:`average_precision`.

    Returns
    -------
    dict
        ``"mAP"``: mean AP over classes with at least one non-difficult object;
        ``"per_class_AP"``: ``{label: AP}`` (NaN for a class with no non-difficult object);
        ``"num_gt"``: ``{label: number of non-difficult objects}``;
        ``"recall"``, ``"precision"``, ``"scores"``: ``{label: (N,) array}``, the curve of each
        class in rank order (detections matched to difficult objects left out).
    """
    if not isinstance(metric, str) or metric not in AP_METHODS:
        raise ValueError(f"metric must be one of {AP_METHODS}, got {metric!r}")
    iou_threshold = real(iou_threshold, "iou_threshold", low=0.0)
    if not iou_threshold < 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1), got {iou_threshold!r}")
    if isinstance(gt, Mapping) or isinstance(dets, Mapping):
        raise TypeError("gt and dets must be sequences with one dict per image")
    if len(gt) != len(dets):
        raise ValueError(f"gt has {len(gt)} images but dets has {len(dets)}")
    g_img, g_box, g_lab, g_diff, d_img, d_box, d_lab, d_score = [], [], [], [], [], [], [], []
    for i, (g, d) in enumerate(zip(gt, dets, strict=True)):
        gi = _voc_image(g, i, "gt", ("boxes", "labels"))
        if isinstance(g, Mapping) and "difficult" in g:
            diff = np.asarray(g["difficult"]).astype(bool).reshape(-1)
            if diff.shape != (len(gi["boxes"]),):
                raise ValueError(f"gt image {i}: 'difficult' must have shape ({len(gi['boxes'])},)")
        else:
            diff = np.zeros(len(gi["boxes"]), dtype=bool)
        di = _voc_image(d, i, "dets", ("boxes", "scores", "labels"))
        scores = di["scores"].astype(np.float64)
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"dets image {i}: 'scores' contain NaN/inf")
        g_img.append(np.full(len(gi["boxes"]), i))
        g_box.append(gi["boxes"])
        g_lab.append(gi["labels"].reshape(-1))
        g_diff.append(diff)
        d_img.append(np.full(len(di["boxes"]), i))
        d_box.append(di["boxes"])
        d_lab.append(di["labels"].reshape(-1))
        d_score.append(scores)

    def cat(parts, shape=(0,), dtype=np.float64):
        parts = [p for p in parts if p.size]  # an empty list is float64: it must not promote labels
        return np.concatenate(parts) if parts else np.zeros(shape, dtype)

    g_img, g_box, g_lab, g_diff = cat(g_img, dtype=int), cat(g_box, (0, 4)), cat(g_lab, dtype=int), cat(g_diff, dtype=bool)
    d_img, d_box, d_lab, d_score = cat(d_img, dtype=int), cat(d_box, (0, 4)), cat(d_lab, dtype=int), cat(d_score)

    labels = np.unique(np.concatenate([g_lab, d_lab]))
    n_img = len(gt)
    g_code = np.searchsorted(labels, g_lab) * n_img + g_img
    g_order = np.argsort(g_code, kind="stable")
    g_code, g_box, g_diff = g_code[g_order], g_box[g_order], g_diff[g_order]
    d_code = np.searchsorted(labels, d_lab) * n_img + d_img

    # best-overlapping gt of each detection (the first one on ties, as np.argmax in voc_eval)
    pdet, pgt = _group_pairs(d_code, g_code)
    iou = _pair_iou_xyxy(d_box[pdet], g_box[pgt])
    pos = np.lexsort((-pgt, iou, pdet))  # per detection: ascending IoU, the first gt last
    last = np.r_[pdet[pos][1:] != pdet[pos][:-1], True] if pos.size else np.zeros(0, bool)
    best_gt = np.full(d_code.size, -1)
    best_iou = np.zeros(d_code.size)
    best_gt[pdet[pos][last]] = pgt[pos][last]
    best_iou[pdet[pos][last]] = iou[pos][last]

    # rank per class by descending score, then image, then position in the image (stable)
    rank = np.lexsort((-d_score, d_code // n_img))
    hit = best_iou[rank] > iou_threshold
    gt_of = best_gt[rank]
    ignored = hit & np.r_[g_diff, False][gt_of]  # gt_of == -1 reads the padded False
    candidate = hit & ~ignored
    # a gt is found by the first candidate that picks it; later ones are duplicates (fp)
    first = np.zeros(rank.size, dtype=bool)
    cand_idx = np.flatnonzero(candidate)
    _, first_of_gt = np.unique(gt_of[cand_idx], return_index=True)
    first[cand_idx[first_of_gt]] = True

    result = {"per_class_AP": {}, "num_gt": {}, "recall": {}, "precision": {}, "scores": {}}
    ranked_label = labels[d_code[rank] // n_img] if rank.size else np.zeros(0, int)
    for k, label in enumerate(labels.tolist()):
        npos = int(np.count_nonzero((g_code // n_img == k) & ~g_diff))
        sel = (ranked_label == label) & ~ignored
        tp = np.cumsum(first[sel])
        fp = np.cumsum(~first[sel])
        result["num_gt"][label] = npos
        result["scores"][label] = d_score[rank][sel]
        if npos == 0:
            result["per_class_AP"][label] = float("nan")
            result["recall"][label] = np.full(tp.size, np.nan)
            result["precision"][label] = tp / np.maximum(tp + fp, 1)
            continue
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        result["recall"][label] = rec
        result["precision"][label] = prec
        result["per_class_AP"][label] = average_precision(rec, prec, metric)
    aps = [ap for label, ap in result["per_class_AP"].items() if result["num_gt"][label] > 0]
    result["mAP"] = float(np.mean(aps)) if aps else float("nan")
    return result


# --------------------------------------------------------------------------------------------
# COCO evaluation
# --------------------------------------------------------------------------------------------

def _load_json(obj, what: str):
    if isinstance(obj, (str, os.PathLike)):
        try:
            with open(obj) as f:
                return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{what} file {os.fspath(obj)!r} is not valid JSON: {err}") from None
    return obj


def _coco_gt_arrays(gt) -> dict:
    """Ground truth as arrays; images and categories as sorted id lists (pycocotools' order)."""
    gt = _load_json(gt, "ground-truth")
    if not isinstance(gt, Mapping) and isinstance(getattr(gt, "dataset", None), Mapping):
        gt = gt.dataset  # a pycocotools / faster-coco-eval COCO object
    if not isinstance(gt, Mapping):
        raise TypeError(f"gt must be a COCO dict or a path to a COCO JSON file, got {type(gt).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in gt:
            raise ValueError(f"COCO ground truth has no {key!r} list")
    img_ids = sorted(_unique_ids(gt["images"], "image"))
    cat_ids = sorted(_unique_ids(gt["categories"], "category"))
    anns = gt["annotations"]
    what = "ground-truth annotation"
    ids = _unique_ids(anns, what)
    img_index = {i: n for n, i in enumerate(img_ids)}
    cat_index = {c: n for n, c in enumerate(cat_ids)}
    area = _numbers(_column(anns, "area", what), what, "area")
    bad = np.flatnonzero(area < 0)
    if bad.size:
        raise ValueError(f"{what} {bad[0]}: 'area' is negative ({area[bad[0]]})")
    crowd = [a.get("iscrowd", 0) for a in anns]
    bad = next((n for n, c in enumerate(crowd) if c not in (0, 1) or isinstance(c, str)), None)
    if bad is not None:
        raise ValueError(f"{what} {bad}: 'iscrowd' must be 0 or 1, got {_short(crowd[bad])}")
    return {
        "img_ids": img_ids,
        "cat_ids": cat_ids,
        "cat_names": {c["id"]: c.get("name", str(c["id"])) for c in gt["categories"]},
        "img": _indices(_column(anns, "image_id", what), img_index, what, "image_id"),
        "cat": _indices(_column(anns, "category_id", what), cat_index, what, "category_id"),
        "box": _xywh(_column(anns, "bbox", what), what),
        "area": area,
        "crowd": np.fromiter((bool(c) for c in crowd), dtype=bool, count=len(crowd)),
        "id": ids,
        "img_index": img_index,
        "cat_index": cat_index,
    }


def _coco_det_arrays(dets, gt: dict) -> dict:
    dets = _load_json(dets, "detections")
    if isinstance(dets, Mapping) or not isinstance(dets, Sequence) or isinstance(dets, (str, bytes)):
        raise TypeError("dets must be a list of {'image_id', 'category_id', 'bbox', 'score'} dicts "
                        f"or a path to such a JSON list, got {type(dets).__name__}")
    what = "detection"
    box = _xywh(_column(dets, "bbox", what), what)
    return {
        "img": _indices(_column(dets, "image_id", what), gt["img_index"], what, "image_id"),
        "cat": _indices(_column(dets, "category_id", what), gt["cat_index"], what, "category_id"),
        "box": box,
        "score": _numbers(_column(dets, "score", what), what, "score"),
        "area": box[:, 2] * box[:, 3],  # pycocotools' loadRes: w * h
    }


def _coco_pair_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xywh box pairs with the exact floating-point steps of pycocotools' ``bbIou`` (C).

    For a crowd gt the union is the detection's area, so a detection inside a crowd region
    has "IoU" 1. Same arithmetic, same bits: IoU exactly at a threshold behaves identically.
    """
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=(w > 0) & (h > 0))


def _segment_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal values in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]


def _rank_in_segment(sorted_keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    starts = _segment_starts(sorted_keys)
    return np.arange(sorted_keys.size) - np.repeat(starts, np.diff(np.r_[starts, sorted_keys.size]))


def _coco_match(G: dict, D: dict, area_ranges: dict | None = None) -> dict:
    """Greedy COCO matching of every (image, category) group, all at once.

    Keeps the 100 best-scoring detections of each group (``rank`` = position in the group)
    and returns the matches as sparse entries (area range ``a``, IoU threshold ``t``,
    detection, whether the matched gt is ignored) plus what accumulation needs.
    """
    n_img = len(G["img_ids"])
    ranges = COCO_AREA_RANGES if area_ranges is None else area_ranges
    area_lo = np.array([r[0] for r in ranges.values()], dtype=np.float64)
    area_hi = np.array([r[1] for r in ranges.values()], dtype=np.float64)

    # gts grouped by (category, image), dataset order inside a group (pycocotools' order)
    g_code = G["cat"] * n_img + G["img"]
    g_order = np.argsort(g_code, kind="stable")
    g_code = g_code[g_order]
    g_box, g_area, g_crowd = G["box"][g_order], G["area"][g_order], G["crowd"][g_order]
    # ignored: crowd or outside the area range (both ends inclusive)
    g_ignore = g_crowd[None] | (g_area[None] < area_lo[:, None]) | (g_area[None] > area_hi[:, None])

    # detections grouped the same way, by descending score (stable), first 100 of each group
    d_code = D["cat"] * n_img + D["img"]
    order = np.lexsort((-D["score"], d_code))
    rank = _rank_in_segment(d_code[order])
    keep = rank < max(COCO_MAX_DETS)
    order, rank = order[keep], rank[keep]
    d_code = d_code[order]
    d_box, d_area = D["box"][order], D["area"][order]

    # candidate pairs: same group and IoU >= the lowest threshold (others never match)
    thr = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)  # pycocotools' cap, so IoU 1 can match at .95
    pdet, pgt = _group_pairs(d_code, g_code)
    iou = _coco_pair_iou(d_box[pdet], g_box[pgt], g_crowd[pgt])
    cand = iou >= thr.min()
    pdet, pgt, iou = pdet[cand], pgt[cand], iou[cand]

    A, T = g_ignore.shape[0], thr.size
    found = []  # per greedy step: (area index, threshold index, detection, gt)
    if pdet.size:
        # Step s of pycocotools' greedy loop handles the s-th candidate detection of every
        # group at once: groups share no gts, so their loops are independent.
        cdets = pdet[_segment_starts(pdet)]  # pdet is sorted: by group, then rank
        step = np.zeros(d_code.size, dtype=np.int64)
        step[cdets] = _rank_in_segment(d_code[cdets])
        # Per step and detection, candidates by ascending (IoU, gt position): the loop's
        # winner (best IoU, the later gt on ties, unignored before ignored) is then the last
        # valid entry of the detection's segment once unignored entries get a large bonus.
        srt = np.lexsort((pgt, iou, pdet, step[pdet]))
        pdet, pgt, iou = pdet[srt], pgt[srt], iou[srt]
        pstep = step[pdet]
        bounds = np.searchsorted(pstep, np.arange(pstep[-1] + 2))
        g_taken = np.zeros((A, T, g_code.size), dtype=bool)
        g_keep = ~g_ignore
        thr_col = thr[None, :, None]
        for s in range(pstep[-1] + 1):
            lo, hi = bounds[s], bounds[s + 1]
            g, io, dd = pgt[lo:hi], iou[lo:hi], pdet[lo:hi]
            seg = _segment_starts(dd)
            n = hi - lo
            # a gt is available unless matched before at this (area, threshold); crowds always are
            valid = ~g_taken[:, :, g] | g_crowd[g]
            valid &= io[None, None, :] >= thr_col
            key = np.where(valid, np.arange(1, n + 1) + (n + 1) * g_keep[:, g][:, None, :], 0)
            best = np.maximum.reduceat(key, seg, axis=2)
            a_i, t_i, j = np.nonzero(best)
            gw = g[best[a_i, t_i, j] % (n + 1) - 1]
            g_taken[a_i, t_i, gw] = True
            found.append((a_i, t_i, dd[seg[j]], gw))
    if found:
        e_a, e_t, e_det, e_gt = (np.concatenate(x) for x in zip(*found, strict=True))
    else:
        e_a = e_t = e_det = e_gt = np.zeros(0, dtype=np.int64)
    return {
        "rank": rank, "img": D["img"][order], "cat": D["cat"][order], "score": D["score"][order],
        # unmatched detections outside the area range are ignored, not false positives
        "det_out": (d_area[None] < area_lo[:, None]) | (d_area[None] > area_hi[:, None]),
        "e_a": e_a, "e_t": e_t, "e_det": e_det, "e_ignored": g_ignore[e_a, e_gt],
        "g_cat": G["cat"][g_order], "g_ignore": g_ignore, "T": T,
    }


def _recall_counts(npig: np.ndarray) -> np.ndarray:
    """Smallest tp count c with c / npig >= each recall level (float division, as pycocotools)."""
    rt = COCO_RECALL_THRESHOLDS
    n = np.maximum(npig, 1)[..., None].astype(np.float64)
    c = np.maximum(np.floor(rt * n) - 1, 0)
    while True:
        low = c / n < rt
        if not low.any():
            return c.astype(np.int64)
        c += low


def _coco_accumulate(M: dict, n_cat: int):
    """Precision (T, R, K, A, M) and recall (T, K, A, M) arrays, -1 where a category has no gt.

    pycocotools' ``accumulate`` walks every detection of a category in score order. Only true
    positives matter: the precision envelope at recall level r is read at the first detection
    reaching it, which is a true positive, and no false positive or ignored detection after it
    beats the precision at the true positive before it. So this works on the (few) match
    entries: a true positive's precision is its ordinal / (ordinal + false positives ranked
    before it), with the false positives counted by cumulative sums, all in exact integers,
    and the same floating-point formula as pycocotools.
    """
    det_out = M["det_out"]
    A, T = det_out.shape[0], M["T"]
    R, K = COCO_RECALL_THRESHOLDS.size, n_cat
    precision = -np.ones((T, R, K, A, len(COCO_MAX_DETS)))
    recall = -np.ones((T, K, A, len(COCO_MAX_DETS)))
    npig = np.stack([np.bincount(M["g_cat"][~M["g_ignore"][a]], minlength=K) for a in range(A)], axis=1)
    has_gt = (npig > 0).T[:, None, :]  # (A, 1, K)
    # true positives needed for each recall level; level 0 reads the envelope's start: tp #1
    need = np.maximum(_recall_counts(npig), 1).transpose(1, 0, 2)  # (A, K, R)
    need = np.broadcast_to(need[:, None], (A, T, K, R)).reshape(-1, R)
    n_rows = A * T * K

    # pycocotools' order inside a category: descending score, then image, then rank in the
    # image, i.e. a stable sort by score of the (category, image, rank) order M already has
    acc = np.lexsort((-M["score"], M["cat"]))
    cat, rank, out = M["cat"][acc], M["rank"][acc], det_out[:, acc]
    n_det = acc.size
    pos_of = np.empty_like(acc)
    pos_of[acc] = np.arange(n_det)
    cstart = np.searchsorted(cat, np.arange(K))

    # match entries by (area, threshold, position): rows (a, t, k) become contiguous runs
    e_pos = pos_of[M["e_det"]]
    srt = np.argsort((M["e_a"] * T + M["e_t"]) * (n_det + 1) + e_pos)  # unique keys
    e_a, e_t, e_pos, e_ign = M["e_a"][srt], M["e_t"][srt], e_pos[srt], M["e_ignored"][srt]
    e_cat, e_out, e_rank = cat[e_pos], out[e_a, e_pos], rank[e_pos]
    counted = np.zeros((A, n_det + 1), dtype=np.int64)
    for m, max_det in enumerate(COCO_MAX_DETS):
        # detections that can be false positives (inside the area range), counted from the
        # start of their category
        can_fp = (~out & (rank < max_det)).view(np.int8)
        np.cumsum(can_fp, axis=1, dtype=np.int64, out=counted[:, 1:])
        keep = e_rank < max_det
        a, t, pos, k, ign, eout = e_a[keep], e_t[keep], e_pos[keep], e_cat[keep], e_ign[keep], e_out[keep]
        row = (a * T + t) * K + k  # sorted
        starts = _segment_starts(row)
        row_first = np.repeat(starts, np.diff(np.r_[starts, row.size]))
        # per row: matched detections inside the area range so far, and true positives so far
        m_in = np.cumsum(~eout)
        m_in -= np.r_[0, m_in][row_first]
        is_tp = ~ign
        tpc = np.cumsum(is_tp)
        tpc -= np.r_[0, tpc][row_first]
        # false positives ranked up to a true positive: unmatched detections inside the range
        fpc = counted[a, pos + 1] - counted[a, cstart[k]] - m_in
        tp_row, tpc, fpc = row[is_tp], tpc[is_tp], fpc[is_tp]
        tpf = tpc.astype(np.float64)
        pr = tpf / (fpc.astype(np.float64) + tpf + _EPS)  # pycocotools' formula, same bits
        n_tp = np.bincount(tp_row, minlength=n_rows)
        # envelope at tp #need: the max of pr from there to the row's end. Blocks between
        # consecutive needed tps (np.maximum.reduceat), then a running max from the right.
        reached = need <= n_tp[:, None]
        starts_q = (np.cumsum(n_tp) - n_tp)[:, None] + need - 1
        block = np.full((n_rows, R), -np.inf)
        if pr.size:
            block[reached] = np.maximum.reduceat(pr, starts_q[reached])
        env = np.maximum.accumulate(block[:, ::-1], axis=1)[:, ::-1]
        q = np.where(reached, env, 0.0).reshape(A, T, K, R)
        rc = n_tp.reshape(A, T, K) / np.maximum(npig.T, 1)[:, None, :]
        precision[..., m] = np.where(has_gt[..., None], q, -1.0).transpose(1, 3, 2, 0)
        recall[..., m] = np.where(has_gt, rc, -1.0).transpose(1, 2, 0)
    return precision, recall


def _coco_summarize(precision: np.ndarray, recall: np.ndarray) -> dict:
    """The 12 numbers of pycocotools' ``summarize``, computed the same way (mean of entries > -1)."""
    labels = list(COCO_AREA_RANGES)

    def mean(ap, iou_thr=None, area="all", max_dets=100):
        aind = [i for i, lbl in enumerate(labels) if lbl == area]
        mind = [i for i, m in enumerate(COCO_MAX_DETS) if m == max_dets]
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == COCO_IOU_THRESHOLDS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    values = [
        mean(1), mean(1, iou_thr=0.5), mean(1, iou_thr=0.75),
        mean(1, area="small"), mean(1, area="medium"), mean(1, area="large"),
        mean(0, max_dets=1), mean(0, max_dets=10), mean(0, max_dets=100),
        mean(0, area="small"), mean(0, area="medium"), mean(0, area="large"),
    ]
    return dict(zip(COCO_STAT_KEYS, values, strict=True))


def coco_evaluate(gt, dets) -> dict:
    """COCO bounding-box evaluation, equal to ``pycocotools.cocoeval.COCOeval(iouType="bbox")``.

    Parameters
    ----------
    gt : dict, path or ``pycocotools.coco.COCO``
        COCO ground truth: ``images`` (``id``), ``categories`` (``id``, ``name``) and
        ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox`` [x, y, w, h],
        ``area``, ``iscrowd`` (optional, default 0)). Size buckets use ``area`` (the mask area
        in real COCO), not the box's w*h. Crowd regions: a detection's overlap with one is
        intersection / detection area; detections on them are ignored; any number may match.
    dets : list of dict or path
        ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` for each detection;
        image and category ids must exist in ``gt``. Only the 100 best-scoring detections
        per image and category count, as in pycocotools.

    Returns
    -------
    dict
        ``"AP" "AP50" "AP75" "APs" "APm" "APl" "AR1" "AR10" "AR100" "ARs" "ARm" "ARl"``: the
        12 numbers of ``COCOeval.stats`` in that order (-1 where nothing is defined);
        ``"per_class_AP"``: ``{category_id: AP@[.5:.95]}`` (-1 for a category without ground
        truth: such categories are left out of every mean); ``"category_names"``:
        ``{category_id: name}``; ``"precision"``: (T=10, R=101, K, A=4, M=3) and ``"recall"``:
        (T, K, A, M), ``COCOeval.eval``'s arrays (index K as ``"category_ids"``, A as
        ``"area_ranges"``, M as ``"max_dets"``); ``"iou_thresholds"``, ``"recall_thresholds"``.

    Notes
    -----
    Unlike pycocotools, a ground-truth annotation with ``id`` 0 can be matched (pycocotools
    stores the matched id and tests it for truth, so it turns that detection into a false
    positive), and detections of unknown categories raise an error instead of being dropped.
    """
    G = _coco_gt_arrays(gt)
    D = _coco_det_arrays(dets, G)
    matches = _coco_match(G, D)
    precision, recall = _coco_accumulate(matches, len(G["cat_ids"]))
    out = _coco_summarize(precision, recall)
    per_class = {}
    for k, cat_id in enumerate(G["cat_ids"]):
        s = precision[:, :, k, 0, -1]
        per_class[cat_id] = float(np.mean(s[s > -1])) if np.any(s > -1) else -1.0
    out.update(
        per_class_AP=per_class,
        category_names={c: G["cat_names"][c] for c in G["cat_ids"]},
        category_ids=list(G["cat_ids"]),
        precision=precision,
        recall=recall,
        iou_thresholds=COCO_IOU_THRESHOLDS.copy(),
        recall_thresholds=COCO_RECALL_THRESHOLDS.copy(),
        area_ranges=list(COCO_AREA_RANGES),
        max_dets=list(COCO_MAX_DETS),
    )
    return out


def coco_ap_by_area(gt, dets, area_ranges: Mapping[str, tuple[float, float]]) -> dict:
    """COCO AP per object-size bucket of your choosing, as pycocotools computes APs/APm/APl.

    COCO's buckets (:data:`COCO_AREA_RANGES`: 32^2 and 96^2 pixels) suit COCO's images; a data
    set whose objects are all "medium" by them needs buckets of its own (e.g. terciles of its
    object areas). Semantics are pycocotools' with ``params.areaRng`` set to ``area_ranges``:
    an object outside a bucket is ignored (a detection matched to it neither helps nor hurts),
    an unmatched detection whose box area is outside the bucket is ignored, both ends inclusive.

    Parameters
    ----------
    gt, dets : as :func:`coco_evaluate` (``area`` of each annotation decides its bucket)
    area_ranges : ``{name: (low, high)}`` areas in square pixels, ``0 <= low <= high``

    Returns
    -------
    ``{name: {"AP": mAP@[.5:.95], "AP50": mAP@0.5, "n_objects": non-crowd objects in the bucket}}``
    (-1 for an AP where no category has an object in the bucket), 100 detections per image.
    """
    if not isinstance(area_ranges, Mapping) or not area_ranges:
        raise ValueError("area_ranges must be a non-empty {name: (low, high)} mapping")
    for name, rng in area_ranges.items():
        lo_hi = np.asarray(rng, dtype=np.float64).reshape(-1)
        if lo_hi.size != 2 or not np.all(np.isfinite(lo_hi)) or not 0 <= lo_hi[0] <= lo_hi[1]:
            raise ValueError(f"area_ranges[{name!r}] must be (low, high) with 0 <= low <= high, got {rng!r}")
    G = _coco_gt_arrays(gt)
    D = _coco_det_arrays(dets, G)
    ranges = {name: tuple(float(v) for v in rng) for name, rng in area_ranges.items()}
    precision, _ = _coco_accumulate(_coco_match(G, D, ranges), len(G["cat_ids"]))
    t50 = int(np.flatnonzero(np.isclose(COCO_IOU_THRESHOLDS, 0.5))[0])
    out = {}
    for a, (name, (lo, hi)) in enumerate(ranges.items()):
        inside = ~G["crowd"] & (G["area"] >= lo) & (G["area"] <= hi)
        s_all, s_50 = precision[:, :, :, a, -1], precision[t50, :, :, a, -1]
        out[name] = {"AP": float(np.mean(s_all[s_all > -1])) if np.any(s_all > -1) else -1.0,
                     "AP50": float(np.mean(s_50[s_50 > -1])) if np.any(s_50 > -1) else -1.0,
                     "n_objects": int(inside.sum())}
    return out


def coco_pr_curve(result: dict, iou_threshold: float = 0.5, category_id=None, area: str = "all",
                  max_dets: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The interpolated PR curve COCO averages, read from a :func:`coco_evaluate` result.

    Returns ``(recall_levels, precision)``, both (101,): the envelope precision at each recall
    level for one category, or the mean over categories with ground truth when
    ``category_id`` is None. Precision is 0 beyond the highest recall reached.
    """
    t = np.flatnonzero(np.isclose(result["iou_thresholds"], real(iou_threshold, "iou_threshold")))
    if t.size != 1:
        raise ValueError(f"iou_threshold must be one of {np.round(result['iou_thresholds'], 2).tolist()}")
    if area not in result["area_ranges"] or max_dets not in result["max_dets"]:
        raise ValueError(f"area must be in {result['area_ranges']} and max_dets in {result['max_dets']}")
    p = result["precision"][t[0], :, :, result["area_ranges"].index(area), result["max_dets"].index(max_dets)]
    if category_id is None:
        with_gt = p[0] > -1
        if not with_gt.any():
            raise ValueError("no category has ground truth")
        curve = p[:, with_gt].mean(axis=1)
    else:
        if category_id not in result["category_ids"]:
            raise ValueError(f"unknown category_id {category_id!r}")
        curve = p[:, result["category_ids"].index(category_id)]
        if curve[0] < 0:
            raise ValueError(f"category {category_id!r} has no ground truth")
    return result["recall_thresholds"].copy(), curve
