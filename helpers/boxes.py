"""Axis-aligned boxes in NumPy: area, IoU, generalized IoU, format conversion and the Faster R-CNN box coder.

Internally boxes are ``xyxy`` float pixels ``(x1, y1, x2, y2)`` with ``x1 <= x2``, ``y1 <= y2``
and no "+1" (a box from 0 to 10 is 10 pixels wide). Every function takes anything
``np.asarray`` accepts (lists, NumPy arrays, CPU torch tensors) and returns NumPy arrays.

dtype: float32 and float64 inputs keep their dtype (float32 in gives the same float32 numbers as
``torchvision.ops`` on float32 tensors, operation for operation); float16 is computed in
float32; integer and bool inputs are computed in float64.

Bad input raises ``ValueError``/``TypeError`` that names the problem: wrong shape, NaN or
infinite coordinates, ``x2 < x1`` or ``y2 < y1``, negative widths or heights.
"""

from __future__ import annotations

import math

import numpy as np

from helpers.validate import real

FORMATS = ("xyxy", "xywh", "cxcywh")

#: torchvision's ``BoxCoder`` default: the largest ``dw``/``dh`` fed to ``exp`` when decoding.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def as_float_array(values, name: str = "boxes") -> np.ndarray:
    """``values`` as a float32/float64 array (see the module docstring for the dtype rule)."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, RuntimeError) as exc:  # ragged lists, GPU tensors
        raise TypeError(f"{name} must be array-like numbers, got {type(values).__name__}: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if arr.dtype in (np.float32, np.float64):
        return arr
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr.astype(np.float64)


def check_boxes(boxes, name: str = "boxes", fmt: str = "xyxy") -> np.ndarray:
    """Validate an (N, 4) array of boxes in ``fmt`` and return it as a float array.

    Raises
    ------
    ValueError
        Not shaped (N, 4); NaN or infinite values; ``x2 < x1`` or ``y2 < y1`` (``"xyxy"``);
        negative width or height (``"xywh"``, ``"cxcywh"``).
    """
    _check_fmt(fmt, "fmt")
    arr = as_float_array(boxes, name)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ValueError(f"{name}[{row}] = {arr[row].tolist()} contains NaN or infinity")
    if fmt == "xyxy":
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        what = "x2 < x1 or y2 < y1 (boxes must be xyxy with x1 <= x2, y1 <= y2)"
    else:
        bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
        what = f"a negative width or height ({fmt})"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{row}] = {arr[row].tolist()} has {what}; {int(bad.sum())} such box(es)")
    return arr


def _check_fmt(fmt, what: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"{what} must be one of {FORMATS}, got {fmt!r}")


def _common_dtype(*arrays: np.ndarray) -> np.dtype:
    return np.result_type(*arrays)


def box_area(boxes) -> np.ndarray:
    """Area of each box.

    Parameters
    ----------
    boxes : (N, 4) array-like, xyxy

    Returns
    -------
    (N,) array: ``(x2 - x1) * (y2 - y1)``; degenerate boxes (zero width or height) have area 0.
    """
    b = check_boxes(boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(boxes1, boxes2) -> np.ndarray:
    """Pairwise intersection over union.

    Parameters
    ----------
    boxes1 : (N, 4) array-like, xyxy
    boxes2 : (M, 4) array-like, xyxy

    Returns
    -------
    (N, M) array, ``iou[i, j] = area(b1_i & b2_j) / area(b1_i | b2_j)`` in [0, 1].

    Notes
    -----
    Computed operation for operation as ``torchvision.ops.box_iou``, so float32 inputs give the
    very same float32 values, except where the union is 0 (two degenerate boxes): torchvision
    returns NaN (0/0) there, this returns 0.
    """
    _, _, inter, union = _inter_union(boxes1, boxes2)
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou


def _inter_union(boxes1, boxes2):
    """Checked boxes (common dtype) and their pairwise intersection and union areas, as torchvision."""
    a = check_boxes(boxes1, "boxes1")
    b = check_boxes(boxes2, "boxes2")
    dtype = _common_dtype(a, b)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    return a, b, inter, area_a[:, None] + area_b[None, :] - inter


def generalized_box_iou(boxes1, boxes2) -> np.ndarray:
    """Pairwise generalized IoU (Rezatofighi et al., CVPR 2019).

    ``giou = iou - (area(C) - area(union)) / area(C)``, with ``C`` the smallest box enclosing
    both: equal to the IoU when one box encloses the other's union, and falling towards -1 as
    disjoint boxes move apart (where the IoU is stuck at 0 and says nothing about the distance).

    Parameters
    ----------
    boxes1 : (N, 4) array-like, xyxy
    boxes2 : (M, 4) array-like, xyxy

    Returns
    -------
    (N, M) array in [-1, 1].

    Notes
    -----
    Computed operation for operation as ``torchvision.ops.generalized_box_iou``, so float32
    inputs give the same float32 values, except for degenerate pairs, where torchvision divides
    0 by 0 and returns NaN: a pair whose union is 0 has IoU 0 here, and a pair whose enclosing
    box has area 0 (both boxes on one line) has no penalty term, so its GIoU is 0, never NaN.
    """
    a, b, inter, union = _inter_union(boxes1, boxes2)
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    enclosing_wh = np.clip(np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2]), 0, None)
    enclosing = enclosing_wh[..., 0] * enclosing_wh[..., 1]
    penalty = np.zeros_like(enclosing)
    np.divide(enclosing - union, enclosing, out=penalty, where=enclosing > 0)
    return iou - penalty


def box_convert(boxes, in_fmt: str, out_fmt: str) -> np.ndarray:
    """Convert (N, 4) boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``.

    ``xyxy``: corners ``(x1, y1, x2, y2)``; ``xywh``: top-left corner, width, height (COCO's
    ``bbox``); ``cxcywh``: centre, width, height (YOLO, DETR, SSD's encoding). Formulas and
    their order are torchvision's ``box_convert`` (via xyxy), so float32 results agree bit for bit.

    Returns
    -------
    (N, 4) array in ``out_fmt``; a new array even when ``in_fmt == out_fmt``.
    """
    _check_fmt(in_fmt, "in_fmt")
    _check_fmt(out_fmt, "out_fmt")
    b = check_boxes(boxes, fmt=in_fmt)
    if in_fmt == out_fmt:
        return b.copy()
    if in_fmt == "xywh":
        x, y, w, h = b.T
        b = np.stack([x, y, x + w, y + h], axis=1)
    elif in_fmt == "cxcywh":
        cx, cy, w, h = b.T
        b = np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1)
    x1, y1, x2, y2 = b.T
    if out_fmt == "xyxy":
        return b
    if out_fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def _check_weights(weights) -> tuple[float, float, float, float]:
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"weights must be 4 numbers (wx, wy, ww, wh), got {weights!r}")
    try:
        w = tuple(real(v, "weights (wx, wy, ww, wh)", low=0.0, low_open=True) for v in weights)
    except TypeError:
        raise TypeError(f"weights must be 4 numbers (wx, wy, ww, wh), got {weights!r}") from None
    except ValueError:
        raise ValueError(f"weights must be 4 positive finite numbers (wx, wy, ww, wh), got {weights!r}") from None
    if len(w) != 4:
        raise ValueError(f"weights must be 4 positive finite numbers (wx, wy, ww, wh), got {weights!r}")
    return w


def _require_positive_size(b: np.ndarray, name: str) -> None:
    bad = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{row}] = {b[row].tolist()} has zero width or height; "
                         "the log-space encoding needs boxes of positive size")


def encode_boxes(gt, anchors, weights=(10.0, 10.0, 5.0, 5.0)) -> np.ndarray:
    """Regression targets of ``gt`` relative to ``anchors`` (Faster R-CNN / SSD encoding).

    ``dx = wx * (gx - ax) / aw``, ``dy = wy * (gy - ay) / ah``, ``dw = ww * log(gw / aw)``,
    ``dh = wh * log(gh / ah)`` with box centres ``(x, y)`` and sizes ``(w, h)``: centre offsets
    in units of the anchor size, size ratios in log space. Same as torchvision's
    ``BoxCoder(weights).encode_single(gt, anchors)``; Faster R-CNN's ROI heads use weights
    (10, 10, 5, 5) (the default here), its RPN (1, 1, 1, 1); SSD's "variances" (0.1, 0.2) are
    weights (10, 10, 5, 5).

    Parameters
    ----------
    gt : (N, 4) array-like, xyxy
        Boxes to encode (ground truth matched to each anchor); positive width and height.
    anchors : (N, 4) array-like, xyxy
        Reference boxes, one per row of ``gt``; positive width and height.
    weights : 4 positive floats ``(wx, wy, ww, wh)``

    Returns
    -------
    (N, 4) array of deltas ``(dx, dy, dw, dh)``.
    """
    w = _check_weights(weights)
    g = check_boxes(gt, "gt")
    a = check_boxes(anchors, "anchors")
    if g.shape != a.shape:
        raise ValueError(f"gt and anchors must have the same shape (one anchor per box), got {g.shape} and {a.shape}")
    _require_positive_size(g, "gt")
    _require_positive_size(a, "anchors")
    dtype = g.dtype  # torchvision computes in the reference (gt) boxes' dtype
    a = a.astype(dtype, copy=False)
    wx, wy, ww, wh = (dtype.type(v) for v in w)
    ex_w = a[:, 2] - a[:, 0]
    ex_h = a[:, 3] - a[:, 1]
    ex_cx = a[:, 0] + dtype.type(0.5) * ex_w
    ex_cy = a[:, 1] + dtype.type(0.5) * ex_h
    gt_w = g[:, 2] - g[:, 0]
    gt_h = g[:, 3] - g[:, 1]
    gt_cx = g[:, 0] + dtype.type(0.5) * gt_w
    gt_cy = g[:, 1] + dtype.type(0.5) * gt_h
    return np.stack([
        wx * (gt_cx - ex_cx) / ex_w,
        wy * (gt_cy - ex_cy) / ex_h,
        ww * np.log(gt_w / ex_w),
        wh * np.log(gt_h / ex_h),
    ], axis=1)


def decode_boxes(deltas, anchors, weights=(10.0, 10.0, 5.0, 5.0), clip: float = BBOX_XFORM_CLIP) -> np.ndarray:
    """Boxes from regression ``deltas`` relative to ``anchors``: the inverse of :func:`encode_boxes`.

    ``dw`` and ``dh`` (after dividing by their weights) are clamped to at most ``clip``
    (torchvision's ``bbox_xform_clip = log(1000 / 16)``) so ``exp`` cannot overflow; a box can
    therefore grow at most 62.5x over its anchor. Same as torchvision's
    ``BoxCoder(weights).decode_single(deltas, anchors)``.

    Parameters
    ----------
    deltas : (N, 4) array-like ``(dx, dy, dw, dh)``, finite
    anchors : (N, 4) array-like, xyxy
    weights : 4 positive floats ``(wx, wy, ww, wh)``, the ones used to encode
    clip : float, finite upper bound for ``dw / ww`` and ``dh / wh`` (NaN would make every box NaN)

    Returns
    -------
    (N, 4) array of xyxy boxes, in the dtype of ``deltas``.
    """
    w = _check_weights(weights)
    clip = real(clip, "clip")
    d = as_float_array(deltas, "deltas")
    if d.ndim != 2 or d.shape[1] != 4:
        raise ValueError(f"deltas must have shape (N, 4), got {d.shape}")
    if d.size and not np.isfinite(d).all():
        row = int(np.flatnonzero(~np.isfinite(d).all(axis=1))[0])
        raise ValueError(f"deltas[{row}] = {d[row].tolist()} contains NaN or infinity")
    a = check_boxes(anchors, "anchors")
    if d.shape != a.shape:
        raise ValueError(f"deltas and anchors must have the same shape, got {d.shape} and {a.shape}")
    dtype = d.dtype  # torchvision casts the anchors to the deltas' dtype
    a = a.astype(dtype, copy=False)
    widths = a[:, 2] - a[:, 0]
    heights = a[:, 3] - a[:, 1]
    ctr_x = a[:, 0] + dtype.type(0.5) * widths
    ctr_y = a[:, 1] + dtype.type(0.5) * heights
    wx, wy, ww, wh = (dtype.type(v) for v in w)
    dx, dy = d[:, 0] / wx, d[:, 1] / wy
    dw = np.minimum(d[:, 2] / ww, dtype.type(clip))
    dh = np.minimum(d[:, 3] / wh, dtype.type(clip))
    pred_cx = dx * widths + ctr_x
    pred_cy = dy * heights + ctr_y
    half_w = dtype.type(0.5) * (np.exp(dw) * widths)
    half_h = dtype.type(0.5) * (np.exp(dh) * heights)
    return np.stack([pred_cx - half_w, pred_cy - half_h, pred_cx + half_w, pred_cy + half_h], axis=1)
