"""A short synthetic "video" for the Batman detector, and writing frames as an animated GIF.

:func:`make_video` slides and zooms a few characters (drawn by the dataset's own generator,
:mod:`helpers.batman_art`) across a panning comic background, so a detector can be run frame
by frame and its boxes compared with the truth. NumPy + Pillow only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def make_video(n_frames: int = 24, size: int = 256, seed: int = 0,
               objects: Sequence[str] = ("batman_face", "bat_symbol", "joker_face", "robin_symbol"),
               style: str | None = None) -> tuple[list[np.ndarray], list[dict]]:
    """Frames of characters moving and zooming over a panning background.

    Parameters
    ----------
    n_frames : number of frames
    size : frames are ``size x size`` RGB
    objects : class names (``helpers.data.CLASSES``), one moving object each
    style : drawing style for all of them (``helpers.data.STYLES``); default: one per object at random

    Returns
    -------
    (frames, truth): ``frames`` is a list of (size, size, 3) uint8 arrays; ``truth[i]`` is
    ``{"boxes": (N, 4) xyxy float, "labels": (N,) int64}`` for frame ``i`` (labels ``1..5``).
    """
    from helpers.batman import make_background
    from helpers.batman_art import STYLES, render_sprite
    from helpers.voc import CLASSES

    if n_frames < 1 or size < 64:
        raise ValueError(f"need n_frames >= 1 and size >= 64, got {n_frames}, {size}")
    unknown = [o for o in objects if o not in CLASSES]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; classes: {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    background = np.asarray(make_background(rng, 2 * size, 2 * size))
    pan = rng.uniform(0, size, (2, 2))  # start and end of the background window
    paths = []
    for k, name in enumerate(objects):
        s = style or STYLES[int(rng.integers(len(STYLES)))]
        # one quadrant each (mostly apart), drifting a little and zooming in or out on the way
        start = (np.array([0.27 + 0.46 * (k % 2), 0.27 + 0.46 * (k // 2 % 2)]) + rng.uniform(-0.05, 0.05, 2)) * size
        end = start + rng.uniform(-0.12, 0.12, 2) * size
        scale = rng.uniform(0.2, 0.38, 2) * size
        paths.append((name, s, start, end, scale, rng.uniform(-20, 20), int(rng.integers(2**31)), k))
    frames, truth = [], []
    for i in range(n_frames):
        t = i / max(1, n_frames - 1)
        x0, y0 = (pan[0] + t * (pan[1] - pan[0])).astype(int)
        canvas = Image.fromarray(background[y0:y0 + size, x0:x0 + size].copy())
        boxes, labels = [], []
        for name, s, start, end, scale, angle, sprite_seed, _ in paths:
            # the same seed every frame: the same drawing, only moved, scaled and turned
            sprite = render_sprite(name, s, np.random.default_rng(sprite_seed), float(scale[0] + t * (scale[1] - scale[0])),
                                   angle=angle * t)
            cx, cy = start + t * (end - start)
            x, y = int(cx - sprite.width / 2), int(cy - sprite.height / 2)
            canvas.paste(sprite, (x, y), sprite)
            alpha = np.asarray(sprite)[..., 3] > 0
            ys, xs = np.nonzero(alpha)
            box = np.array([x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1], float)
            box = np.clip(box, 0, size)
            if box[2] - box[0] > 2 and box[3] - box[1] > 2:
                boxes.append(box)
                labels.append(CLASSES.index(name) + 1)
        frames.append(np.asarray(canvas.convert("RGB")))
        truth.append({"boxes": np.array(boxes, float).reshape(-1, 4), "labels": np.array(labels, np.int64)})
    return frames, truth


def gif_frame(frame, index: int = 0) -> np.ndarray:
    """One frame as uint8 RGB for :func:`save_gif`, validated.

    uint8 is kept; a float frame must lie in [0, 1] (the range ``predict`` and matplotlib use) and
    is scaled by 255; an integer frame must lie in 0..255 (no wrap-around). (H, W) grayscale and
    (H, W, 4) RGBA become RGB. Anything else raises ``ValueError`` naming the frame.
    """
    a = np.asarray(frame)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"frame {index}: expected an (H, W, 3) RGB image, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError(f"frame {index}: contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"frame {index}: float values must lie in [0, 1], got {lo:g}..{hi:g} "
                             "(scale them, or pass uint8 0..255)")
        return np.rint(a * 255.0).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"frame {index}: integer values must lie in 0..255, got {lo}..{hi} (they would wrap)")
        return a.astype(np.uint8)
    raise ValueError(f"frame {index}: unsupported dtype {a.dtype}")


def save_gif(frames: Sequence[np.ndarray], path, fps: float = 8.0, max_size: int | None = None) -> Path:
    """Write RGB frames as a looping animated GIF (optionally shrunk to ``max_size`` px).

    Frames are uint8 0..255 or float 0..1 (scaled), see :func:`gif_frame`; out-of-range values
    and ``fps <= 0`` raise ``ValueError``. Returns the path; the file size is what a notebook
    embeds, so keep frames few and small.
    """
    import imageio.v3 as iio

    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not np.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer))
                                 or max_size < 1):
        raise ValueError(f"max_size must be a positive number of pixels or None, got {max_size!r}")
    if not len(frames):
        raise ValueError("no frames to write")
    checked = [gif_frame(f, i) for i, f in enumerate(frames)]
    if len({f.shape for f in checked}) > 1:
        raise ValueError(f"frames must all have one size, got {sorted({f.shape for f in checked})}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for f in checked:
        img = Image.fromarray(f)
        if max_size and max(img.size) > max_size:
            img.thumbnail((max_size, max_size))
        out.append(np.asarray(img))
    iio.imwrite(path, np.stack(out), extension=".gif", duration=1000.0 / float(fps), loop=0)
    return path
