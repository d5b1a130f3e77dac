"""Looking past mAP: a detection confusion matrix with a background row/column, per-image outcomes.

NumPy only. Ground truth and predictions are per-image dicts: ``{"boxes": (N, 4) xyxy,
"labels": (N,) int}`` (predictions also ``"scores"``), labels ``1..K``, 0 the background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of xyxy boxes; 0 for degenerate boxes."""
    a, b = a.reshape(-1, 4).astype(float), b.reshape(-1, 4).astype(float)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_image(gt: dict, pred: dict, iou_threshold: float = 0.5, score_threshold: float = 0.5):
    """Class-agnostic greedy matching of one image's confident predictions to its ground truth.

    Predictions with ``score >= score_threshold`` are taken in descending score order; each
    takes the unmatched ground-truth box it overlaps most, if that IoU is ``>= iou_threshold``.

    Returns
    -------
    (pairs, unmatched_pred, unmatched_gt): ``pairs`` is a list of ``(gt_index, pred_index)``;
    the others are index lists (false alarms on background, missed objects).
    """
    gb, gl = np.asarray(gt["boxes"]).reshape(-1, 4), np.asarray(gt["labels"]).reshape(-1)
    scores = np.asarray(pred["scores"], dtype=float).reshape(-1)
    keep = np.flatnonzero(scores >= score_threshold)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    pb = np.asarray(pred["boxes"]).reshape(-1, 4)
    if len(gl) != len(gb):
        raise ValueError(f"ground truth has {len(gb)} boxes but {len(gl)} labels")
    iou = iou_matrix(pb[keep], gb)
    taken = np.zeros(len(gb), bool)
    pairs, lonely = [], []
    for row, j in enumerate(keep):
        cand = np.where(taken, -1.0, iou[row]) if len(gb) else np.zeros(0)
        if cand.size and cand.max() >= iou_threshold:
            g = int(np.argmax(cand))
            taken[g] = True
            pairs.append((g, int(j)))
        else:
            lonely.append(int(j))
    return pairs, lonely, [int(g) for g in np.flatnonzero(~taken)]


def confusion_matrix(gts: Sequence[dict], preds: Sequence[dict], num_classes: int,
                     iou_threshold: float = 0.5, score_threshold: float = 0.5) -> np.ndarray:
    """(K+1, K+1) counts: row = true class, column = predicted class, index 0 = background.

    A matched pair adds 1 at ``[true, predicted]`` (off the diagonal: the right place, the wrong
    class); a confident prediction matching nothing adds 1 at ``[0, predicted]`` (a false alarm,
    e.g. on a look-alike); a ground-truth object nobody found adds 1 at ``[true, 0]`` (missed).
    ``[0, 0]`` stays 0 (background found as background is not counted).
    """
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} ground-truth images but {len(preds)} prediction images")
    cm = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for gt, pred in zip(gts, preds, strict=True):
        pairs, lonely, missed = match_image(gt, pred, iou_threshold, score_threshold)
        gl, pl = np.asarray(gt["labels"]).reshape(-1), np.asarray(pred["labels"]).reshape(-1)
        for g, p in pairs:
            cm[_check_label(gl[g], num_classes), _check_label(pl[p], num_classes)] += 1
        for p in lonely:
            cm[0, _check_label(pl[p], num_classes)] += 1
        for g in missed:
            cm[_check_label(gl[g], num_classes), 0] += 1
    return cm


def _check_label(label, num_classes: int) -> int:
    label = int(label)
    if not 1 <= label <= num_classes:
        raise ValueError(f"label {label} outside 1..{num_classes}")
    return label


def image_outcomes(gts: Sequence[dict], preds: Sequence[dict], iou_threshold: float = 0.5,
                   score_threshold: float = 0.5) -> list[dict]:
    """Per image: ``correct`` (right place and class), ``wrong_class``, ``false_alarms``, ``missed``
    and a verdict: ``"good"`` (everything found, nothing wrong), ``"missed"`` (some object not
    found at all) or ``"so-so"`` (all found, but a wrong class or a false alarm)."""
    out = []
    for gt, pred in zip(gts, preds, strict=True):
        pairs, lonely, missed = match_image(gt, pred, iou_threshold, score_threshold)
        gl, pl = np.asarray(gt["labels"]).reshape(-1), np.asarray(pred["labels"]).reshape(-1)
        correct = sum(int(gl[g] == pl[p]) for g, p in pairs)
        wrong = len(pairs) - correct
        verdict = "missed" if missed else ("so-so" if wrong or lonely else "good")
        out.append({"correct": correct, "wrong_class": wrong, "false_alarms": len(lonely), "missed": len(missed),
                    "verdict": verdict})
    return out


def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str], *, ax=None, title: str | None = None):
    """Draw :func:`confusion_matrix` with counts in the cells; ``class_names`` without background."""
    import matplotlib.pyplot as plt

    names = ["background", *class_names]
    if cm.shape != (len(names), len(names)):
        raise ValueError(f"confusion matrix {cm.shape} does not fit {len(names)} names (background included)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    shown = np.log1p(cm)  # log colour scale: the diagonal would drown every mistake
    ax.imshow(shown, cmap="Blues")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if shown[i, j] > 0.6 * shown.max() else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (0 = background: false alarms in row 0, misses in column 0)")
    return ax
