"""Deterministic synthetic box sets (xyxy float pixels) for tests, benchmarks and notebooks.

How fast NMS runs, and how many boxes it keeps, depends mostly on how the boxes overlap, so
each generator names its distribution:

- :func:`uniform_boxes`: independent boxes scattered over an image (low overlap, most kept);
- :func:`clustered_boxes`: what a detector emits before NMS, many jittered copies of a few
  objects with correlated scores (heavy overlap, few kept);
- :func:`large_boxes`: torchvision's test recipe (corners uniform in [0, 100], sizes up to
  100), boxes as large as the image, every box overlaps most others.
"""

from __future__ import annotations

import numpy as np


def uniform_boxes(n: int, seed: int = 0, image_size: float = 1000.0, min_size: float = 10.0,
                  max_size: float = 200.0, dtype=np.float32):
    """``n`` boxes with centres uniform over a square image and sides uniform in [min_size, max_size].

    Returns
    -------
    boxes : (n, 4) xyxy, scores : (n,) uniform in [0, 1)
    """
    rng = np.random.default_rng(seed)
    wh = rng.uniform(min_size, max_size, (n, 2))
    centre = rng.uniform(0, image_size, (n, 2))
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)
    return boxes.astype(dtype), rng.random(n).astype(dtype)


def clustered_boxes(n: int, seed: int = 0, n_objects: int | None = None, image_size: float = 1000.0,
                    jitter: float = 0.1, dtype=np.float32):
    """Detector-like raw output: ``n`` boxes around ``n_objects`` objects (default n // 100).

    Each object has a size in [20, 300] pixels; each of its boxes moves the centre by
    ``jitter`` x size (Gaussian) and scales the sides by ``exp(N(0, jitter))``. Scores are higher
    for better-placed boxes (``exp(-offset**2)`` plus noise), as a detector's would be.

    Returns
    -------
    boxes : (n, 4) xyxy, scores : (n,) in [0, 1], objects : (n_objects, 4) xyxy true boxes
    """
    rng = np.random.default_rng(seed)
    k = max(1, n // 100) if n_objects is None else n_objects
    size = rng.uniform(20, 300, (k, 2))
    centre = rng.uniform(0, image_size, (k, 2))
    owner = rng.integers(0, k, n)
    offset = rng.normal(0, jitter, (n, 2))
    scale = np.exp(rng.normal(0, jitter, (n, 2)))
    c = centre[owner] + offset * size[owner]
    wh = size[owner] * scale
    boxes = np.concatenate([c - wh / 2, c + wh / 2], axis=1)
    quality = np.exp(-((offset / jitter) ** 2).sum(1) / 4 - ((np.log(scale) / jitter) ** 2).sum(1) / 4)
    scores = np.clip(0.8 * quality + 0.2 * rng.random(n), 0, 1)
    objects = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return boxes.astype(dtype), scores.astype(dtype), objects


def large_boxes(n: int, seed: int = 0, dtype=np.float32):
    """torchvision's NMS test recipe: ``b = rand(n, 4) * 100; b[:, 2:] += b[:, :2]``, scores uniform."""
    rng = np.random.default_rng(seed)
    boxes = rng.random((n, 4)) * 100
    boxes[:, 2:] += boxes[:, :2]
    return boxes.astype(dtype), rng.random(n).astype(dtype)
