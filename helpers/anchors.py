"""Anchors in NumPy: Faster R-CNN grid anchors, SSD default boxes, YOLOv2 dimension clusters.

Every box comes back as ``xyxy`` float pixels. The conventions (centre positions, order of
the anchors, rounding) are torchvision's ``AnchorGenerator`` and ``DefaultBoxGenerator`` by
default, so the tests compare the arrays element for element; each deviation a paper makes is
a documented parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from helpers.boxes import as_float_array
from helpers.validate import integer, real

#: SSD300 (VGG16): the six feature maps, their aspect ratios beyond 1, and the paper's scales.
SSD300_FEATURE_SIZES = (38, 19, 10, 5, 3, 1)
SSD300_ASPECT_RATIOS = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or an (height, width) pair of ints, got {value!r}") from None
    if a <= 0 or b <= 0 or (a, b) != tuple(value):
        raise ValueError(f"{name} must be positive integers, got {value!r}")
    return a, b


def _positive_list(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of positive numbers, got {values!r}")
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a list of positive numbers, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not (np.isfinite(arr) & (arr > 0)).all():
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {values!r}")
    return arr


def base_anchors(scales=(128, 256, 512), ratios=(0.5, 1.0, 2.0), rounded: bool = True) -> np.ndarray:
    """The k = len(ratios) * len(scales) anchors of one location, centred on (0, 0).

    An anchor of scale ``s`` and ratio ``r = h / w`` has area ``s**2``: ``w = s / sqrt(r)``,
    ``h = s * sqrt(r)``. Order: ratio-major, scale-minor (torchvision's).

    Returns
    -------
    (k, 4) array, xyxy. ``rounded=True`` rounds the half-sizes to whole pixels (round half to
    even), as torchvision and Detectron do.
    """
    s = _positive_list(scales, "scales").astype(np.float32)
    r = _positive_list(ratios, "ratios").astype(np.float32)
    h_ratios = np.sqrt(r)
    w_ratios = np.float32(1) / h_ratios
    ws = (w_ratios[:, None] * s[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * s[None, :]).reshape(-1)
    base = np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2)
    return (np.round(base) if rounded else base).astype(np.float64)


def grid_anchors(feature_size, stride, scales=(128, 256, 512), ratios=(0.5, 1.0, 2.0),
                 offset: float = 0.0, rounded: bool = True) -> np.ndarray:
    """Faster R-CNN anchors: ``k = len(scales) * len(ratios)`` boxes at every feature-map cell.

    Parameters
    ----------
    feature_size : int or (H, W)
        Feature-map height and width in cells.
    stride : int or (stride_y, stride_x)
        Pixels between neighbouring cells (image size // feature size).
    scales : sequence of float
        Square roots of the anchor areas in pixels (Faster R-CNN: 128, 256, 512).
    ratios : sequence of float
        Aspect ratios ``h / w`` (Faster R-CNN: 0.5, 1, 2).
    offset : float
        Anchor centre within its cell in units of the stride: 0 puts it on the cell's top-left
        pixel (torchvision's ``AnchorGenerator``), 0.5 on the cell centre.
    rounded : bool
        Round the base anchors' half-sizes to whole pixels (torchvision).

    Returns
    -------
    (H * W * k, 4) array, xyxy pixels; row ``(y * W + x) * k + a`` is anchor ``a`` of cell
    ``(y, x)``, the order torchvision uses.
    """
    fh, fw = _pair(feature_size, "feature_size")
    sh, sw = _pair(stride, "stride")
    offset = real(offset, "offset")
    base = base_anchors(scales, ratios, rounded)
    cx = (np.arange(fw) + offset) * sw
    cy = (np.arange(fh) + offset) * sh
    sy, sx = np.meshgrid(cy, cx, indexing="ij")
    shifts = np.stack([sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel()], axis=1)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def ssd_scales(num_maps: int, s_min: float = 0.2, s_max: float = 0.9) -> list[float]:
    """SSD's scales ``s_k = s_min + (s_max - s_min) (k - 1) / (m - 1)``, k = 1..m, plus s_{m+1} = 1.

    The extra ``s_{m+1}`` only serves the last map's ``sqrt(s_m s_{m+1})`` box; the paper does not
    define it, torchvision (and most ports) use 1.0.
    """
    integer(num_maps, "num_maps", low=1)
    s_min, s_max = real(s_min, "s_min"), real(s_max, "s_max")
    if not 0 < s_min <= s_max:
        raise ValueError(f"need 0 < s_min <= s_max, got s_min={s_min!r}, s_max={s_max!r}")
    if num_maps == 1:
        return [s_min, s_max]
    return [s_min + (s_max - s_min) * k / (num_maps - 1.0) for k in range(num_maps)] + [1.0]


def ssd_boxes_per_location(aspect_ratios=SSD300_ASPECT_RATIOS) -> list[int]:
    """Boxes per cell of each map: 1 (s_k, ratio 1) + 1 (sqrt(s_k s_k+1), ratio 1) + 2 per ratio r (r and 1/r)."""
    return [2 + 2 * len(r) for r in aspect_ratios]


def cell_anchor_rows(feature_shapes, anchors_per_cell, level: int, row: int, col: int) -> slice:
    """Where one cell's anchors sit in a flat anchor array laid out map by map, then row, column, anchor.

    That is the layout of :func:`ssd_default_boxes` (torchvision's), of TF's SSD and Faster R-CNN anchor
    generators (``helpers.tfhub.ssd_anchor_boxes``, ``rpn_anchor_boxes``) and of a detector head's
    ``reshape(-1, 4)``: map ``level`` starts after all the anchors of the maps before it, and inside it
    cell ``(row, col)`` holds ``anchors_per_cell[level]`` consecutive anchors.

    Parameters
    ----------
    feature_shapes : sequence of ``(height, width)`` int pairs (or ints for square maps), one per map
    anchors_per_cell : sequence of ints, the anchors of one cell of each map (same length)
    level : index of the map; row, col : the cell, ``0 <= row < height``, ``0 <= col < width``

    Returns
    -------
    slice
        ``anchors[rows]`` is that cell's ``(anchors_per_cell[level], 4)`` block of an ``(N, 4)``
        anchor array (any box format), ``N = sum(height * width * k)`` over the maps.
    """
    shapes = [_pair(s, "feature_shapes[i]") for s in feature_shapes]
    per_cell = [integer(k, "anchors_per_cell[i]", low=1) for k in anchors_per_cell]
    if len(shapes) != len(per_cell):
        raise ValueError(f"{len(shapes)} feature shapes but {len(per_cell)} anchors_per_cell values")
    level = integer(level, "level", low=0)
    if level >= len(shapes):
        raise ValueError(f"level must be < {len(shapes)} (the number of maps), got {level}")
    (height, width), k = shapes[level], per_cell[level]
    row, col = integer(row, "row", low=0), integer(col, "col", low=0)
    if row >= height or col >= width:
        raise ValueError(f"cell ({row}, {col}) is outside map {level} of {height} x {width} cells")
    start = sum(h * w * n for (h, w), n in zip(shapes[:level], per_cell[:level], strict=True))
    start += (row * width + col) * k
    return slice(start, start + k)


def ssd_default_boxes(feature_sizes=SSD300_FEATURE_SIZES, aspect_ratios=SSD300_ASPECT_RATIOS,
                      s_min: float = 0.2, s_max: float = 0.9, scales: Sequence[float] | None = None,
                      steps: Sequence[float] | None = None, image_size=300, clip: bool = True) -> np.ndarray:
    """SSD default boxes over all feature maps (the paper's Sec. 2.2, torchvision's order).

    At each cell of map k (centre ``((j + 0.5) / f_k, (i + 0.5) / f_k)`` of the image, or
    ``(j + 0.5) * step_k / image_size`` with ``steps``): a square of side ``s_k``, a square of side
    ``sqrt(s_k s_k+1)``, and for each ratio ``r`` in ``aspect_ratios[k]`` the boxes
    ``(s_k sqrt(r), s_k / sqrt(r))`` and ``(s_k / sqrt(r), s_k sqrt(r))``. With the defaults
    (SSD300: maps 38, 19, 10, 5, 3, 1 with 4, 6, 6, 6, 4, 4 boxes) that is 8732 boxes.

    Parameters
    ----------
    feature_sizes : sequence of int or (H, W) pairs
    aspect_ratios : one sequence of ratios (> 1; their inverses are added) per map
    s_min, s_max : float
        Smallest and largest scale, fractions of the image side (used when ``scales`` is None).
    scales : m + 1 floats, optional
        Explicit scales (torchvision's ssd300_vgg16 uses 0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05).
    steps : m numbers, optional
        Pixel strides that place the centres (ssd300_vgg16: 8, 16, 32, 64, 100, 300).
    image_size : int or (H, W)
        Pixels the normalised boxes are scaled to.
    clip : bool
        Clip widths and heights to at most 1 (the image) before converting, like torchvision.

    Returns
    -------
    (sum_k H_k W_k n_k, 4) array, xyxy pixels: map by map, cell by cell (row-major), the cell's
    boxes in the order listed above.
    """
    sizes = [_pair(f, "feature_sizes[]") for f in feature_sizes]
    if len(aspect_ratios) != len(sizes):
        raise ValueError(f"need one aspect-ratio list per feature map: {len(sizes)} maps, {len(aspect_ratios)} lists")
    m = len(sizes)
    s = _positive_list(scales, "scales").tolist() if scales is not None else ssd_scales(m, s_min, s_max)
    if len(s) != m + 1:
        raise ValueError(f"scales must have len(feature_sizes) + 1 = {m + 1} values, got {len(s)}")
    if steps is not None:
        steps = _positive_list(steps, "steps").tolist()  # a zero step would divide by zero
        if len(steps) != m:
            raise ValueError(f"steps must have one value per feature map ({m}), got {len(steps)}")
    img_h, img_w = _pair(image_size, "image_size")
    out = []
    for k, (fh, fw) in enumerate(sizes):
        wh = [(s[k], s[k]), (math.sqrt(s[k] * s[k + 1]),) * 2]
        for r in aspect_ratios[k]:
            q = math.sqrt(real(r, f"aspect_ratios[{k}] (positive ratios)", low=0.0, low_open=True))
            wh += [(s[k] * q, s[k] / q), (s[k] / q, s[k] * q)]
        wh = np.asarray(wh, dtype=np.float32)
        if clip:
            wh = np.clip(wh, 0, 1)
        x_f, y_f = (img_w / steps[k], img_h / steps[k]) if steps is not None else (fw, fh)
        cx = ((np.arange(fw) + 0.5) / x_f).astype(np.float32)
        cy = ((np.arange(fh) + 0.5) / y_f).astype(np.float32)
        sy, sx = np.meshgrid(cy, cx, indexing="ij")
        centres = np.repeat(np.stack([sx.ravel(), sy.ravel()], axis=1), len(wh), axis=0)
        sizes_k = np.tile(wh, (fh * fw, 1))
        out.append(np.concatenate([centres, sizes_k], axis=1))
    cxcywh = np.concatenate(out, axis=0)
    scale = np.array([img_w, img_h], dtype=np.float32)
    half = np.float32(0.5) * cxcywh[:, 2:]
    xyxy = np.concatenate([(cxcywh[:, :2] - half) * scale, (cxcywh[:, :2] + half) * scale], axis=1)
    return xyxy.astype(np.float64)


def _check_wh(wh, name: str = "wh") -> np.ndarray:
    arr = as_float_array(wh, name).astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) (box widths and heights), got {arr.shape}")
    if not (np.isfinite(arr) & (arr > 0)).all():
        raise ValueError(f"{name} must be positive finite widths and heights")
    return arr


def wh_iou(wh1, wh2) -> np.ndarray:
    """IoU of box shapes placed on a common centre: ``min(w) min(h) / (w1 h1 + w2 h2 - min(w) min(h))``.

    Parameters
    ----------
    wh1 : (N, 2) positive widths and heights
    wh2 : (K, 2) positive widths and heights

    Returns
    -------
    (N, K) array in (0, 1].
    """
    a, b = _check_wh(wh1, "wh1"), _check_wh(wh2, "wh2")
    inter = np.minimum(a[:, None, 0], b[None, :, 0]) * np.minimum(a[:, None, 1], b[None, :, 1])
    return inter / (a[:, None, 0] * a[:, None, 1] + b[None, :, 0] * b[None, :, 1] - inter)


def mean_best_iou(wh, anchors_wh) -> float:
    """Average over boxes of the IoU with their best-fitting anchor shape (YOLOv2's "Avg IOU")."""
    return float(wh_iou(wh, anchors_wh).max(axis=1).mean())


def kmeans_anchors(wh, k: int, seed: int = 0, max_iter: int = 300, n_init: int = 3):
    """YOLOv2 dimension clusters: k-means on box shapes with distance ``d = 1 - IoU``.

    Each run starts from ``k`` distinct shapes drawn at random, assigns every box to the
    centroid it overlaps most (smallest 1 - IoU, ties to the lower index), moves each centroid
    to the mean width and height of its boxes, and stops when no assignment changes. An emptied
    cluster is re-seeded with the worst-fitting box. The best of ``n_init`` runs (highest mean
    IoU) is returned. Euclidean k-means would favour large boxes; 1 - IoU does not care about size.

    Parameters
    ----------
    wh : (N, 2) array-like of positive box widths and heights (N >= k)
    k : int, number of anchor shapes
    seed : int, for the random initialisation (same seed, same result)
    max_iter : int, iterations per run at most
    n_init : int, independent runs

    Returns
    -------
    clusters : (k, 2) array of anchor widths and heights, sorted by area
    mean_iou : float, average over boxes of the IoU with their best cluster
    """
    data = _check_wh(wh)
    k = integer(k, "k", low=1)
    integer(seed, "seed", low=0)
    integer(max_iter, "max_iter", low=1)
    integer(n_init, "n_init", low=1)
    distinct = np.unique(data, axis=0)
    if len(distinct) < k:
        raise ValueError(f"need at least k={k} distinct box shapes, got {len(distinct)}")
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        centroids = distinct[rng.choice(len(distinct), size=k, replace=False)].copy()
        assign = None
        for _ in range(max_iter):
            iou = wh_iou(data, centroids)
            new = iou.argmax(axis=1)
            if assign is not None and np.array_equal(new, assign):
                break
            assign = new
            counts = np.bincount(assign, minlength=k)
            for c in np.flatnonzero(counts == 0):  # re-seed an empty cluster with the worst-fitting box
                worst = int(iou.max(axis=1).argmin())
                centroids[c] = data[worst]
                assign[worst] = c
                iou[worst] = 0.0
                iou[worst, c] = 1.0
            counts = np.bincount(assign, minlength=k)
            sums = np.zeros((k, 2))
            np.add.at(sums, assign, data)
            centroids = sums / counts[:, None]
        score = mean_best_iou(data, centroids)
        if best is None or score > best[1]:
            best = (centroids, score)
    clusters = best[0][np.argsort(best[0].prod(axis=1), kind="stable")]
    return clusters, best[1]


# --- Assigning training targets to anchors -------------------------------------------------------

#: Matched-index codes of :func:`match_anchors` and :func:`ssd_match` (torchvision's ``Matcher``).
BACKGROUND, IGNORED = -1, -2


def _check_iou_matrix(iou) -> np.ndarray:
    arr = as_float_array(iou, "iou")
    if arr.ndim != 2:
        raise ValueError(f"iou must be a (G, A) matrix (ground truths x anchors), got shape {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError("iou contains NaN or infinity")
    return arr


def match_anchors(iou, high: float = 0.7, low: float = 0.3, allow_low_quality_matches: bool = True) -> np.ndarray:
    """Faster R-CNN's anchor assignment (the RPN's rule), as torchvision's ``Matcher``.

    Each anchor takes the ground truth it overlaps most (the first one on ties). It is
    foreground when that IoU is ``>= high``, background when ``< low``, and ignored (no loss)
    in between. With ``allow_low_quality_matches``, every anchor that reaches a ground truth's
    highest IoU (all of them on ties, even an IoU below ``low``) is made foreground as well, so
    no object is left without an anchor; it is matched to *its own* best ground truth, as in
    torchvision.

    Parameters
    ----------
    iou : (G, A) array
        IoU of every ground-truth box (rows) with every anchor (columns), e.g.
        ``helpers.boxes.box_iou(gt, anchors)``.
    high, low : float
        Foreground and background thresholds, ``low <= high`` (Faster R-CNN's RPN: 0.7, 0.3;
        its box head uses 0.5, 0.5 without low-quality matches).
    allow_low_quality_matches : bool

    Returns
    -------
    (A,) int64 array: the matched ground-truth index in ``[0, G)``, ``-1`` (background) or
    ``-2`` (ignored). With no ground truth (G = 0) every anchor is background: torchvision's
    ``Matcher`` raises there, and its detectors label such an image's anchors background.
    """
    q = _check_iou_matrix(iou)
    if not low <= high:
        raise ValueError(f"need low <= high, got low={low!r}, high={high!r}")
    g, a = q.shape
    if g == 0 or a == 0:
        return np.full(a, BACKGROUND, dtype=np.int64)
    best = q.argmax(axis=0)
    best_iou = q[best, np.arange(a)]
    matches = best.astype(np.int64)
    matches[best_iou < low] = BACKGROUND
    matches[(best_iou >= low) & (best_iou < high)] = IGNORED
    if allow_low_quality_matches:
        # every anchor that reaches some ground truth's best IoU (ties included)
        hit = (q == q.max(axis=1, keepdims=True)).any(axis=0)
        matches[hit] = best[hit]
    return matches


def ssd_match(iou, threshold: float = 0.5) -> np.ndarray:
    """SSD's matching strategy, as torchvision's ``SSDMatcher``.

    Every anchor whose best IoU is ``>= threshold`` is matched to that ground truth (the first one
    on ties); then each ground truth takes its single best anchor (the first one on ties) whatever
    the IoU, and overrides that anchor's match (a later ground truth wins when two pick the same
    anchor). Everything else is background; nothing is ignored.

    Parameters
    ----------
    iou : (G, A) array, ground truths x anchors
    threshold : float, SSD uses 0.5

    Returns
    -------
    (A,) int64 array: ground-truth index in ``[0, G)`` or ``-1`` (background); all ``-1`` when G = 0
    (what torchvision's SSD does for an image without objects).
    """
    q = _check_iou_matrix(iou)
    matches = match_anchors(q, threshold, threshold, allow_low_quality_matches=False)
    if q.shape[0] and q.shape[1]:
        matches[q.argmax(axis=1)] = np.arange(q.shape[0])
    return matches


def sample_balanced(matches, batch_size: int = 256, positive_fraction: float = 0.5, rng=None):
    """The RPN's minibatch: at most ``batch_size * positive_fraction`` foreground anchors, filled up with background.

    Faster R-CNN trains its RPN on 256 anchors per image, up to half of them foreground ("if
    there are fewer than 128 positive samples in an image, we pad the mini-batch with negative
    ones"); ignored anchors are never sampled. The counts are those of torchvision's
    ``BalancedPositiveNegativeSampler``, and the choice within each group is uniform without
    replacement, as there (the random streams differ: NumPy's, not torch's).

    Parameters
    ----------
    matches : (A,) int array from :func:`match_anchors` (``>= 0`` foreground, ``-1`` background,
        ``-2`` ignored)
    batch_size : int, anchors per image (Faster R-CNN: 256)
    positive_fraction : float in [0, 1] (Faster R-CNN: 0.5)
    rng : ``numpy.random.Generator``, seed or None

    Returns
    -------
    positive, negative : int64 arrays of sampled anchor indices (sorted)
    """
    m = np.asarray(matches)
    if m.ndim != 1 or not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"matches must be a 1-D int array, got shape {m.shape}, dtype {m.dtype}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 0:
        raise ValueError(f"batch_size must be a non-negative int, got {batch_size!r}")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction!r}")
    rng = np.random.default_rng(rng)
    positive, negative = np.flatnonzero(m >= 0), np.flatnonzero(m == BACKGROUND)
    num_pos = min(positive.size, int(batch_size * positive_fraction))
    num_neg = min(negative.size, batch_size - num_pos)
    return (np.sort(rng.choice(positive, num_pos, replace=False)),
            np.sort(rng.choice(negative, num_neg, replace=False)))


#: SSD300's scales in the paper: conv4_3 at 0.1 (Sec. 3.1), the Sec. 2.2 rule (0.2 .. 0.9) over the
#: other five maps, and s_7 = 1.0 for the last map's extra box (not in the paper; torchvision's choice).
#: ``ssd_default_boxes()`` without ``scales`` applies the Sec. 2.2 rule to all six maps instead.
SSD300_PAPER_SCALES = (0.1, *ssd_scales(5, 0.2, 0.9))
