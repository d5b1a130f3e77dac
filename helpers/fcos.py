"""FCOS's targets in NumPy: points instead of anchors, assignment by level, centre sampling, centerness.

FCOS (Tian et al., ICCV 2019) predicts, at every feature-map location ("point"), a class score,
the four distances ``(l, t, r, b)`` from the point to the sides of its object's box, and a
"centerness" that down-weights boxes predicted far from an object's centre. No anchor boxes:
the training targets come from three rules, each a few lines here:

1. :func:`feature_points`: one point per cell of each pyramid level, at the cell's centre
   (``offset=0.5`` of a stride, the paper's ``floor(s / 2) + x s``; torchvision's ``FCOS``
   puts them at the cell's corner, ``offset=0``).
2. :func:`assign_points`: a point is positive for a box when it lies inside the box, within
   ``center_radius`` strides of the box's centre (centre sampling, FCOS's later improvement that
   torchvision uses) and when its largest distance ``max(l, t, r, b)`` falls in its level's range
   (:func:`level_ranges`: small objects on fine levels, large ones on coarse levels). A point
   inside several boxes takes the one of smallest area.
3. :func:`centerness`: ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``, 1 at the centre.

Assignment equals the matching of ``torchvision.models.detection.FCOS.compute_loss`` and
centerness the targets of ``FCOSHead.compute_loss`` (``tests/test_fcos.py``). NumPy only; boxes
are ``xyxy`` float pixels, points ``(x, y)`` pixels.
"""

from __future__ import annotations

import numpy as np

from helpers.boxes import as_float_array, check_boxes
from helpers.validate import integer, real

__all__ = ["centerness", "feature_points", "level_ranges", "point_box_distances", "assign_points", "fcos_targets"]

#: torchvision's and the paper's regression ranges in units of each level's stride: (4 s, 8 s),
#: the first level from 0 and the last to infinity (strides 8..128: 0-64, 64-128, ..., 512-inf).
TORCHVISION_RANGE_FACTORS = (4.0, 8.0)


def centerness(ltrb) -> np.ndarray:
    """FCOS's centerness of each point from its distances to the box sides.

    Parameters
    ----------
    ltrb : (N, 4) array-like of non-negative distances ``(l, t, r, b)`` (left, top, right, bottom)

    Returns
    -------
    (N,) array ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))`` in [0, 1]: 1 at the box's
    centre, 0 on its border. Where a ratio is 0 / 0 (a point on a box of zero width or height)
    the centerness is 0, not NaN.
    """
    d = as_float_array(ltrb, "ltrb")
    if d.ndim != 2 or d.shape[1] != 4:
        raise ValueError(f"ltrb must have shape (N, 4), got {d.shape}")
    if d.size and not np.isfinite(d).all():
        raise ValueError("ltrb contains NaN or infinite distances")
    if d.size and d.min() < 0:
        row = int(np.flatnonzero((d < 0).any(axis=1))[0])
        raise ValueError(f"ltrb[{row}] = {d[row].tolist()} has a negative distance: the point is outside its box")
    lr, tb = d[:, [0, 2]], d[:, [1, 3]]
    ratio_x = np.zeros(len(d), d.dtype)
    ratio_y = np.zeros(len(d), d.dtype)
    np.divide(lr.min(axis=1), lr.max(axis=1), out=ratio_x, where=lr.max(axis=1) > 0)
    np.divide(tb.min(axis=1), tb.max(axis=1), out=ratio_y, where=tb.max(axis=1) > 0)
    return np.sqrt(ratio_x * ratio_y)


def _sizes(feature_sizes) -> list[tuple[int, int]]:
    out = []
    for s in feature_sizes:
        h, w = (s, s) if np.ndim(s) == 0 else tuple(s)
        out.append((integer(h, "feature map height", low=1), integer(w, "feature map width", low=1)))
    return out


def feature_points(feature_sizes, strides, offset: float = 0.5):
    """The points of a feature pyramid, level by level, row by row (x fastest, as torchvision).

    Parameters
    ----------
    feature_sizes : one ``(height, width)`` (or one int for a square map) per level
    strides : one stride (pixels per cell) per level
    offset : where in its cell a point sits, in strides: 0.5 the centre (the paper), 0 the
        top-left corner (torchvision's ``AnchorGenerator``, which ``FCOS`` uses)

    Returns
    -------
    points : (P, 2) float64 ``(x, y)`` pixels, point_strides : (P,) float64, levels : (P,) int64
    """
    sizes = _sizes(feature_sizes)
    strides = [real(s, "stride", low=0.0, low_open=True) for s in strides]
    if len(sizes) != len(strides):
        raise ValueError(f"need one stride per feature map, got {len(sizes)} maps and {len(strides)} strides")
    offset = real(offset, "offset", low=0.0, high=1.0)
    points, point_strides, levels = [], [], []
    for level, ((h, w), s) in enumerate(zip(sizes, strides, strict=True)):
        ys, xs = np.meshgrid((np.arange(h) + offset) * s, (np.arange(w) + offset) * s, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        point_strides.append(np.full(h * w, s))
        levels.append(np.full(h * w, level, np.int64))
    return np.concatenate(points), np.concatenate(point_strides), np.concatenate(levels)


def level_ranges(strides, factors=TORCHVISION_RANGE_FACTORS) -> np.ndarray:
    """Regression range of each level: ``(factors[0] * s, factors[1] * s)``, open at both ends.

    The first level's lower bound is 0 and the last level's upper bound infinity, so every size
    has a level. With torchvision's factors (4, 8) and strides 8..128 this is FCOS's
    ``0, 64, 128, 256, 512, inf``.

    Returns
    -------
    (L, 2) float64 ``(low, high)``; a point of level ``k`` regresses a box when
    ``low < max(l, t, r, b) < high``.
    """
    s = np.array([real(v, "stride", low=0.0, low_open=True) for v in strides])
    lo, hi = (real(f, "range factor", low=0.0) for f in factors)
    if not lo < hi:
        raise ValueError(f"factors must be (low, high) with low < high, got {factors!r}")
    ranges = np.stack([lo * s, hi * s], axis=1)
    if len(ranges):
        ranges[0, 0], ranges[-1, 1] = 0.0, np.inf
    return ranges


def point_box_distances(points, boxes) -> np.ndarray:
    """Distances from every point to the four sides of every box.

    Parameters
    ----------
    points : (P, 2) ``(x, y)``; boxes : (G, 4) xyxy

    Returns
    -------
    (P, G, 4) ``(l, t, r, b) = (x - x1, y - y1, x2 - x, y2 - y)``: all positive when the point is
    inside the box.
    """
    p = _points(points)
    b = check_boxes(boxes)
    x, y = p[:, None, 0], p[:, None, 1]
    return np.stack([x - b[None, :, 0], y - b[None, :, 1], b[None, :, 2] - x, b[None, :, 3] - y], axis=2)


def _points(points) -> np.ndarray:
    p = as_float_array(points, "points")
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {p.shape}")
    if p.size and not np.isfinite(p).all():
        raise ValueError("points contain NaN or infinity")
    return p


def assign_points(points, point_strides, levels, boxes, ranges, center_radius: float = 1.5) -> np.ndarray:
    """FCOS's assignment: the ground-truth box each point regresses, or -1 (background).

    A point is positive for box ``g`` when all of these hold (torchvision's ``FCOS.compute_loss``):

    - it is inside the box: ``min(l, t, r, b) > 0``;
    - centre sampling: ``max(|x - cx|, |y - cy|) < center_radius * stride`` (``cx, cy`` the box
      centre); ``center_radius=None`` switches it off (the original FCOS: the whole box);
    - its level's range holds the box: ``low < max(l, t, r, b) < high`` (``ranges[level]``).

    Among several boxes a point takes the one of smallest area (ties: the lowest index).
    (torchvision ranks by ``1e8 - area`` in float32, so it cannot separate areas a few px^2
    apart; the exact smallest area is taken here.)

    Parameters
    ----------
    points : (P, 2); point_strides : (P,); levels : (P,) int, as :func:`feature_points` returns
    boxes : (G, 4) xyxy ground truth
    ranges : (L, 2) from :func:`level_ranges`
    center_radius : centre-sampling radius in strides (torchvision and FCOS: 1.5), or None

    Returns
    -------
    (P,) int64 box index per point, -1 for background.
    """
    p = _points(points)
    s = as_float_array(point_strides, "point_strides").reshape(-1)
    lv = np.asarray(levels)
    r = as_float_array(ranges, "ranges")
    if len(s) != len(p) or lv.shape != (len(p),):
        raise ValueError(f"points, point_strides and levels must have one entry per point, got {len(p)}, {len(s)}, "
                         f"{lv.shape}")
    if r.ndim != 2 or r.shape[1] != 2 or (lv.size and (lv.min() < 0 or lv.max() >= len(r))):
        raise ValueError(f"ranges must be (L, 2) with a row for every level in levels, got {r.shape}")
    b = check_boxes(boxes)
    if len(b) == 0:
        return np.full(len(p), -1, np.int64)
    d = point_box_distances(p, b)  # (P, G, 4)
    ok = d.min(axis=2) > 0
    if center_radius is not None:
        radius = real(center_radius, "center_radius", low=0.0, low_open=True)
        centres = (b[:, :2] + b[:, 2:]) / 2
        ok &= np.abs(p[:, None, :] - centres[None]).max(axis=2) < radius * s[:, None]
    reach = d.max(axis=2)
    ok &= (reach > r[lv, 0][:, None]) & (reach < r[lv, 1][:, None])
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    ranked = np.where(ok, area[None, :], np.inf)
    matched = ranked.argmin(axis=1)
    return np.where(ok.any(axis=1), matched, -1).astype(np.int64)


def fcos_targets(points, point_strides, levels, boxes, labels, ranges, center_radius: float = 1.5):
    """Per-point training targets of one image.

    Returns
    -------
    labels : (P,) int64 class of the assigned box, 0 for background (labels are 1..C)
    boxes : (P, 4) float64 the assigned box (xyxy), zeros for background
    ltrb : (P, 4) float64 distances to its sides, zeros for background
    centerness : (P,) float64, 0 for background
    matched : (P,) int64 from :func:`assign_points`
    """
    b = check_boxes(boxes)
    lab = np.asarray(labels, np.int64).reshape(-1)
    if len(lab) != len(b):
        raise ValueError(f"need one label per box, got {len(lab)} labels for {len(b)} boxes")
    matched = assign_points(points, point_strides, levels, b, ranges, center_radius)
    fg = matched >= 0
    p = _points(points)
    out_labels = np.zeros(len(p), np.int64)
    out_boxes = np.zeros((len(p), 4))
    ltrb = np.zeros((len(p), 4))
    ctr = np.zeros(len(p))
    if fg.any():
        out_labels[fg] = lab[matched[fg]]
        out_boxes[fg] = b[matched[fg]]
        x, y = p[fg, 0], p[fg, 1]
        g = b[matched[fg]]
        ltrb[fg] = np.stack([x - g[:, 0], y - g[:, 1], g[:, 2] - x, g[:, 3] - y], axis=1)
        ctr[fg] = centerness(ltrb[fg])
    return out_labels, out_boxes, ltrb, ctr, matched
