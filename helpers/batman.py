"""The synthetic Batman dataset: comic-like scenes written as a Pascal VOC / LabelImg folder.

``make_batman_dataset(root, n_images, seed)`` draws ``n_images`` scenes (cluttered comic
backgrounds, 2-5 labelled objects of the five classes in four styles, 1-3 unlabelled
look-alikes, partial occlusion and truncation) and writes::

    root/JPEGImages/batman_00000.jpg ...
    root/Annotations/batman_00000.xml ...        (exactly as LabelImg writes them, helpers.voc)
    root/ImageSets/Main/train.txt val.txt test.txt   (disjoint image ids, sorted)
    root/batman.json                              (parameters; each object's style; the look-alikes'
                                                   names, styles and boxes, for error analysis)

Determinism: every image is drawn from its own NumPy generator seeded with ``(seed, i)``, the
split/class plan from ``(seed,)``; JPEG quality and chroma subsampling are fixed and nothing
depends on time or on the path, so the same arguments give byte-identical files (with the same
Pillow/libjpeg build).

Boxes are tight around the *visible* pixels of each object (alpha >= 50 %, after occlusion by
later layers and clipping to the image). An object never shows less than ``min_visible`` of its
own pixels: a layer that would hide more is not drawn. ``truncated`` is 1 when the object is cut
by the image border or touches it (LabelImg's rule).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path, PurePosixPath

import numpy as np
import PIL
from PIL import Image, ImageDraw

from helpers.batman_art import DISTRACTORS, STYLES, render_sprite
from helpers.voc import CLASSES, SPLITS, voc_xml_string

#: Bumped whenever the drawing changes, so a cached folder from older code is regenerated.
GENERATOR_VERSION = 2

#: JPEG settings fixed for byte-identical output: quality 90, 4:4:4 (no chroma subsampling,
#: which would blur thin red/green lines), no optimisation pass.
JPEG_OPTIONS = {"quality": 90, "subsampling": 0, "optimize": False}

_PANEL_COLORS = ((255, 250, 235), (250, 230, 140), (170, 210, 240), (240, 170, 170), (200, 235, 190),
                 (220, 200, 240), (255, 200, 130), (150, 150, 175), (90, 100, 140), (60, 60, 80),
                 (245, 245, 245), (200, 60, 60), (60, 120, 190))
_SHAPE_COLORS = ((230, 50, 50), (40, 90, 200), (250, 210, 40), (40, 160, 80), (250, 250, 250), (20, 20, 20),
                 (240, 130, 30), (150, 60, 170), (120, 120, 120))


# ---------------------------------------------------------------------------------------------
# backgrounds
# ---------------------------------------------------------------------------------------------
def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _panels(rng, w, h) -> list[tuple[int, int, int, int]]:
    layout = int(rng.integers(5))
    if layout == 0:
        return [(0, 0, w, h)]
    if layout in (1, 2):  # two panels split vertically / horizontally
        cut = int((w if layout == 1 else h) * rng.uniform(0.3, 0.7))
        return [(0, 0, cut, h), (cut, 0, w, h)] if layout == 1 else [(0, 0, w, cut), (0, cut, w, h)]
    cut = int(h * rng.uniform(0.35, 0.65))  # a wide panel above/below two narrow ones
    cut2 = int(w * rng.uniform(0.3, 0.7))
    if layout == 3:
        return [(0, 0, w, cut), (0, cut, cut2, h), (cut2, cut, w, h)]
    return [(0, 0, cut2, cut), (cut2, 0, w, cut), (0, cut, w, h)]


def _fill_panel(arr: np.ndarray, rng, box) -> None:
    """Paint one comic panel into ``arr``: a base colour and maybe dots, stripes or a gradient."""
    x0, y0, x1, y1 = box
    base = np.asarray(_pick(rng, _PANEL_COLORS), dtype=np.int64) + rng.integers(-15, 16, size=3)
    arr[y0:y1, x0:x1] = np.clip(base, 0, 255)
    kind = int(rng.integers(6))
    if kind == 0:  # halftone dots, growing across the panel
        period = int(rng.integers(5, 11))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        grow = (xx - x0) / max(1, x1 - x0) if rng.random() < 0.5 else (yy - y0) / max(1, y1 - y0)
        radius = period * (0.15 + 0.35 * grow)
        dots = (xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2 < radius ** 2
        dot_color = np.clip(base + _pick(rng, (-90, -60, 60)), 0, 255)
        arr[y0:y1, x0:x1][dots] = dot_color
    elif kind == 1:  # stripes
        period = int(rng.integers(6, 18))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        stripes = ((xx + yy * _pick(rng, (-1, 1, 0))) // period) % 2 == 0
        arr[y0:y1, x0:x1][stripes] = np.clip(base * 0.8, 0, 255)
    elif kind == 2:  # vertical gradient (sky)
        top = np.clip(base + 50, 0, 255)
        t = np.linspace(0, 1, y1 - y0)[:, None, None]
        arr[y0:y1, x0:x1] = (top * (1 - t) + base * t).astype(np.uint8)
    # kinds 3-5 are drawn with lines and shapes after the array is turned into an image


def _decorate_panel(draw: ImageDraw.ImageDraw, rng, box) -> None:
    """Draw over one panel: speed lines, a city skyline, scattered shapes, or nothing."""
    x0, y0, x1, y1 = box
    kind = int(rng.integers(4))
    if kind == 0:  # speed lines from a focal point
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        color = _pick(rng, ((20, 20, 20), (250, 250, 250), (90, 90, 110)))
        for a in rng.uniform(0, 2 * np.pi, size=int(rng.integers(12, 30))):
            r0 = rng.uniform(20, 60)
            draw.line([(cx + r0 * np.cos(a), cy + r0 * np.sin(a)), (cx + 500 * np.cos(a), cy + 500 * np.sin(a))],
                      fill=color, width=int(rng.integers(1, 3)))
    elif kind == 1:  # city skyline with windows (Gotham)
        x = x0
        dark = _pick(rng, ((30, 30, 45), (60, 60, 80), (20, 20, 20)))
        while x < x1:
            bw, bh = int(rng.integers(15, 45)), rng.uniform(0.2, 0.7) * (y1 - y0)
            draw.rectangle([x, y1 - bh, x + bw, y1], fill=dark)
            for wy in np.arange(y1 - bh + 5, y1 - 5, 9):
                for wx in np.arange(x + 4, x + bw - 4, 8):
                    if rng.random() < 0.4:
                        draw.rectangle([wx, wy, wx + 3, wy + 4], fill=(250, 230, 120))
            x += bw + int(rng.integers(0, 6))
    elif kind == 2:  # scattered shapes
        for _ in range(int(rng.integers(3, 8))):
            cx, cy, r = rng.uniform(x0, x1), rng.uniform(y0, y1), rng.uniform(5, 30)
            color = _pick(rng, _SHAPE_COLORS)
            if rng.random() < 0.5:
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color, outline=(20, 20, 20), width=int(rng.integers(0, 3)))
            else:
                n = int(rng.integers(3, 7))
                ang = rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n
                draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in ang], fill=color)


def _burst(draw, rng, cx, cy, r, color, outline=(20, 20, 20)):
    n = int(rng.integers(8, 14))
    ang = np.arange(2 * n) * np.pi / n + rng.uniform(0, np.pi)
    rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.45, 0.7))
    draw.polygon([(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(rad, ang, strict=True)], fill=color, outline=outline, width=2)


def _bubble(draw, rng, cx, cy, r):
    rx, ry = r, r * rng.uniform(0.5, 0.8)
    draw.polygon([(cx - rx * 0.3, cy + ry * 0.7), (cx - rx * 0.6, cy + ry * 1.6), (cx, cy + ry * 0.8)],
                 fill=(255, 255, 255), outline=(20, 20, 20), width=2)
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(255, 255, 255), outline=(20, 20, 20), width=2)
    for k in range(int(rng.integers(1, 4))):  # squiggly "text"
        y = cy - ry * 0.4 + k * ry * 0.4
        xs = np.linspace(cx - rx * 0.6, cx + rx * 0.6, 8)
        draw.line([(x, y + rng.uniform(-2, 2)) for x in xs], fill=(40, 40, 40), width=2)


def make_background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A comic page: 1-3 panels with gutters, each with a pattern, plus bursts and speech bubbles."""
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    panels = _panels(rng, width, height)
    for box in panels:
        _fill_panel(arr, rng, box)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    for box in panels:
        _decorate_panel(draw, rng, box)
    for _ in range(int(rng.integers(0, 3))):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(15, 45)
        if rng.random() < 0.5:
            _burst(draw, rng, cx, cy, r, _pick(rng, _SHAPE_COLORS))
        else:
            _bubble(draw, rng, cx, cy, r)
    gutter = int(rng.integers(3, 7))
    for x0, y0, x1, y1 in panels:  # white gutters with black panel borders
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 255, 255), width=gutter)
        draw.rectangle([x0 + gutter, y0 + gutter, x1 - 1 - gutter, y1 - 1 - gutter], outline=(15, 15, 15), width=2)
    return img


# ---------------------------------------------------------------------------------------------
# one scene
# ---------------------------------------------------------------------------------------------
def _canvas_mask(alpha: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """``alpha`` (h, w bool) placed with its top-left corner at (x, y), clipped to the canvas."""
    mask = np.zeros((height, width), dtype=bool)
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    return mask


def _occluder(rng, size: int) -> Image.Image:
    """Something that covers part of an object: a speech bubble, a burst, a blob or a bar."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    kind = int(rng.integers(4))
    c = size / 2
    if kind == 0:
        _bubble(draw, rng, c, c * 0.8, c * 0.7)
    elif kind == 1:
        _burst(draw, rng, c, c, c * 0.95, _pick(rng, _SHAPE_COLORS))
    elif kind == 2:
        n = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, size=n))
        rad = c * rng.uniform(0.5, 0.95, size=n)
        draw.polygon([(c + q * np.cos(a), c + q * np.sin(a)) for q, a in zip(rad, ang, strict=True)], fill=_pick(rng, _SHAPE_COLORS),
                     outline=(20, 20, 20), width=2)
    else:
        draw.rectangle([0, c * 0.7, size, c * 1.3], fill=_pick(rng, _SHAPE_COLORS), outline=(20, 20, 20), width=2)
    return img


def render_scene(rng: np.random.Generator, width: int, height: int, objects: Sequence[tuple[str, str]],
                 distractors: Sequence[tuple[str, str]] = (), *, scale=(0.1, 0.36), max_angle: float = 30.0,
                 p_truncate: float = 0.15, p_occlude: float = 0.3, min_visible: float = 0.6,
                 return_distractors: bool = False):
    """Draw one scene and measure its boxes.

    Parameters
    ----------
    objects, distractors : sequence of (name, style)
        Labelled objects (class names) and unlabelled look-alikes (``DISTRACTORS``).
    scale : (float, float)
        Object size (longer side, before rotation) as a fraction of ``min(width, height)``.
    max_angle : float
        Rotations are uniform in ``[-max_angle, max_angle]`` degrees.
    p_truncate : float
        Probability that an object may be placed partly outside the image.
    p_occlude : float
        Probability that an occluder (speech bubble, burst, blob, bar) is put over an object.
    min_visible : float
        Smallest visible fraction of an object's own pixels; placements hiding more are refused.
    return_distractors : bool
        Also return where the look-alikes ended up (they are never labelled).

    Returns
    -------
    image : PIL.Image (RGB)
    boxes : float64 array (N, 4), ``xyxy`` pixel edges around the visible pixels
    names, styles : lists of N str
    truncated : bool array (N,), cut by or touching the image border
    distractors : list of dicts ``{"name", "style", "box"}`` (only with ``return_distractors``),
        ``box`` the ``xyxy`` edges of the look-alike's visible pixels.
    Objects that found no valid place after a few tries are left out (N may be < len(objects)).
    """
    canvas = make_background(rng, width, height).convert("RGBA")
    items = [(n, s, True) for n, s in objects] + [(n, s, False) for n, s in distractors]
    order = rng.permutation(len(items))
    short = min(width, height)
    labelled = []  # dicts: name, style, visible mask, total pixel count, cut by the border
    lookalikes = []  # dicts: name, style, visible mask
    placed_boxes = []

    def fits(mask_new: np.ndarray) -> bool:
        return all((obj["visible"] & ~mask_new).sum() >= min_visible * obj["total"] for obj in labelled)

    def paste(sprite, x, y):
        canvas.paste(sprite, (x, y), sprite)

    for k in order:
        name, style, is_object = items[k]
        size = short * rng.uniform(*scale)
        sprite = render_sprite(name, style, rng, size, angle=rng.uniform(-max_angle, max_angle))
        alpha = np.asarray(sprite.getchannel("A")) >= 128
        total = int(alpha.sum())
        if total == 0:
            continue
        sw, sh = sprite.size
        allow_out = rng.random() < p_truncate
        for _ in range(12):
            if allow_out:
                x, y = int(rng.integers(-sw // 2, width - sw // 2 + 1)), int(rng.integers(-sh // 2, height - sh // 2 + 1))
            else:
                x, y = int(rng.integers(0, max(1, width - sw + 1))), int(rng.integers(0, max(1, height - sh + 1)))
            box = np.array([x, y, x + sw, y + sh], float)
            if placed_boxes and _max_iou(box, np.asarray(placed_boxes)) > 0.2:
                continue
            mask = _canvas_mask(alpha, x, y, width, height)
            if is_object and mask.sum() < min_visible * total:
                continue
            if not fits(mask):
                continue
            for obj in labelled + lookalikes:
                obj["visible"] &= ~mask
            paste(sprite, x, y)
            placed_boxes.append(box)
            if is_object:
                labelled.append({"name": name, "style": style, "visible": mask, "total": total,
                                 "cut": bool(mask.sum() < total)})
            else:
                lookalikes.append({"name": name, "style": style, "visible": mask})
            break

    # occluders on top of some objects
    for obj in list(labelled):
        if rng.random() >= p_occlude:
            continue
        ys, xs = np.nonzero(obj["visible"])
        if len(xs) == 0:
            continue
        ox, oy = int(xs.mean()), int(ys.mean())
        size = int(max(xs.max() - xs.min(), ys.max() - ys.min()) * rng.uniform(0.5, 0.9)) + 4
        occ = _occluder(rng, size)
        occ_alpha = np.asarray(occ.getchannel("A")) >= 128
        for _ in range(6):  # push it towards an edge of the object so it covers a part, not all
            a = rng.uniform(0, 2 * np.pi)
            d = size * rng.uniform(0.45, 0.8)
            x, y = int(ox + d * np.cos(a) - size / 2), int(oy + d * np.sin(a) - size / 2)
            mask = _canvas_mask(occ_alpha, x, y, width, height)
            if fits(mask):
                for o in labelled + lookalikes:
                    o["visible"] &= ~mask
                paste(occ, x, y)
                break

    boxes, names, styles, truncated = [], [], [], []
    for obj in labelled:
        x1, y1, x2, y2 = _mask_box(obj["visible"])
        boxes.append((x1, y1, x2, y2))
        names.append(obj["name"])
        styles.append(obj["style"])
        truncated.append(obj["cut"] or x1 == 0 or y1 == 0 or x2 == width or y2 == height)
    result = (canvas.convert("RGB"), np.asarray(boxes, dtype=np.float64).reshape(-1, 4), names, styles,
              np.asarray(truncated, dtype=bool))
    if not return_distractors:
        return result
    seen = [{"name": o["name"], "style": o["style"], "box": list(_mask_box(o["visible"]))}
            for o in lookalikes if o["visible"].any()]
    return (*result, seen)


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``xyxy`` edges around the True pixels: columns c0..c1 give x1 = c0, x2 = c1 + 1."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _max_iou(box: np.ndarray, others: np.ndarray) -> float:
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return float((inter / (area(box) + area(others) - inter)).max())


# ---------------------------------------------------------------------------------------------
# the dataset folder
# ---------------------------------------------------------------------------------------------
def _parse_holdout(holdout_style):
    """``None``, ``"style"`` (every class) or ``"class:style"`` -> (class or None, style) or None."""
    if holdout_style is None:
        return None
    cls, _, style = str(holdout_style).rpartition(":")
    if style not in STYLES:
        raise ValueError(f"unknown holdout style {style!r}; styles: {', '.join(STYLES)}")
    if cls and cls not in CLASSES:
        raise ValueError(f"unknown class {cls!r} in holdout_style; classes: {', '.join(CLASSES)}")
    return (cls or None, style)


def _plan(n_images, seed, objects_per_image, class_weights, split_fractions, holdout, holdout_fraction):
    """Split, class list and holdout flag of every image: deterministic from ``seed`` alone."""
    rng = np.random.default_rng([seed])
    fr = np.asarray(split_fractions, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"split_fractions must be three non-negative numbers summing to 1, got {split_fractions}")
    n_val, n_test = int(round(n_images * fr[1])), int(round(n_images * fr[2]))
    n_train = n_images - n_val - n_test
    splits = np.array(["train"] * n_train + ["val"] * n_val + ["test"] * n_test)[rng.permutation(n_images)]
    lo, hi = objects_per_image
    counts = rng.integers(lo, hi + 1, size=n_images)
    total = int(counts.sum())
    if class_weights is None:  # a shuffled bag per round: every class equally often
        bags = [rng.permutation(len(CLASSES)) for _ in range(-(-total // len(CLASSES)))]
        labels = np.concatenate(bags)[:total] if bags else np.zeros(0, int)
    else:
        if isinstance(class_weights, dict):
            unknown = set(class_weights) - set(CLASSES)
            if unknown:
                raise ValueError(f"unknown classes in class_weights: {sorted(unknown)}; classes: {', '.join(CLASSES)}")
            class_weights = [class_weights.get(c, 0.0) for c in CLASSES]
        p = np.asarray(class_weights, dtype=float)
        if p.shape != (len(CLASSES),) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"class_weights must give {len(CLASSES)} non-negative weights, got {class_weights}")
        labels = rng.choice(len(CLASSES), size=total, p=p / p.sum())
    per_image = np.split(labels, np.cumsum(counts)[:-1]) if n_images else []
    is_holdout = (splits == "test") & (rng.random(n_images) < holdout_fraction) if holdout else np.zeros(n_images, bool)
    plans = []
    for i in range(n_images):
        classes = [CLASSES[int(c)] for c in per_image[i]]
        if is_holdout[i] and holdout[0] is not None and holdout[0] not in classes:
            classes[0] = holdout[0]  # a holdout image always shows the held-out class
        plans.append({"split": str(splits[i]), "classes": classes, "holdout": bool(is_holdout[i])})
    return plans


def _styles_for(rng, name, holdout, is_holdout_image):
    """Styles an object may take: the held-out one only (and always) in holdout test images."""
    if holdout is None:
        return STYLES[int(rng.integers(len(STYLES)))]
    cls, style = holdout
    if cls is not None and cls != name:  # only one class is held out: the rest use every style
        return STYLES[int(rng.integers(len(STYLES)))]
    if is_holdout_image:
        return style
    allowed = [s for s in STYLES if s != style]
    return allowed[int(rng.integers(len(allowed)))]


def make_batman_dataset(root, n_images: int, seed: int = 0, image_size=320, holdout_style: str | None = None, *,
                        objects_per_image=(2, 5), distractors_per_image=(1, 3), class_weights=None,
                        split_fractions=(0.7, 0.15, 0.15), holdout_fraction: float = 0.5, scale=(0.1, 0.36),
                        jpeg_quality: int = JPEG_OPTIONS["quality"], overwrite: bool = False,
                        progress: bool = False) -> dict:
    """Generate the synthetic Batman dataset as a Pascal VOC folder (see the module docstring).

    Parameters
    ----------
    root : str or Path
        Output folder. If it already holds a dataset made with the same arguments (its
        ``batman.json`` says so) nothing is redrawn; a dataset made with other arguments is
        replaced; a non-empty folder that is not a generated dataset raises ``FileExistsError``.
    n_images : int
        Number of images.
    seed : int
        Everything follows from it: the same seed gives byte-identical files.
    image_size : int or (int, int)
        Image size in pixels, ``size`` or ``(width, height)``.
    holdout_style : str, optional
        Hold one style out of training: ``"sketch"`` (every class and look-alike in that style) or
        ``"joker_face:modern"`` (one class). That style then appears only in a
        ``holdout_fraction`` of the test images, listed in ``ImageSets/Main/test_holdout.txt``,
        which show it for all their affected objects; no other image uses it.
    objects_per_image, distractors_per_image : (int, int)
        Inclusive ranges of labelled objects and unlabelled look-alikes per image.
    class_weights : sequence of 5 floats or dict, optional
        Relative class frequencies. Default: balanced (each class within a few objects of 20 %).
    split_fractions : (float, float, float)
        Train / val / test fractions of the images.
    scale : (float, float)
        Object size range as a fraction of the shorter image side.
    jpeg_quality : int
        JPEG quality (chroma subsampling is always off).
    overwrite : bool
        Redraw even when the folder already matches.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict with ``root`` (Path), ``n_images``, ``splits`` ({split: [ids]}), ``counts``
    ({split: {class: objects}}), ``holdout_style`` and ``holdout_ids`` (test ids in the held-out
    style).
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images must be a positive integer, got {n_images!r}")
    width, height = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    width, height = int(width), int(height)
    if min(width, height) < 64:
        raise ValueError(f"image_size must be at least 64 pixels, got {image_size!r}")
    lo, hi = objects_per_image
    if not 1 <= lo <= hi:
        raise ValueError(f"objects_per_image must be (lo, hi) with 1 <= lo <= hi, got {objects_per_image}")
    holdout = _parse_holdout(holdout_style)
    root = Path(root)
    params = {"generator_version": GENERATOR_VERSION, "n_images": int(n_images), "seed": int(seed),
              "image_size": [width, height], "holdout_style": holdout_style,
              "objects_per_image": list(objects_per_image), "distractors_per_image": list(distractors_per_image),
              "class_weights": class_weights if not isinstance(class_weights, np.ndarray) else class_weights.tolist(),
              "split_fractions": list(split_fractions), "holdout_fraction": holdout_fraction, "scale": list(scale),
              "jpeg_quality": int(jpeg_quality)}
    meta_path = root / "batman.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == json.loads(json.dumps(params)) and not overwrite:
            return _summary(root, meta)
        for sub in ("JPEGImages", "Annotations", "ImageSets"):
            shutil.rmtree(root / sub, ignore_errors=True)
        meta_path.unlink()
    elif root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no generated dataset (no batman.json); choose another folder")

    plans = _plan(int(n_images), seed, objects_per_image, class_weights, split_fractions, holdout, holdout_fraction)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    iterator = range(int(n_images))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="drawing Batman scenes", unit="img")
    records = []
    for i in iterator:
        plan = plans[i]
        rng = np.random.default_rng([seed, i])
        objects = [(c, _styles_for(rng, c, holdout, plan["holdout"])) for c in plan["classes"]]
        dlo, dhi = distractors_per_image
        n_distract = int(rng.integers(dlo, dhi + 1))
        distractors = []
        for _ in range(n_distract):
            d = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
            distractors.append((d, _styles_for(rng, d, holdout, plan["holdout"])))
        image, boxes, names, styles, truncated, seen = render_scene(rng, width, height, objects, distractors, scale=scale,
                                                                    return_distractors=True)
        image_id = f"batman_{i:05d}"
        filename = f"{image_id}.jpg"
        buf = BytesIO()
        image.save(buf, format="JPEG", quality=int(jpeg_quality), subsampling=JPEG_OPTIONS["subsampling"],
                   optimize=JPEG_OPTIONS["optimize"])
        (root / "JPEGImages" / filename).write_bytes(buf.getvalue())
        xml = voc_xml_string(filename, width, height, boxes, names, folder="JPEGImages",
                             path=str(PurePosixPath("JPEGImages") / filename), truncated=truncated)
        (root / "Annotations" / f"{image_id}.xml").write_bytes(xml.encode("utf-8"))
        records.append({"id": image_id, "split": plan["split"], "holdout": plan["holdout"], "names": names,
                        "styles": styles, "distractors": seen})

    for split in SPLITS:
        ids = [r["id"] for r in records if r["split"] == split]
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    if holdout:
        ids = [r["id"] for r in records if r["holdout"]]
        (root / "ImageSets" / "Main" / "test_holdout.txt").write_text("".join(f"{i}\n" for i in ids))
    # Pillow's version is recorded because its drawing and libjpeg build decide the exact bytes.
    meta = {"params": params, "classes": list(CLASSES), "styles": list(STYLES), "pillow": PIL.__version__,
            "images": records}
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return _summary(root, json.loads(meta_path.read_text()))


def _summary(root: Path, meta: dict) -> dict:
    splits = {s: [r["id"] for r in meta["images"] if r["split"] == s] for s in SPLITS}
    counts = {s: dict.fromkeys(CLASSES, 0) for s in SPLITS}
    for r in meta["images"]:
        for n in r["names"]:
            counts[r["split"]][n] += 1
    return {"root": root, "n_images": len(meta["images"]), "splits": splits, "counts": counts,
            "holdout_style": meta["params"]["holdout_style"],
            "holdout_ids": [r["id"] for r in meta["images"] if r["holdout"]]}


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line: ``python -m helpers.batman ROOT [--n-images N] [--seed S] ...``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.batman", description=make_batman_dataset.__doc__.split("\n")[0])
    parser.add_argument("root", help="output folder")
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--holdout-style", default=None, help='e.g. "sketch" or "joker_face:modern"')
    parser.add_argument("--jpeg-quality", type=int, default=JPEG_OPTIONS["quality"])
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    summary = make_batman_dataset(args.root, args.n_images, seed=args.seed, image_size=args.image_size,
                                  holdout_style=args.holdout_style, jpeg_quality=args.jpeg_quality,
                                  overwrite=args.overwrite, progress=True)
    sizes = ", ".join(f"{s} {len(ids)}" for s, ids in summary["splits"].items())
    print(f"{summary['root']}: {summary['n_images']} images ({sizes})")
    return summary


if __name__ == "__main__":
    main()
