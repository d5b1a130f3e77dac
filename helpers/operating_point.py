"""An operating point for a detector: the score threshold to ship, chosen on the validation split.

AP summarises every threshold; an application shows the detections above one. :func:`f1_curve`
scores each possible threshold on a labelled split (a detection is right when it overlaps an
unmatched object of its class with IoU >= 0.5, greedily by score, as in VOC and COCO matching),
and :func:`best_f1_threshold` picks the one with the best F1 (the harmonic mean of precision and
recall). Choose it on val; report it, unchanged, on test. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.boxes import box_iou


def _tp_flags(gts: Sequence[dict], preds: Sequence[dict], iou_threshold: float):
    """Scores and true-positive flags of every detection, and the number of objects."""
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} ground-truth images but {len(preds)} prediction images")
    scores, flags, n_gt = [], [], 0
    for g, p in zip(gts, preds, strict=True):
        gb = np.asarray(g["boxes"], dtype=float).reshape(-1, 4)
        gl = np.asarray(g["labels"]).reshape(-1)
        pb = np.asarray(p["boxes"], dtype=float).reshape(-1, 4)
        pl = np.asarray(p["labels"]).reshape(-1)
        ps = np.asarray(p["scores"], dtype=float).reshape(-1)
        n_gt += len(gl)
        iou = box_iou(pb, gb) if len(pb) and len(gb) else np.zeros((len(pb), len(gb)))
        taken = np.zeros(len(gb), bool)
        for j in np.argsort(-ps, kind="stable"):
            cand = np.where((gl == pl[j]) & ~taken, iou[j], -1.0) if len(gb) else np.zeros(0)
            hit = cand.size > 0 and cand.max() >= iou_threshold
            if hit:
                taken[int(np.argmax(cand))] = True
            scores.append(ps[j])
            flags.append(hit)
    return np.asarray(scores, dtype=float), np.asarray(flags, dtype=bool), n_gt


def f1_curve(gts: Sequence[dict], preds: Sequence[dict], iou_threshold: float = 0.5) -> dict:
    """Precision, recall and F1 at every distinct score threshold (keep detections with score >= t).

    Parameters
    ----------
    gts : per image ``{"boxes": (G, 4) xyxy, "labels": (G,)}``
    preds : per image ``{"boxes": (D, 4) xyxy, "labels": (D,), "scores": (D,)}``

    Returns
    -------
    dict of arrays ``threshold`` (descending), ``precision``, ``recall``, ``f1``, ``tp``, ``fp``
    and ``num_gt`` (int).
    """
    scores, flags, n_gt = _tp_flags(gts, preds, iou_threshold)
    order = np.argsort(-scores, kind="stable")
    scores, flags = scores[order], flags[order]
    tp, fp = np.cumsum(flags), np.cumsum(~flags)
    last = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.zeros(0, bool)  # ties kept together
    tp, fp, thr = tp[last], fp[last], scores[last]
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_gt if n_gt else np.zeros_like(precision)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)
    return {"threshold": thr, "precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp,
            "num_gt": int(n_gt)}


def best_f1_threshold(gts: Sequence[dict], preds: Sequence[dict], iou_threshold: float = 0.5) -> dict:
    """The score threshold with the best F1 on ``gts``/``preds`` (ties: the higher threshold).

    Returns ``{"threshold", "f1", "precision", "recall", "tp", "fp", "num_gt"}``; with no
    detection at all the threshold is 1.0 and F1 is 0.
    """
    curve = f1_curve(gts, preds, iou_threshold)
    if not len(curve["f1"]):
        return {"threshold": 1.0, "f1": 0.0, "precision": 0.0, "recall": 0.0, "tp": 0, "fp": 0,
                "num_gt": curve["num_gt"]}
    k = int(np.argmax(curve["f1"]))  # the first maximum: thresholds descend, so the highest one
    return {"threshold": float(curve["threshold"][k]), "f1": float(curve["f1"][k]),
            "precision": float(curve["precision"][k]), "recall": float(curve["recall"][k]),
            "tp": int(curve["tp"][k]), "fp": int(curve["fp"][k]), "num_gt": curve["num_gt"]}


def scores_at(gts: Sequence[dict], preds: Sequence[dict], threshold: float, iou_threshold: float = 0.5) -> dict:
    """Precision, recall and F1 of the detections with ``score >= threshold`` (e.g. the threshold
    chosen on val, applied to test): ``{"precision", "recall", "f1", "tp", "fp", "num_gt"}``."""
    curve = f1_curve(gts, preds, iou_threshold)
    k = int(np.searchsorted(-curve["threshold"], -float(threshold), side="right")) - 1  # last threshold >= it
    if k < 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "num_gt": curve["num_gt"]}
    return {"precision": float(curve["precision"][k]), "recall": float(curve["recall"][k]),
            "f1": float(curve["f1"][k]), "tp": int(curve["tp"][k]), "fp": int(curve["fp"][k]),
            "num_gt": curve["num_gt"]}
