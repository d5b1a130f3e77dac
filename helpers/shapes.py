"""A synthetic multi-class detection task: coloured shapes on noisy backgrounds, from a seed.

Notebook 02 trains a small SSD from scratch on it in minutes on a CPU. Each image has a smooth
colour gradient plus pixel noise as background, a few faint distractor lines, and 1 to
``max_objects`` shapes (:data:`CLASSES`: circle, square, triangle) of random colour and size
that overlap each other at most a little. The colour says nothing about the class: the
detector has to learn the shape.

Image ``i`` of a split is drawn from ``numpy.random.default_rng([seed, i])``, so the same
``(seed, i)`` always gives the same image, and splits with different seeds share no image.
Boxes are ``xyxy`` float pixels, labels ``1..len(CLASSES)`` (0 is background, as in torchvision).
"""

from __future__ import annotations

import numpy as np

from helpers.boxes import box_iou

#: Class names; label ``k`` (1-based) is ``CLASSES[k - 1]``.
CLASSES = ("circle", "square", "triangle")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    corners = rng.uniform(0, 255, (2, 2, 3))
    t = np.linspace(0, 1, size)[:, None, None]
    rows = corners[0][None] * (1 - t) + corners[1][None] * t  # (size, 2, 3): left and right columns
    u = np.linspace(0, 1, size)[None, :, None]
    img = rows[:, :1] * (1 - u) + rows[:, 1:] * u
    return img + rng.normal(0, 12, (size, size, 3))


def _shape_mask(kind: int, box: np.ndarray, size: int, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    x1, y1, x2, y2 = box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
    if kind == 1:  # circle
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if kind == 2:  # square
        return (xx >= x1) & (xx < x2) & (yy >= y1) & (yy < y2)
    # triangle with its base at the bottom of the box (upright) or the top (flipped)
    v = (yy - y1) / (y2 - y1) if angle < 0.5 else (y2 - yy) / (y2 - y1)
    return (v >= 0) & (v <= 1) & (np.abs(xx - cx) <= r * v)


def make_image(seed: int, index: int, image_size: int = 96, max_objects: int = 4,
               min_size: float = 12.0, max_size: float = 40.0):
    """Image ``index`` of the split ``seed``.

    Returns
    -------
    image : (image_size, image_size, 3) uint8 RGB
    target : dict with ``"boxes"`` (K, 4) float64 xyxy pixels and ``"labels"`` (K,) int64 in 1..3
    """
    rng = np.random.default_rng([int(seed), int(index)])
    img = _background(rng, image_size)
    for _ in range(rng.integers(0, 4)):  # thin distractor lines
        p, q = rng.uniform(0, image_size, 2), rng.uniform(0, image_size, 2)
        t = np.linspace(0, 1, 4 * image_size)[:, None]
        pts = np.clip((p * (1 - t) + q * t).astype(int), 0, image_size - 1)
        img[pts[:, 1], pts[:, 0]] = rng.uniform(0, 255, 3)
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            side = float(np.exp(rng.uniform(np.log(min_size), np.log(max_size))))
            x1, y1 = rng.uniform(0, image_size - side, 2)
            box = np.array([x1, y1, x1 + side, y1 + side])
            if not boxes or box_iou(box[None], np.array(boxes)).max() < 0.1:
                break
        else:
            continue
        kind = int(rng.integers(1, len(CLASSES) + 1))
        colour = rng.uniform(0, 255, 3)
        mask = _shape_mask(kind, box, image_size, rng.random())
        if kind == 3:  # the triangle's box is its drawn extent
            ys, xs = np.nonzero(mask)
            if ys.size == 0:
                continue
            box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
        img[mask] = colour + rng.normal(0, 8, (int(mask.sum()), 3))
        boxes.append(box)
        labels.append(kind)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return image, {"boxes": np.array(boxes, float).reshape(-1, 4), "labels": np.array(labels, np.int64)}


def make_split(n: int, seed: int, **kwargs):
    """``n`` images of split ``seed`` (see :func:`make_image` for ``kwargs``).

    Returns
    -------
    images : (n, H, W, 3) uint8
    targets : list of n dicts ``{"boxes": (K, 4) xyxy, "labels": (K,) int64}``
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    pairs = [make_image(seed, i, **kwargs) for i in range(n)]
    size = kwargs.get("image_size", 96)
    images = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, size, size, 3), np.uint8)
    return images, [p[1] for p in pairs]
