"""Probing detectors with small objects: paste one object at decreasing sizes, score each size.

Framework-free (NumPy + Pillow): the notebook runs any detector on the pasted images and hands
its boxes (``xyxy`` float pixels) and scores to :func:`best_match`.
"""

from __future__ import annotations

import numpy as np


def paste_object(background, obj, height: int, center: tuple[float, float] | None = None):
    """Paste ``obj`` resized to ``height`` pixels tall (aspect kept) onto a copy of ``background``.

    Parameters
    ----------
    background : uint8 array (H, W, 3)
    obj : uint8 array (h, w, 3), the object (e.g. a crop of a photo)
    height : int >= 2, pasted height in pixels; the width follows the object's aspect ratio
    center : (x, y) pixel centre of the pasted object; the image centre if omitted

    Returns
    -------
    image : uint8 array (H, W, 3)
    box : float array (4,), the pasted object's box, ``xyxy`` pixels
    """
    from PIL import Image

    background = np.asarray(background)
    obj = np.asarray(obj)
    for label, array in (("background", background), ("obj", obj)):
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(f"{label} must be (H, W, 3) RGB, got shape {array.shape}")
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)) or height < 2:
        raise ValueError(f"height must be an int >= 2 pixels, got {height!r}")
    big_h, big_w = background.shape[:2]
    width = max(1, round(obj.shape[1] * height / obj.shape[0]))
    if height > big_h or width > big_w:
        raise ValueError(f"a {width}x{height} object does not fit in a {big_w}x{big_h} background")
    cx, cy = (big_w / 2, big_h / 2) if center is None else center
    x1 = int(round(cx - width / 2))
    y1 = int(round(cy - height / 2))
    if x1 < 0 or y1 < 0 or x1 + width > big_w or y1 + height > big_h:
        raise ValueError(f"object of {width}x{height} centred at ({cx}, {cy}) leaves the {big_w}x{big_h} image")
    resized = np.asarray(Image.fromarray(obj.astype(np.uint8)).resize((width, int(height)), Image.LANCZOS))
    image = background.astype(np.uint8).copy()
    image[y1:y1 + height, x1:x1 + width] = resized
    return image, np.array([x1, y1, x1 + width, y1 + height], dtype=np.float64)


def _iou_with(box, boxes) -> np.ndarray:
    """IoU of one ``xyxy`` box with (N, 4) ``xyxy`` boxes; degenerate boxes give 0."""
    ix1, iy1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    ix2, iy2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def best_match(boxes, scores, target, iou_threshold: float = 0.5, labels=None,
               target_label=None) -> tuple[float, int]:
    """Highest score among detections overlapping ``target`` with IoU >= ``iou_threshold``.

    Parameters
    ----------
    boxes : (N, 4) detections, ``xyxy`` pixels
    scores : (N,) their scores
    target : (4,) the object's box, ``xyxy`` pixels
    labels, target_label : optional (N,) detection classes and the object's class; when given,
        only detections of ``target_label`` count (a "Picture frame" box around a pasted cat
        does not find the cat). Give both or neither.

    Returns
    -------
    (score, index) of the best matching detection, or (0.0, -1) when none overlaps enough:
    the object was missed.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    target = np.asarray(target, dtype=np.float64).reshape(4)
    if len(boxes) != len(scores):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    if (labels is None) != (target_label is None):
        raise ValueError("give both labels and target_label, or neither")
    if not len(boxes):
        return 0.0, -1
    overlaps = _iou_with(target, boxes) >= iou_threshold
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(labels)} labels")
        overlaps &= np.array([label == target_label for label in labels], dtype=bool)
    matched = np.flatnonzero(overlaps)
    if not len(matched):
        return 0.0, -1
    best = matched[np.argmax(scores[matched])]
    return float(scores[best]), int(best)
