"""DETR's set prediction in NumPy: the matching cost, the Hungarian matching and the set loss.

DETR (Carion et al., ECCV 2020) predicts a fixed set of ``Q`` boxes, one per learned query, and
trains it against the ``T <= Q`` ground-truth objects of an image by first finding the one-to-one
assignment of queries to objects of least total cost (:func:`hungarian_match`), then applying a
classification loss to every query (unmatched queries must say "no object") and box losses to the
matched pairs (:func:`set_loss`). Each object is claimed by exactly one query, so the trained
model has no reason to emit duplicates and needs no NMS.

The cost of predicting object ``j`` with query ``i`` (:func:`match_cost`, DETR's
``HungarianMatcher``) is::

    cost_class * (-p_i[label_j]) + cost_bbox * |box_i - box_j|_1 + cost_giou * (-GIoU(box_i, box_j))

with ``p_i`` the softmax over the query's ``C + 1`` logits (the last column is "no object"),
boxes normalised ``cxcywh`` for the L1 term and converted to ``xyxy`` for the GIoU term.
The assignment is solved with ``scipy.optimize.linear_sum_assignment`` (the Hungarian
algorithm's job; the lesson is the cost). Labels here are ``0..C-1``, the object classes; the
no-object class is ``C``, as in DETR.
"""

from __future__ import annotations

import numpy as np

from helpers.boxes import as_float_array, box_convert, check_boxes, generalized_box_iou
from helpers.losses import log_softmax, softmax
from helpers.validate import real

__all__ = ["match_cost", "hungarian_match", "set_loss", "DETR_COSTS"]

#: DETR's matching weights (and its loss weights): class 1, L1 5, GIoU 2; no-object weight 0.1.
DETR_COSTS = {"cost_class": 1.0, "cost_bbox": 5.0, "cost_giou": 2.0}
EOS_COEF = 0.1


def _inputs(logits, boxes, target_labels, target_boxes):
    lg = as_float_array(logits, "logits")
    if lg.ndim != 2 or lg.shape[1] < 2:
        raise ValueError(f"logits must have shape (Q, C + 1) with C >= 1 (last column: no object), got {lg.shape}")
    if lg.size and not np.isfinite(lg).all():
        raise ValueError("logits contain NaN or infinity")
    bx = as_float_array(boxes, "boxes")
    if bx.shape != (len(lg), 4):
        raise ValueError(f"boxes must have shape (Q, 4) = ({len(lg)}, 4) (one cxcywh box per query), got {bx.shape}")
    bx = check_boxes(bx, "boxes", fmt="cxcywh")
    tb = as_float_array(target_boxes, "target_boxes")
    if tb.size == 0:
        tb = tb.reshape(0, 4)
    if tb.ndim != 2 or tb.shape[1] != 4:
        raise ValueError(f"target_boxes must have shape (T, 4) (cxcywh), got {tb.shape}")
    tb = check_boxes(tb, "target_boxes", fmt="cxcywh")  # NaN, negative sizes: named as target_boxes
    tl = np.asarray(target_labels)
    if tl.size == 0:
        tl = tl.reshape(0).astype(np.int64)
    elif tl.dtype == bool or not np.issubdtype(tl.dtype, np.number):
        raise TypeError(f"target_labels must be integer class indices, got dtype {tl.dtype}")
    if tl.shape != (len(tb),):
        raise ValueError(f"target_labels must have shape (T,) = ({len(tb)},) (one label per target box), got {tl.shape}")
    if tl.size and (not np.issubdtype(tl.dtype, np.integer) and not np.all(np.mod(tl, 1) == 0)):
        raise ValueError(f"target_labels must be integer class indices, got {tl.tolist()}")
    tl = tl.astype(np.int64)
    num_classes = lg.shape[1] - 1
    if tl.size and (tl.min() < 0 or tl.max() >= num_classes):
        raise ValueError(f"target_labels must be in 0..{num_classes - 1} (column {num_classes} is 'no object'), "
                         f"got {tl.tolist()}")
    return lg, bx, tl, tb


def match_cost(logits, boxes, target_labels, target_boxes, cost_class: float = 1.0, cost_bbox: float = 5.0,
               cost_giou: float = 2.0) -> np.ndarray:
    """DETR's matching cost of every (query, target) pair.

    Parameters
    ----------
    logits : (Q, C + 1) class logits per query, the last column "no object"
    boxes : (Q, 4) predicted boxes, normalised ``cxcywh`` (in [0, 1])
    target_labels : (T,) int in ``0..C-1``
    target_boxes : (T, 4) normalised ``cxcywh``
    cost_class, cost_bbox, cost_giou : the weights of the three terms (DETR: 1, 5, 2)

    Returns
    -------
    (Q, T) float64 ``cost_class * -softmax(logits)[:, label] + cost_bbox * L1(cxcywh)
    + cost_giou * -GIoU(xyxy)``.
    """
    lg, bx, tl, tb = _inputs(logits, boxes, target_labels, target_boxes)
    w_class, w_bbox, w_giou = (real(v, n, low=0.0) for v, n in
                               ((cost_class, "cost_class"), (cost_bbox, "cost_bbox"), (cost_giou, "cost_giou")))
    prob = softmax(lg.astype(np.float64), axis=-1)
    c_class = -prob[:, tl]
    c_bbox = np.abs(bx[:, None, :] - tb[None, :, :]).sum(axis=2)
    c_giou = -generalized_box_iou(box_convert(bx, "cxcywh", "xyxy"), box_convert(tb, "cxcywh", "xyxy"))
    return w_bbox * c_bbox + w_class * c_class + w_giou * c_giou


def hungarian_match(logits, boxes, target_labels, target_boxes, cost_class: float = 1.0, cost_bbox: float = 5.0,
                    cost_giou: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one assignment of queries to targets of least total :func:`match_cost`.

    Parameters
    ----------
    As :func:`match_cost`; there must be at least as many queries as targets (``Q >= T``).

    Returns
    -------
    query_idx, target_idx : (T,) int64 each, ``query_idx`` ascending: query ``query_idx[k]``
    predicts target ``target_idx[k]``; every target appears once, the other ``Q - T`` queries
    are unmatched ("no object"). With no targets, two empty arrays.
    """
    from scipy.optimize import linear_sum_assignment

    cost = match_cost(logits, boxes, target_labels, target_boxes, cost_class, cost_bbox, cost_giou)
    q, t = cost.shape
    if t > q:
        raise ValueError(f"{t} targets but only {q} queries: DETR needs at least one query per object "
                         "(use more queries than the most objects an image has)")
    if t == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)


def set_loss(logits, boxes, target_labels, target_boxes, eos_coef: float = EOS_COEF, num_boxes: float | None = None,
             cost_class: float = 1.0, cost_bbox: float = 5.0, cost_giou: float = 2.0) -> dict:
    """DETR's loss for one image: match, then cross-entropy on every query and box losses on the pairs.

    - ``"classification"``: cross-entropy of every query against its target class (matched) or
      "no object" (unmatched), the no-object class weighted ``eos_coef`` (DETR: 0.1, since most
      queries are unmatched); a weighted mean, as ``torch.nn.functional.cross_entropy(weight=...)``.
    - ``"bbox"``: L1 between matched cxcywh boxes, summed, divided by ``num_boxes``.
    - ``"giou"``: ``1 - GIoU`` of matched pairs, summed, divided by ``num_boxes``.
    - ``"total"``: ``cost_class * classification + cost_bbox * bbox + cost_giou * giou`` (DETR
      uses the same weights for the matching and the loss).

    ``num_boxes`` is the number of targets (at least 1); DETR uses the number in the whole batch.

    Returns
    -------
    dict of floats ``classification``, ``bbox``, ``giou``, ``total``, and the matching
    ``query_idx``, ``target_idx`` arrays.
    """
    lg, bx, tl, tb = _inputs(logits, boxes, target_labels, target_boxes)
    eos_coef = real(eos_coef, "eos_coef", low=0.0)
    qi, ti = hungarian_match(lg, bx, tl, tb, cost_class, cost_bbox, cost_giou)
    num_classes = lg.shape[1] - 1
    classes = np.full(len(lg), num_classes, np.int64)
    classes[qi] = tl[ti]
    weight = np.where(classes == num_classes, eos_coef, 1.0)
    ce = -log_softmax(lg.astype(np.float64), axis=-1)[np.arange(len(lg)), classes]
    classification = float((weight * ce).sum() / weight.sum()) if weight.sum() > 0 else float("nan")
    n = max(1.0, float(len(tb) if num_boxes is None else real(num_boxes, "num_boxes", low=0.0)))
    bbox = float(np.abs(bx[qi] - tb[ti]).sum() / n)
    giou = 0.0
    if len(qi):
        pair = generalized_box_iou(box_convert(bx[qi], "cxcywh", "xyxy"), box_convert(tb[ti], "cxcywh", "xyxy"))
        giou = float((1.0 - np.diag(pair)).sum() / n)
    total = cost_class * classification + cost_bbox * bbox + cost_giou * giou
    return {"classification": classification, "bbox": bbox, "giou": giou, "total": total,
            "query_idx": qi, "target_idx": ti}
