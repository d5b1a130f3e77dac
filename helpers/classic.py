"""The counting and pooling behind classic detectors, in NumPy: reference code for notebook 03.

* sliding windows over an image pyramid: how many windows (= classifier calls) a detector
  that scans every position and scale has to score (:func:`pyramid_shapes`,
  :func:`count_windows`, :func:`pyramid_window_counts`, :func:`sliding_windows`);
* RoI pooling (Fast R-CNN) and RoIAlign (Mask R-CNN) written out loop by loop, the same
  arithmetic as ``torchvision.ops.roi_pool`` / ``roi_align`` (:func:`roi_pool`, :func:`roi_align`);
* SSD's hard negative mining at 3 negatives per positive (:func:`hard_negative_mining`);
* the multiply-accumulate (MAC) cost of a standard vs a depthwise separable convolution
  (MobileNet, Howard et al. 2017) (:func:`conv_macs`, :func:`depthwise_separable_macs`).

Boxes are ``xyxy`` float pixels of the input image; feature maps are (C, H, W).
"""

from __future__ import annotations

import math

import numpy as np


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return a, b


# --------------------------------------------------------------------------- sliding windows
def count_windows(image_size, window, stride=1) -> int:
    """Positions of a ``window`` sliding with ``stride`` fully inside an image.

    Parameters
    ----------
    image_size, window, stride : int or (height, width)

    Returns
    -------
    ``(floor((H - h) / sy) + 1) * (floor((W - w) / sx) + 1)``, or 0 if the window does not fit.
    """
    (H, W), (h, w), (sy, sx) = _pair(image_size, "image_size"), _pair(window, "window"), _pair(stride, "stride")
    if h > H or w > W:
        return 0
    return ((H - h) // sy + 1) * ((W - w) // sx + 1)


def pyramid_shapes(image_size, downscale: float = 1.25, min_size=1) -> list[tuple[int, int]]:
    """(height, width) of each level of an image pyramid, largest first.

    Each level is ``ceil(previous / downscale)``, as ``skimage.transform.pyramid_gaussian``
    computes it; levels stop before either side drops below ``min_size`` (int or (h, w)), e.g.
    the detector's window.
    """
    if not downscale > 1:
        raise ValueError(f"downscale must be > 1, got {downscale}")
    (H, W), (mh, mw) = _pair(image_size, "image_size"), _pair(min_size, "min_size")
    shapes = []
    while H >= mh and W >= mw:
        shapes.append((H, W))
        nh, nw = math.ceil(H / downscale), math.ceil(W / downscale)
        if (nh, nw) == (H, W):  # 1x1 cannot shrink any further
            break
        H, W = nh, nw
    return shapes


def pyramid_window_counts(image_size, window, stride=1, downscale: float = 1.25) -> list[dict]:
    """Windows per pyramid level for a fixed-size ``window`` classifier.

    Returns
    -------
    one dict per level with ``level``, ``shape`` (h, w), ``scale`` (original / level, width-wise)
    and ``windows``; ``sum(d["windows"] ...)`` is the number of classifier calls per image.
    """
    window = _pair(window, "window")
    W0 = _pair(image_size, "image_size")[1]
    return [{"level": i, "shape": s, "scale": W0 / s[1], "windows": count_windows(s, window, stride)}
            for i, s in enumerate(pyramid_shapes(image_size, downscale, min_size=window))]


def sliding_windows(image_size, window, stride=1) -> np.ndarray:
    """Every window position as an (N, 4) ``xyxy`` array, row-major (top row first).

    ``len(sliding_windows(...)) == count_windows(...)``.
    """
    (H, W), (h, w), (sy, sx) = _pair(image_size, "image_size"), _pair(window, "window"), _pair(stride, "stride")
    if h > H or w > W:
        return np.zeros((0, 4))
    ys, xs = np.meshgrid(np.arange(0, H - h + 1, sy), np.arange(0, W - w + 1, sx), indexing="ij")
    x1, y1 = xs.ravel().astype(np.float64), ys.ravel().astype(np.float64)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


# --------------------------------------------------------------------------- RoI pooling
def _check_pool_inputs(features, rois, output_size, spatial_scale):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim == 2:
        features = features[None]
    if features.ndim != 3:
        raise ValueError(f"features must be (C, H, W) or (H, W), got shape {features.shape}")
    rois = np.asarray(rois, dtype=np.float64)
    if rois.ndim == 1:
        rois = rois[None]
    if rois.ndim != 2 or rois.shape[1] != 4:
        raise ValueError(f"rois must be (K, 4) xyxy boxes, got shape {rois.shape}")
    if not np.isfinite(rois).all():
        raise ValueError("rois contain NaN or infinite values")
    if not spatial_scale > 0:
        raise ValueError(f"spatial_scale must be > 0, got {spatial_scale}")
    return features, rois, _pair(output_size, "output_size")


def roi_pool(features, rois, output_size, spatial_scale: float = 1.0) -> np.ndarray:
    """RoI max pooling (Fast R-CNN), the arithmetic of ``torchvision.ops.roi_pool``.

    Each box is scaled by ``spatial_scale`` and **rounded** to feature cells (the quantisation
    RoIAlign later removed); its cells ``x1..x2`` are inclusive, so a box from x=0 to x=6 covers
    7 cells. The region is split into ``output_size`` bins of ``floor``/``ceil`` edges, and each
    bin keeps its maximum (0 for an empty bin).

    Parameters
    ----------
    features : (C, H, W) feature map of one image
    rois : (K, 4) boxes ``x1, y1, x2, y2`` in input-image pixels
    output_size : int or (out_h, out_w)
    spatial_scale : feature cells per input pixel (1/16 for a stride-16 backbone)

    Returns
    -------
    (K, C, out_h, out_w) array.
    """
    features, rois, (ph, pw) = _check_pool_inputs(features, rois, output_size, spatial_scale)
    C, H, W = features.shape
    out = np.zeros((len(rois), C, ph, pw))
    for k, (x1, y1, x2, y2) in enumerate(rois):
        # round half away from zero, like C's round() that torchvision uses
        x1, y1, x2, y2 = (int(math.floor(abs(v * spatial_scale) + 0.5) * np.sign(v)) for v in (x1, y1, x2, y2))
        roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        for i in range(ph):
            hs = min(max(math.floor(i * bin_h) + y1, 0), H)
            he = min(max(math.ceil((i + 1) * bin_h) + y1, 0), H)
            for j in range(pw):
                ws = min(max(math.floor(j * bin_w) + x1, 0), W)
                we = min(max(math.ceil((j + 1) * bin_w) + x1, 0), W)
                if he > hs and we > ws:
                    out[k, :, i, j] = features[:, hs:he, ws:we].max(axis=(1, 2))
    return out


def roi_pool_bins(roi, output_size, spatial_scale: float = 1.0) -> list[list[tuple[slice, slice]]]:
    """The feature cells each output bin of :func:`roi_pool` reads: ``bins[i][j] = (rows, cols)`` slices.

    For teaching: the bin edges are ``floor(i * size / out)`` and ``ceil((i + 1) * size / out)``, so
    when the region does not divide evenly neighbouring bins *overlap* by one cell: a 5x7 region
    pooled to 2x2 gives four 3x4 bins (the textbook picture draws a partition into 2x3, 2x4, 3x3
    and 3x4 cells instead). Slices are not clipped to the feature map.
    """
    _, rois, (ph, pw) = _check_pool_inputs(np.zeros((1, 1, 1)), roi, output_size, spatial_scale)
    x1, y1, x2, y2 = (int(math.floor(abs(v * spatial_scale) + 0.5) * np.sign(v)) for v in rois[0])
    bin_h, bin_w = max(y2 - y1 + 1, 1) / ph, max(x2 - x1 + 1, 1) / pw
    return [[(slice(math.floor(i * bin_h) + y1, math.ceil((i + 1) * bin_h) + y1),
              slice(math.floor(j * bin_w) + x1, math.ceil((j + 1) * bin_w) + x1)) for j in range(pw)]
            for i in range(ph)]


def _bilinear(feature: np.ndarray, y: float, x: float) -> np.ndarray:
    """Bilinear sample of a (C, H, W) map at (y, x), zero outside [-1, H] x [-1, W] (torchvision's rule)."""
    _, H, W = feature.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return np.zeros(feature.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= H - 1:
        y0 = y1 = H - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= W - 1:
        x0 = x1 = W - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * feature[:, y0, x0] + hy * lx * feature[:, y0, x1]
            + ly * hx * feature[:, y1, x0] + ly * lx * feature[:, y1, x1])


def roi_align(features, rois, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
              aligned: bool = False) -> np.ndarray:
    """RoIAlign (Mask R-CNN): no rounding; each bin averages bilinear samples on a regular grid.

    Same arithmetic as ``torchvision.ops.roi_align``: ``aligned=True`` shifts the box by half a
    cell (pixel centres), the form Detectron2 and torchvision's Mask R-CNN v2 use;
    ``sampling_ratio <= 0`` picks ``ceil(bin size)`` samples per bin side.

    Parameters
    ----------
    features : (C, H, W);  rois : (K, 4) ``xyxy`` input pixels;  output_size : int or (out_h, out_w)

    Returns
    -------
    (K, C, out_h, out_w) array.
    """
    features, rois, (ph, pw) = _check_pool_inputs(features, rois, output_size, spatial_scale)
    offset = 0.5 if aligned else 0.0
    out = np.zeros((len(rois), features.shape[0], ph, pw))
    for k, (x1, y1, x2, y2) in enumerate(rois):
        xs, ys = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        roi_w, roi_h = x2 * spatial_scale - offset - xs, y2 * spatial_scale - offset - ys
        if not aligned:  # legacy behaviour: force malformed boxes to 1x1
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        count = max(gh * gw, 1)
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(features.shape[0])
                for iy in range(gh):
                    y = ys + i * bin_h + (iy + 0.5) * bin_h / gh
                    for ix in range(gw):
                        acc += _bilinear(features, y, xs + j * bin_w + (ix + 0.5) * bin_w / gw)
                out[k, :, i, j] = acc / count
    return out


# --------------------------------------------------------------------------- SSD
def hard_negative_mining(losses, positive, neg_pos_ratio: int = 3) -> np.ndarray:
    """Choose the hardest negatives, at most ``neg_pos_ratio`` per positive (SSD, Liu et al. 2016).

    Parameters
    ----------
    losses : (N,) or (B, N) classification loss of every default box (its loss as background
        for negatives); rows are images, mined independently
    positive : bool array of the same shape, True for boxes matched to an object
    neg_pos_ratio : negatives kept per positive (3 in SSD)

    Returns
    -------
    bool array of the same shape: the negatives to train on, the
    ``min(neg_pos_ratio * n_pos, n_neg)`` highest-loss negatives of each image (ties: lower index).
    """
    losses = np.asarray(losses, dtype=np.float64)
    positive = np.asarray(positive)
    if positive.dtype != bool:
        raise TypeError(f"positive must be a boolean mask, got dtype {positive.dtype}")
    if losses.shape != positive.shape or losses.ndim not in (1, 2):
        raise ValueError(f"losses and positive must have one shape (N,) or (B, N), got {losses.shape} and {positive.shape}")
    if isinstance(neg_pos_ratio, bool) or not isinstance(neg_pos_ratio, (int, np.integer)) or neg_pos_ratio < 0:
        raise ValueError(f"neg_pos_ratio must be an int >= 0, got {neg_pos_ratio!r}")
    if np.isnan(losses).any():
        raise ValueError("losses contain NaN")
    squeeze = losses.ndim == 1
    losses, positive = np.atleast_2d(losses), np.atleast_2d(positive)
    chosen = np.zeros_like(positive)
    for b in range(losses.shape[0]):
        neg_idx = np.flatnonzero(~positive[b])
        n_keep = min(neg_pos_ratio * int(positive[b].sum()), len(neg_idx))
        order = np.argsort(-losses[b, neg_idx], kind="stable")[:n_keep]
        chosen[b, neg_idx[order]] = True
    return chosen[0] if squeeze else chosen


# --------------------------------------------------------------------------- MobileNet cost
def conv_macs(feature_size, c_in: int, c_out: int, kernel: int, stride: int = 1) -> int:
    """Multiply-accumulates of a standard ``kernel x kernel`` convolution ('same' padding, no bias).

    ``Dk * Dk * M * N * Df * Df`` in MobileNet's notation, with ``Df`` the *output* size
    (``ceil(input / stride)``), ``M = c_in``, ``N = c_out``.
    """
    h, w = _pair(feature_size, "feature_size")
    ho, wo = math.ceil(h / stride), math.ceil(w / stride)
    return kernel * kernel * c_in * c_out * ho * wo


def depthwise_separable_macs(feature_size, c_in: int, c_out: int, kernel: int, stride: int = 1) -> dict:
    """MACs of a depthwise ``kernel x kernel`` convolution followed by a 1x1 pointwise one.

    Returns
    -------
    dict with ``depthwise`` (``Dk*Dk*M*Df*Df``), ``pointwise`` (``M*N*Df*Df``) and ``total``.
    ``total / conv_macs(...) == 1/N + 1/Dk**2`` (:func:`separable_cost_ratio`).
    """
    h, w = _pair(feature_size, "feature_size")
    ho, wo = math.ceil(h / stride), math.ceil(w / stride)
    depthwise = kernel * kernel * c_in * ho * wo
    pointwise = c_in * c_out * ho * wo
    return {"depthwise": depthwise, "pointwise": pointwise, "total": depthwise + pointwise}


def separable_cost_ratio(c_out: int, kernel: int) -> float:
    """MobileNet's cost ratio of depthwise separable to standard convolution: ``1/N + 1/Dk^2``."""
    if c_out < 1 or kernel < 1:
        raise ValueError(f"c_out and kernel must be >= 1, got {c_out}, {kernel}")
    return 1.0 / c_out + 1.0 / kernel**2


def opencv_cascade_size(path) -> dict:
    """Size of an OpenCV cascade XML file (Haar or LBP, the format of ``cv2.data.haarcascades``).

    Returns ``{"stages", "weak_classifiers", "features", "window", "feature_type"}``: the number of
    stages, of weak classifiers (decision stumps or trees) over all stages, of distinct features
    they read, the detection window ``(width, height)`` in pixels and ``"HAAR"`` or ``"LBP"``.
    """
    import xml.etree.ElementTree as ET

    root = ET.parse(str(path)).getroot()
    cascade = root.find("cascade")
    if cascade is None:
        raise ValueError(f"{path}: not an OpenCV cascade file (no <cascade> element)")
    stages = cascade.find("stages")
    weak = sum(len(stage.find("weakClassifiers")) for stage in stages)
    return {"stages": int(cascade.findtext("stageNum")), "weak_classifiers": int(weak),
            "features": len(cascade.find("features")),
            "window": (int(cascade.findtext("width")), int(cascade.findtext("height"))),
            "feature_type": cascade.findtext("featureType").strip()}
