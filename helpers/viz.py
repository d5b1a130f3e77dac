"""Drawing detections and plotting results: boxes with labels and scores, PR curves, bars.

Boxes are ``xyxy`` float pixels unless ``box_format`` says otherwise. Every class gets its own
colour (stable across calls), and label text is black or white, whichever reads better on
that colour, on a filled tag, so it stays readable on any background.

The course's figure rules (DESIGN.md, Notebook conventions) live here, not cell by cell:
:func:`use_course_style` (called once in a notebook's set-up cell) sets matplotlib's defaults so
that text is at least 9 pt where GitHub and Colab show the figure, coinciding curves stay
visible, and figures render as PNGs at their pixel size; :func:`draw_boxes` places every label
inside the image without clipping or collisions; :func:`photo_grid` lays photos out at least
``MIN_PHOTO_PX`` pixels wide; :func:`readability_problems` lists what breaks the rules in a
figure (``tools/run_notebooks.py`` reports it for every figure a notebook shows).
"""

from __future__ import annotations

import colorsys
import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

_BOX_FORMATS = ("xyxy", "xywh", "cxcywh")

#: Widest a figure is shown at its pixel size: GitHub's notebook column (about 830-900 px; Colab's
#: output area is wider). A wider PNG is scaled down, and its text with it.
DISPLAY_WIDTH_PX = 880
#: Pixels per inch of the PNGs the notebooks show (``figure.dpi``, inline and saved alike).
FIGURE_DPI = 100
#: Smallest text on screen: 9 pt at 100 dpi (12.5 px), after any scaling down to DISPLAY_WIDTH_PX.
MIN_TEXT_PT = 9.0
MIN_TEXT_PX = MIN_TEXT_PT * FIGURE_DPI / 72
#: Smallest side a photo (any ``imshow``) is shown at, in screen pixels: "at least ~300 px".
MIN_PHOTO_PX = 280
#: Longest label :func:`draw_boxes` writes (class name shortened with an ellipsis, score kept).
MAX_LABEL_CHARS = 18

#: The course's matplotlib defaults (see :func:`use_course_style`).
COURSE_RC = {
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": "figure",
    "savefig.bbox": "tight",
    "figure.figsize": (7.0, 4.0),  # 700 px: under the column width, so nothing is scaled down
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "legend.framealpha": 0.85,
    "figure.titlesize": 13,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
}


def course_cycler():
    """Colours, line styles and widths that change together, curve after curve.

    Two curves that coincide stay distinguishable: the later one is thinner and dashed or dotted,
    so the earlier one shows around and between its dashes.
    """
    from cycler import cycler

    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    styles = ["-", "--", "-.", ":", "-", "--", "-.", ":"]
    widths = [3.0, 2.4, 2.2, 2.2, 1.8, 1.8, 1.6, 1.6]
    return cycler(color=colors) + cycler(linestyle=styles) + cycler(linewidth=widths)


def use_course_style() -> None:
    """Set matplotlib's defaults to the course's figure rules; call once in the set-up cell.

    - PNGs at ``FIGURE_DPI`` (100): a figure of ``figure.figsize`` inches is that many times 100
      pixels on screen; the default size (7 x 4 in, 700 px) fits GitHub's column unscaled.
    - text of 10-13 pt (ticks, legends 10; labels 11; titles 12), so it stays >= 9 pt on screen in
      any figure up to about ``DISPLAY_WIDTH_PX`` (880 px, 8.8 in) wide. Wider figures are scaled
      down by GitHub: keep ``figsize`` width <= 8.8 in, or :func:`readability_problems` says so.
    - a prop cycle in which colour, line style and width change together (:func:`course_cycler`).
    - in IPython, inline figures as PNG (not retina or SVG), so pixel sizes mean what they say.

    ``tools/run_notebooks.py`` checks every figure a notebook shows against the rules
    (:func:`install_figure_check`); this function changes nothing but matplotlib's defaults.
    """
    import matplotlib
    import matplotlib.pyplot  # noqa: F401 - the inline backend applies its rc on import: ours comes after

    matplotlib.rcParams.update(COURSE_RC)
    matplotlib.rcParams["axes.prop_cycle"] = course_cycler()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except Exception:  # noqa: BLE001 - a front end without the inline backend keeps its own
        pass


def install_figure_check(path: str | None = None) -> None:
    """Record the :func:`readability_problems` of every figure a notebook shows, as JSON lines.

    ``path`` defaults to the environment variable ``COURSE_FIGURE_REPORT``. Each line is
    ``{"cell": "In[n]", "problems": [...]}``, one per figure that breaks a rule. Nothing changes
    in the notebook's outputs. ``tools/run_notebooks.py`` installs it in the kernel before the
    notebook runs and lists what it recorded; figures shown by :func:`show_jpeg` are checked too.
    """
    from IPython import get_ipython

    if path is not None:
        os.environ["COURSE_FIGURE_REPORT"] = str(path)
    shell = get_ipython()
    if shell is None or _CELL.get("installed"):
        return
    # registered before the inline backend's flush_figures (it registers on the first pyplot
    # import), so the figures a cell leaves open are measured just before they are shown
    shell.events.register("pre_run_cell", _remember_cell)
    shell.events.register("post_execute", _check_open_figures)
    _CELL["installed"] = True


def _check_open_figures() -> None:
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    from matplotlib._pylab_helpers import Gcf

    for manager in Gcf.get_all_fig_managers():
        _safe_report(manager.canvas.figure)
    _wrap_png_formatter()


def _safe_report(fig) -> None:
    try:
        _report(fig)
    except Exception as error:  # noqa: BLE001 - a check must never break the notebook
        _write({"cell": _where(), "problems": [f"figure could not be checked: {error!r}"]})


def _wrap_png_formatter() -> None:
    """Check a Figure shown any other way too (a cell's value, display(fig)): wrap IPython's PNG
    printer for Figure, which the inline backend registers when pyplot is first imported."""
    import sys

    if "matplotlib" not in sys.modules:
        return
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = get_ipython()
    formatter = getattr(shell, "display_formatter", None)
    formatter = formatter.formatters.get("image/png") if formatter is not None else None
    if formatter is None:
        return
    try:
        inner = formatter.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(inner, "_course_checked", False):
        return

    def checked(fig, _inner=inner):
        _safe_report(fig)
        return _inner(fig)

    checked._course_checked = True
    formatter.for_type(Figure, checked)


#: The execution count of the cell running now (inline figures are shown after it has finished).
_CELL: dict = {}


def _remember_cell(info=None) -> None:
    from IPython import get_ipython

    shell = get_ipython()
    count = getattr(shell, "execution_count", None)
    # IPython counts the cell before it announces it (pre_run_cell): the running cell is count - 1
    _CELL["count"] = count - 1 if info is not None and count else count
    if info is not None:
        _CELL["seen"] = set()
        _wrap_png_formatter()


def _report(fig, where: str | None = None) -> None:
    path = os.environ.get("COURSE_FIGURE_REPORT")
    if not path:
        return
    seen = _CELL.setdefault("seen", set())
    if id(fig) in seen:  # one figure, one report (pyplot's are checked before the formatter shows them)
        return
    seen.add(id(fig))
    found = readability_problems(fig)
    if not found:
        return
    _write({"cell": where or _where(), "problems": found})


def _where() -> str:
    if "count" not in _CELL:
        _remember_cell()
    return f"In[{_CELL['count']}]" if _CELL.get("count") is not None else "a figure"


def _write(record: dict) -> None:
    with open(os.environ["COURSE_FIGURE_REPORT"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


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


def _shorten(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: max(1, limit - 1)] + "\u2026"


def _caption(label, score, class_names, max_chars: int | None = None):
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
        return name if name is None or max_chars is None else _shorten(name, max_chars)
    if name is None:
        return f"{float(score):.2f}"
    if max_chars is not None:
        name = _shorten(name, max(4, max_chars - 5))
    return f"{name} {float(score):.2f}"


def _overlap(a, b) -> float:
    """Area shared by two (x0, y0, x1, y1) rectangles."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _place_labels(ax, items, renderer) -> None:
    """Move each label of ``items`` [(Text, (x1, y1, x2, y2) data box)] to where it is read best.

    Works in display pixels at draw time (the axes' final size is known then): the candidates are
    inside the box's top-left corner, above the box, inside its bottom-left corner and below it,
    each pushed inside the axes; the first that overlaps no label placed before wins, otherwise
    the one with the least overlap. Labels are placed in the order given (highest score first).
    """
    frame = ax.get_window_extent(renderer)
    to_data = ax.transData.inverted()
    placed = []
    for text, (x1, y1, x2, y2) in items:
        text.set_position((0, 0))
        extent = text.get_window_extent(renderer)
        pad = text.get_bbox_patch().get_boxstyle().pad if text.get_bbox_patch() else 0.0
        pad_px = pad * text.get_fontsize() * renderer.points_to_pixels(1.0) + 1.0
        width, height = extent.width + 2 * pad_px, extent.height + 2 * pad_px
        corners = ax.transData.transform([[x1, y1], [x2, y2]])
        left = corners[:, 0].min()
        bottom, top = corners[:, 1].min(), corners[:, 1].max()
        candidates = [(left, top - height), (left, top), (left, bottom), (left, bottom - height)]
        best, best_cost = None, None
        for x, y in candidates:
            x = min(max(x, frame.x0), frame.x1 - width)
            y = min(max(y, frame.y0), frame.y1 - height)
            rect = (x, y, x + width, y + height)
            cost = sum(_overlap(rect, other) for other in placed)
            if best_cost is None or cost < best_cost:
                best, best_cost = rect, cost
            if cost == 0:
                break
        placed.append(best)
        text.set_position(to_data.transform((best[0] + pad_px, best[1] + pad_px)))


def _label_layer(ax, items):
    """An invisible artist drawn just before the labels, that places them (see :func:`_place_labels`)."""
    from matplotlib.artist import Artist

    class _LabelLayer(Artist):
        def draw(self, renderer):
            if items:
                _place_labels(ax, items, renderer)

    layer = _LabelLayer()
    layer.set_zorder(min(t.get_zorder() for t, _ in items) - 0.01 if items else 2.9)
    ax.add_artist(layer)
    return layer


def _photo_figsize(img: np.ndarray) -> tuple[float, float]:
    """Figure size (inches) that shows an (H, W[, C]) image within the column and at least
    ``MIN_PHOTO_PX`` on its longer side (1.5x that when small, so tags stay readable)."""
    height, width = img.shape[:2]
    scale = min(DISPLAY_WIDTH_PX / width, max(1.0, MIN_PHOTO_PX * 1.5 / max(width, height))) / FIGURE_DPI
    return max(2.0, width * scale), max(2.0, height * scale)


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
    max_label_chars: int = MAX_LABEL_CHARS,
    title: str | None = None,
):
    """Draw boxes with class-coloured outlines and readable label/score tags on ``image``.

    Each tag sits inside the image: in its box's top-left corner, or (when that spot is taken by
    another tag) above the box, in its bottom-left corner or below it, whichever collides least;
    tags are placed in score order, so the best detection gets the best spot. Class names longer
    than ``max_label_chars`` are shortened with an ellipsis. A new figure (``ax`` omitted) shows
    the image at least ``MIN_PHOTO_PX`` pixels wide.

    Parameters
    ----------
    image : array (H, W), (H, W, C), (C, H, W) or PIL image
    boxes : array (N, 4) in ``box_format`` pixels
    labels : N class ids (ints) or names, optional; one colour per class
    scores : N floats in [0, 1], optional; boxes below ``score_threshold`` are not drawn
    class_names : sequence or mapping from class id to name, optional
    ax : matplotlib Axes to draw into; a new figure is made when omitted
    fontsize : tag text size in points (>= 9: the course's smallest readable size)

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
        _, ax = plt.subplots(figsize=_photo_figsize(img))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    items = []
    for i, (x1, y1, x2, y2) in enumerate(xyxy):
        score = None if scores is None else scores[i]
        if score is not None and float(score) < score_threshold:
            continue
        label = None if labels is None else labels[i]
        color = class_color(label if label is not None else 0)
        ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=linewidth))
        caption = _caption(label, score, class_names, max_label_chars)
        if caption:
            text = ax.text(
                x1, y1, caption, fontsize=fontsize, color=text_color_for(color), va="bottom", ha="left",
                bbox={"facecolor": color, "edgecolor": color, "pad": 1.5, "alpha": 0.9},
                clip_on=False,
            )
            items.append((-1.0 if score is None else -float(score), i, text, (x1, y1, x2, y2)))
    items.sort(key=lambda item: (item[0], item[1]))
    _label_layer(ax, [(text, box) for _, _, text, box in items])
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def draw_box_groups(image, groups: Mapping[str, object], *, ax=None, box_format: str = "xyxy",
                    linewidth: float = 2.0, title: str | None = None, legend_cols: int = 2):
    """Draw many overlapping boxes (anchors, proposals) in groups: one colour and one legend entry per
    group, no tag on each box, so nothing piles up however much the boxes overlap.

    Parameters
    ----------
    image : array (H, W), (H, W, C), (C, H, W) or PIL image
    groups : mapping from a group's name (its legend entry) to its boxes, array (N_i, 4) in
        ``box_format`` pixels; groups get matplotlib's ``tab10`` colours in order
    ax : matplotlib Axes to draw into; a new figure is made when omitted
    legend_cols : columns of the legend, placed under the image (outside it)

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    img = _as_image(image)
    if ax is None:
        width_in, height_in = _photo_figsize(img)
        _, ax = plt.subplots(figsize=(width_in, height_in + 0.8))  # + room for the legend under it
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    colors = plt.get_cmap("tab10").colors
    handles = []
    for k, (name, boxes) in enumerate(groups.items()):
        color = colors[k % len(colors)]
        for x1, y1, x2, y2 in _check_boxes(boxes, box_format):
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                                           linewidth=linewidth))
        handles.append(patches.Patch(facecolor="none", edgecolor=color, linewidth=linewidth, label=str(name)))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=legend_cols,
              frameon=False, handlelength=1.2, columnspacing=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def photo_grid(n: int, *, ncols: int | None = None, aspect: float = 1.0, min_px: int = MIN_PHOTO_PX,
               width_px: int = DISPLAY_WIDTH_PX, title_lines: int = 1):
    """A figure with ``n`` photo panels, each at least ``min_px`` wide on screen; returns (fig, axes).

    ``aspect`` is a photo's height / width. ``ncols`` defaults to as many panels as fit in
    ``width_px`` (3 at the defaults); more photos go on more rows. ``axes`` is a flat array of
    ``n`` Axes (surplus grid cells are removed). ``title_lines``: room for that many lines of title
    above each panel.
    """
    import matplotlib.pyplot as plt

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fit = max(1, int(width_px // (min_px * 1.04)))
    ncols = min(n, fit) if ncols is None else int(ncols)
    if ncols * min_px * 1.04 > width_px:
        raise ValueError(f"{ncols} columns of {min_px} px photos do not fit in {width_px} px; "
                         f"use ncols <= {fit}")
    nrows = -(-n // ncols)
    panel_in = min(width_px / ncols, 1.6 * min_px) / FIGURE_DPI
    title_in = title_lines * 0.25
    photo_h = panel_in * aspect
    height = nrows * (photo_h + title_in)
    # margins set by hand, no layout engine: a later plt.tight_layout() then warns about nothing
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_in * ncols, height), squeeze=False)
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=1 - title_in / height, wspace=0.03,
                        hspace=title_in / photo_h)
    axes = axes.ravel()
    for extra in axes[n:]:
        extra.remove()
    for a in axes[:n]:
        a.set_axis_off()
    return fig, axes[:n]


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
        _, ax = plt.subplots(figsize=(min(DISPLAY_WIDTH_PX / FIGURE_DPI, max(4, 1.1 * len(names))), 3.5))
    bars = ax.bar(names, numbers, color=[class_color(n) for n in names])
    for bar, v in zip(bars, numbers, strict=True):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=9)
    if log:
        ax.set_yscale("log")
    # headroom above the tallest bar, so that its value stays inside the frame (a log axis: in decades)
    low, high = ax.get_ylim()
    if log and numbers.max() > 0:
        ax.set_ylim(low, numbers.max() * (numbers.max() / max(low, 1e-300)) ** 0.18)
    elif numbers.max() > 0:
        ax.set_ylim(low, max(high, numbers.max() * 1.18))
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=20)
    return ax


def _shown_scale(fig, renderer, dpi: float) -> tuple[float, float]:
    """(PNG width in px as saved with bbox_inches='tight' at ``dpi``, on-screen scale factor)."""
    bbox = fig.get_tightbbox(renderer)
    width_px = bbox.width * dpi
    return width_px, min(1.0, DISPLAY_WIDTH_PX / width_px) if width_px > 0 else 1.0


def readability_problems(fig=None, *, dpi: float | None = None, min_text_px: float = MIN_TEXT_PX,
                         min_photo_px: float = MIN_PHOTO_PX) -> list[str]:
    """What in ``fig`` breaks the course's figure rules, as it is shown on GitHub; [] when none.

    The figure is measured as the notebook shows it: saved at ``dpi`` (default ``fig.dpi``) with
    ``bbox_inches="tight"``, then scaled down to ``DISPLAY_WIDTH_PX`` when wider. Reported:

    - text smaller than ``min_text_px`` on screen (9 pt at 100 dpi = 12.5 px);
    - images (photos) shown less than ``min_photo_px`` on their longer side;
    - two texts that overlap (labels, titles, tick labels, legend entries), and clipped texts;
    - lines in one Axes drawn in the same colour, style and width (coinciding curves would hide).
    """
    import matplotlib.pyplot as plt
    from matplotlib.image import AxesImage
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    fig = plt.gcf() if fig is None else fig
    if not hasattr(fig.canvas, "get_renderer"):  # a bare matplotlib.figure.Figure: measure it with Agg
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    dpi = float(dpi or fig.dpi)
    saved_dpi = fig.dpi
    fig.set_dpi(dpi)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width_px, scale = _shown_scale(fig, renderer, dpi)
        found = []
        if scale < 1:
            found.append(f"figure is {width_px:.0f} px wide: GitHub shows it scaled to {scale:.0%} "
                         f"(keep it <= {DISPLAY_WIDTH_PX} px, i.e. figsize width <= {DISPLAY_WIDTH_PX / dpi:.1f} in)")
        texts, small = [], {}
        # tick labels matplotlib keeps but does not draw: those of an axes shown without its axis
        # (photos), and those of ticks beyond the view limits
        hidden_ticks = set()
        for ax in fig.axes:
            frame = ax.get_window_extent(renderer)
            for axis, lo, hi, centre in ((ax.xaxis, frame.x0, frame.x1, lambda e: (e.x0 + e.x1) / 2),
                                         (ax.yaxis, frame.y0, frame.y1, lambda e: (e.y0 + e.y1) / 2)):
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    for label in (tick.label1, tick.label2):
                        if not ax.axison or (label.get_text().strip()
                                             and not lo - 1 <= centre(label.get_window_extent(renderer)) <= hi + 1):
                            hidden_ticks.add(id(label))
        for text in fig.findobj(Text):
            if not text.get_visible() or not text.get_text().strip() or text.figure is None:
                continue
            if text.axes is not None and not text.axes.get_visible():
                continue
            if id(text) in hidden_ticks:
                continue  # a tick label matplotlib does not draw
            extent = text.get_window_extent(renderer)
            if extent.width <= 0 or extent.height <= 0:
                continue
            shown = text.get_fontsize() * dpi / 72 * scale
            if shown < min_text_px - 1e-6:
                key = round(shown, 1)
                small.setdefault(key, []).append(text.get_text().strip()[:24])
            clip = text.get_clip_box() if text.get_clip_on() else None
            if clip is not None and not _inside(extent, clip):
                found.append(f"text {text.get_text().strip()[:30]!r} is clipped by its axes")
            texts.append((text, extent))
        found += _block_overflows(fig, renderer)
        for shown, names in sorted(small.items()):
            found.append(f"{len(names)} text(s) {shown:.1f} px high on screen (< {min_text_px:.1f} px = "
                         f"{MIN_TEXT_PT:g} pt at 100 dpi), e.g. {names[0]!r}")
        for i, (a, ea) in enumerate(texts):
            for b, eb in texts[i + 1:]:
                shared = _overlap((ea.x0, ea.y0, ea.x1, ea.y1), (eb.x0, eb.y0, eb.x1, eb.y1))
                if shared > 0.1 * min(ea.width * ea.height, eb.width * eb.height):
                    found.append(f"texts overlap: {a.get_text().strip()[:30]!r} and {b.get_text().strip()[:30]!r}")
        for image in fig.findobj(AxesImage):
            if not image.get_visible() or image.axes is None:
                continue
            extent = Bbox.intersection(image.get_window_extent(renderer), image.axes.get_window_extent(renderer))
            if extent is None:
                continue
            longer = max(extent.width, extent.height) * scale
            if longer < min_photo_px:
                found.append(f"image shown {extent.width * scale:.0f} x {extent.height * scale:.0f} px "
                             f"(< {min_photo_px} px on its longer side)")
        for ax in fig.axes:
            styles = {}
            for line in ax.get_lines():
                if not line.get_visible() or len(line.get_xdata()) < 2 or line.get_label().startswith("_"):
                    continue
                key = (str(line.get_color()), str(line.get_linestyle()), float(line.get_linewidth()),
                       str(line.get_marker()))
                styles.setdefault(key, []).append(line.get_label())
            found += [f"lines {names} share one colour, style and width: if they coincide, one hides"
                      for names in styles.values() if len(names) > 1]
        return found
    finally:
        fig.set_dpi(saved_dpi)


def _block_overflows(fig, renderer) -> list[str]:
    """Texts that start inside a rounded block (a diagram's FancyBboxPatch) but stick out of it."""
    from matplotlib.patches import FancyBboxPatch

    found = []
    for ax in fig.axes:
        blocks = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, FancyBboxPatch)]
        for text in ax.texts:
            if not text.get_visible() or not text.get_text().strip():
                continue
            extent = text.get_window_extent(renderer)
            centre = ((extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2)
            for block in blocks:
                if block.contains(*centre) and not _inside(extent, block, slack=0.5):
                    found.append(f"text {text.get_text().strip()[:30]!r} sticks out of its block")
                    break
    return found


def _inside(extent, clip, slack: float = 1.0) -> bool:
    return (extent.x0 >= clip.x0 - slack and extent.x1 <= clip.x1 + slack
            and extent.y0 >= clip.y0 - slack and extent.y1 <= clip.y1 + slack)


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
    _report(fig, where=None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi or fig.dpi, bbox_inches="tight", pil_kwargs={"quality": int(quality)})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))
