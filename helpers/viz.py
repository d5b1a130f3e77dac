"""Drawing detections and plotting results: boxes with labels and scores, PR curves, bars.

Boxes are ``xyxy`` float pixels unless ``box_format`` says otherwise. Every class gets its own
colour (stable across calls), and label text is black or white, whichever reads better on
that colour, on a filled tag, so it stays readable on any background.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence

import numpy as np

_BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def class_color(label) -> tuple[float, float, float]:
    """A stable, distinct RGB colour in [0, 1] for a class id or name."""
    if isinstance(label, (int, np.integer)):
        index = int(label)
    else:
        index = sum((i + 1) * ord(c) for i, c in enumerate(str(label)))
    hue = (index * 0.618033988749895) % 1.0  # golden-ratio steps spread hues evenly
    return colorsys.hsv_to_rgb(hue, 0.85, 0.95)


def text_color_for(rgb: Sequence[float]) -> str:
    """'black' or 'white', whichever contrasts more with ``rgb`` (WCAG relative luminance)."""
    def lin(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(c)) for c in rgb[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.179 else "white"


def _as_image(image) -> np.ndarray:
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
        image = np.asarray(image.convert("RGB"))
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)  # CHW tensor layout -> HWC
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"image must be HxW, HxWxC (C in 1, 3, 4) or CxHxW, got shape {image.shape}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def _check_boxes(boxes, box_format: str) -> np.ndarray:
    if box_format not in _BOX_FORMATS:
        raise ValueError(f"box_format must be one of {_BOX_FORMATS}, got {box_format!r}")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    if not np.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or infinite values")
    if box_format == "xywh":
        boxes = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]])
    elif box_format == "cxcywh":
        half_w, half_h = boxes[:, 2] / 2, boxes[:, 3] / 2
        boxes = np.column_stack([boxes[:, 0] - half_w, boxes[:, 1] - half_h, boxes[:, 0] + half_w, boxes[:, 1] + half_h])
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ValueError("boxes must have x2 >= x1 and y2 >= y1 (xyxy); check box_format")
    return boxes


def _check_parallel(name, values, n):
    if values is None:
        return None
    values = list(np.asarray(values).reshape(-1)) if not isinstance(values, (list, tuple)) else list(values)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but there are {n} boxes")
    return values


def _caption(label, score, class_names):
    name = None
    if label is not None:
        if class_names is not None and isinstance(label, (int, np.integer)):
            if isinstance(class_names, Mapping):
                name = class_names.get(int(label), str(int(label)))
            else:
                if not 0 <= int(label) < len(class_names):
                    raise ValueError(f"label {int(label)} has no entry in class_names (len {len(class_names)})")
                name = class_names[int(label)]
        else:
            name = str(label)
    if score is None:
        return name
    return f"{name} {float(score):.2f}" if name is not None else f"{float(score):.2f}"


def draw_boxes(
    image,
    boxes,
    labels=None,
    scores=None,
    class_names=None,
    *,
    ax=None,
    box_format: str = "xyxy",
    score_threshold: float = 0.0,
    linewidth: float = 2.0,
    fontsize: float = 9.0,
    title: str | None = None,
):
    """Draw boxes with class-coloured outlines and readable label/score tags on ``image``.

    Parameters
    ----------
    image : array (H, W), (H, W, C), (C, H, W) or PIL image
    boxes : array (N, 4) in ``box_format`` pixels
    labels : N class ids (ints) or names, optional; one colour per class
    scores : N floats in [0, 1], optional; boxes below ``score_threshold`` are not drawn
    class_names : sequence or mapping from class id to name, optional
    ax : matplotlib Axes to draw into; a new figure is made when omitted

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    img = _as_image(image)
    xyxy = _check_boxes(boxes, box_format)
    n = len(xyxy)
    labels = _check_parallel("labels", labels, n)
    scores = _check_parallel("scores", scores, n)
    if ax is None:
        height, width = img.shape[:2]
        _, ax = plt.subplots(figsize=(min(12, max(4, width / 100)), min(12, max(3, height / 100))))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    for i, (x1, y1, x2, y2) in enumerate(xyxy):
        score = None if scores is None else scores[i]
        if score is not None and float(score) < score_threshold:
            continue
        label = None if labels is None else labels[i]
        color = class_color(label if label is not None else 0)
        ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=linewidth))
        caption = _caption(label, score, class_names)
        if caption:
            ax.text(
                x1, y1, caption, fontsize=fontsize, color=text_color_for(color), va="bottom", ha="left",
                bbox={"facecolor": color, "edgecolor": color, "pad": 1.5, "alpha": 0.9},
                clip_on=True,
            )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def annotate_image(image, boxes, labels=None, scores=None, class_names=None, *, box_format="xyxy",
                   score_threshold: float = 0.0, width: int = 2) -> np.ndarray:
    """Like :func:`draw_boxes` but returns a new uint8 RGB array (H, W, 3), for videos and GIFs."""
    from PIL import Image, ImageDraw, ImageFont

    img = _as_image(image)
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    pil = Image.fromarray(img).convert("RGB")
    xyxy = _check_boxes(boxes, box_format)
    labels = _check_parallel("labels", labels, len(xyxy))
    scores = _check_parallel("scores", scores, len(xyxy))
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    for i, box in enumerate(xyxy):
        score = None if scores is None else scores[i]
        if score is not None and float(score) < score_threshold:
            continue
        label = None if labels is None else labels[i]
        rgb = class_color(label if label is not None else 0)
        color = tuple(int(255 * c) for c in rgb)
        draw.rectangle([float(v) for v in box], outline=color, width=width)
        caption = _caption(label, score, class_names)
        if caption:
            left, top, right, bottom = draw.textbbox((float(box[0]), float(box[1])), caption, font=font)
            shift = bottom - top + 2
            draw.rectangle([left - 1, top - shift - 1, right + 1, bottom - shift + 1], fill=color)
            draw.text((float(box[0]), float(box[1]) - shift), caption, fill=text_color_for(rgb), font=font)
    return np.asarray(pil)


def plot_pr_curve(recall, precision, *, ax=None, label: str | None = None, ap: float | None = None,
                  interpolated: bool = True):
    """Plot a precision/recall curve (and its monotone envelope when ``interpolated``).

    ``recall`` and ``precision`` are 1-D arrays of the same length, in [0, 1], in the order the
    detections were ranked. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    recall = np.asarray(recall, dtype=float).reshape(-1)
    precision = np.asarray(precision, dtype=float).reshape(-1)
    if recall.shape != precision.shape:
        raise ValueError(f"recall {recall.shape} and precision {precision.shape} must have the same length")
    if recall.size and (recall.min() < 0 or recall.max() > 1 or precision.min() < 0 or precision.max() > 1):
        raise ValueError("recall and precision must lie in [0, 1]")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    text = label or "PR"
    if ap is not None:
        text = f"{text} (AP={ap:.3f})"
    (line,) = ax.plot(recall, precision, marker=".", label=text)
    if interpolated and recall.size:
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        ax.step(recall, envelope, where="post", linestyle="--", color=line.get_color(), alpha=0.6)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return ax


def bar_chart(values: Mapping[str, float], *, ax=None, title: str | None = None, ylabel: str | None = None,
              fmt: str = "{:.3g}", log: bool = False):
    """Bar chart of ``{name: value}`` with each value written above its bar. Returns the Axes."""
    import matplotlib.pyplot as plt

    if not isinstance(values, Mapping) or not values:
        raise ValueError("values must be a non-empty mapping of name -> number")
    names = [str(k) for k in values]
    numbers = np.asarray([float(v) for v in values.values()])
    if not np.isfinite(numbers).all():
        raise ValueError("bar_chart values must be finite numbers")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 1.1 * len(names)), 3.5))
    bars = ax.bar(names, numbers, color=[class_color(n) for n in names])
    for bar, v in zip(bars, numbers, strict=True):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=9)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=20)
    return ax


def show_jpeg(fig=None, quality: int = 80, dpi: float | None = None):
    """Show a matplotlib figure in a notebook as a JPEG (and close it).

    Figures of photos stored as PNG take 1-2 bytes per pixel; as a JPEG at ``quality`` 80 a
    tenth of that, which keeps a notebook with a few photos under its size limit. Line plots
    look better as the usual PNG: use this for photos only.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    if not 1 <= int(quality) <= 95:
        raise ValueError(f"quality must be in 1..95, got {quality!r}")
    fig = plt.gcf() if fig is None else fig
    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi or fig.dpi, bbox_inches="tight", pil_kwargs={"quality": int(quality)})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))
