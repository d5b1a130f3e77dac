"""Architecture diagrams drawn with matplotlib from real tensor shapes.

The notebooks measure a network's shapes (a backbone's feature maps, a head's output tensor) and
hand them to these functions, so what a diagram says is what the code computed. Every function
returns a ``matplotlib.figure.Figure``; each labelled block is a ``FancyBboxPatch`` whose text
is an ``Axes.text`` (so a test can read the labels back). Nothing here imports torch.

- :func:`pipeline_figure`: detectors as rows of stages joined by arrows (R-CNN -> Fast -> Faster),
  stages that run once per proposal in another colour
- :func:`fpn_figure`: a feature pyramid's bottom-up levels, lateral 1x1 convolutions and top-down path
- :func:`grid_output_figure`: YOLO v1's S x S grid on an image and one cell's output vector

Every diagram fits GitHub's column (<= 8.8 in at 100 dpi, ``helpers.viz.DISPLAY_WIDTH_PX``) with
text of at least ``TEXT_PT`` points, so it reads where a learner sees it (the course's figure rules).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ONCE_COLOR = "#cfe2f3"  # runs once per image
PER_PROPOSAL_COLOR = "#f4cccc"  # runs once per proposal (or per region)
PYRAMID_COLOR = "#d9ead3"
#: Text sizes (points): block and arrow labels, row names and titles. >= 9 pt on screen at 100 dpi.
TEXT_PT = 10
NAME_PT = 11
TITLE_PT = 12
#: Widest diagram (inches): GitHub's column at 100 dpi.
MAX_WIDTH_IN = 8.6


def _figure(figsize):
    # matplotlib.figure.Figure, not pyplot: building a diagram opens no window and leaks no state;
    # the notebook shows it with display(fig) or as the cell's value.
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _block(ax, x, y, w, h, text, color, fontsize=TEXT_PT):
    """A rounded box centred at (x, y) with ``text`` in it; returns the patch."""
    from matplotlib.patches import FancyBboxPatch

    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                           facecolor=color, edgecolor="0.3", linewidth=1)
    patch.set_label(text)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def _arrow(ax, start, end, text=None, fontsize=TEXT_PT, offset=(0.0, 0.08)):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.25", "lw": 1.2})
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text,
                ha="center", va="bottom", fontsize=fontsize, color="0.25")


def _shape_text(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def pipeline_figure(rows: Sequence[tuple[str, Sequence[tuple[str, bool]]]], title: str | None = None,
                    block_width: float = 1.0):
    """Detectors as rows of stages, left to right, joined by arrows.

    Parameters
    ----------
    rows : sequence of ``(detector name, stages)``; ``stages`` is a sequence of
        ``(label, per_proposal)``: the label is drawn in the block (use ``\\n`` for line breaks),
        ``per_proposal`` True colours the block as work repeated for every proposal
    title : figure title
    block_width : the narrowest block, in inches; each column is as wide as its longest label
        line needs at ``TEXT_PT`` points (the figure stays <= ``MAX_WIDTH_IN`` wide while it can)

    Returns
    -------
    matplotlib.figure.Figure with one labelled block per stage.
    """
    rows = list(rows)
    if not rows or any(not stages for _, stages in rows):
        raise ValueError("rows must be a non-empty sequence of (name, non-empty stages)")
    from matplotlib.patches import Patch

    n_cols = max(len(stages) for _, stages in rows)
    char_in = 0.62 * TEXT_PT / 72  # a DejaVu Sans character is about 0.6 em wide
    longest = [max((len(line) for _, stages in rows if c < len(stages) for line in stages[c][0].split("\n")),
                   default=0) for c in range(n_cols)]
    gap = 0.3
    widths = [max(block_width, (n + 2) * char_in) for n in longest]  # inches: data units are inches
    lefts = np.concatenate([[0.0], np.cumsum([w + gap for w in widths])[:-1]])
    total = lefts[-1] + widths[-1]
    row_step, block_h = 0.95, 0.55
    fig = _figure((max(total + 0.3, 4.0), 0.8 + row_step * len(rows) + (0.4 if title else 0)))
    ax = fig.add_subplot()
    for r, (name, stages) in enumerate(rows):
        y = -r * row_step
        ax.text(0, y + block_h / 2 + 0.05, name, ha="left", va="bottom", fontsize=NAME_PT, fontweight="bold")
        for c, (label, per_proposal) in enumerate(stages):
            x = lefts[c] + widths[c] / 2
            _block(ax, x, y, widths[c], block_h, label, PER_PROPOSAL_COLOR if per_proposal else ONCE_COLOR)
            if c:
                _arrow(ax, (lefts[c - 1] + widths[c - 1], y), (lefts[c], y))
    ax.legend(handles=[Patch(facecolor=ONCE_COLOR, edgecolor="0.3", label="once per image"),
                       Patch(facecolor=PER_PROPOSAL_COLOR, edgecolor="0.3", label="once per proposal")],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=TEXT_PT, frameon=False)
    ax.set_xlim(-0.05, total + 0.05)
    ax.set_ylim(-row_step * (len(rows) - 1) - block_h / 2 - 0.05, block_h / 2 + 0.3)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return fig


def fpn_figure(bottom_up: Sequence[tuple[str, Sequence[int]]], pyramid: Sequence[tuple[str, Sequence[int]]],
               title: str | None = None):
    """A feature pyramid: bottom-up levels (left), lateral 1x1 convolutions, top-down path (right).

    Parameters
    ----------
    bottom_up : ``(name, (C, H, W))`` of the backbone levels the FPN reads, finest first
        (e.g. C3, C4, C5 of a ResNet)
    pyramid : ``(name, (C, H, W))`` of the FPN outputs, finest first; the first ``len(bottom_up)``
        have a lateral connection, the rest (e.g. P6, P7) are extra levels computed by stride-2
        convolutions on top

    Returns
    -------
    matplotlib.figure.Figure; block labels are ``"name\\nCxHxW"``.
    """
    bottom_up, pyramid = list(bottom_up), list(pyramid)
    if not bottom_up or len(pyramid) < len(bottom_up):
        raise ValueError(f"need at least one bottom-up level and as many pyramid levels "
                         f"(got {len(bottom_up)} and {len(pyramid)})")
    for name, shape in bottom_up + pyramid:
        if len(shape) != 3:
            raise ValueError(f"shape of {name!r} must be (C, H, W), got {tuple(shape)}")
    fig = _figure((MAX_WIDTH_IN, 1.2 + 1.05 * len(pyramid)))
    ax = fig.add_subplot()
    finest = max(shape[1] * shape[2] for _, shape in pyramid)

    def width(shape):  # block width grows with the map's side, so the pyramid reads as one
        return 0.9 + 1.1 * np.sqrt(shape[1] * shape[2] / finest)

    for i, (name, shape) in enumerate(pyramid):
        y = i * 0.95
        _block(ax, 4.2, y, width(shape), 0.6, f"{name}\n{_shape_text(shape)}", PYRAMID_COLOR)
        if i:
            below = 4.2 + width(pyramid[i - 1][1]) / 2 - 0.15
            if i < len(bottom_up):
                _arrow(ax, (4.2, y - 0.3), (4.2, y - 0.65))  # drawn downwards: top-down path
                ax.text(4.3, y - 0.48, "2x upsample, add", fontsize=TEXT_PT, color="0.25", va="center")
            else:
                _arrow(ax, (below, y - 0.65), (below, y - 0.3))
                ax.text(below + 0.1, y - 0.48, "3x3 conv, stride 2", fontsize=TEXT_PT, color="0.25", va="center")
    for i, (name, shape) in enumerate(bottom_up):
        y = i * 0.95
        _block(ax, 0.9, y, width(shape), 0.6, f"{name}\n{_shape_text(shape)}", ONCE_COLOR)
        if i:
            _arrow(ax, (0.9, y - 0.65), (0.9, y - 0.3))
        _arrow(ax, (0.9 + width(shape) / 2, y), (4.2 - width(pyramid[i][1]) / 2, y), "1x1 conv", offset=(0, 0.02))
    ax.text(0.9, len(pyramid) * 0.95 - 0.35, "bottom-up (backbone)", ha="center", fontsize=NAME_PT, fontweight="bold")
    ax.text(4.2, len(pyramid) * 0.95 - 0.35, "top-down (FPN)", ha="center", fontsize=NAME_PT, fontweight="bold")
    ax.set_xlim(-0.4, 6.6)
    ax.set_ylim(-0.5, len(pyramid) * 0.95)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return fig


def grid_output_figure(image, output_shape: Sequence[int], boxes_per_cell: int, cell: tuple[int, int] = (3, 3),
                       title: str | None = None):
    """YOLO v1's output: an S x S grid over the image, and the vector one cell predicts.

    Parameters
    ----------
    image : HxW or HxWx3 array, drawn under the grid
    output_shape : the head's output shape ``(S, S, B * 5 + C)`` (e.g. ``(7, 7, 30)``)
    boxes_per_cell : B; each box is (x, y, w, h, confidence), the remaining ``C`` numbers are the
        cell's class probabilities
    cell : (row, col) of the highlighted cell

    Returns
    -------
    matplotlib.figure.Figure: the grid on the image (left) and the cell's vector split into its
    B boxes and C class probabilities (right).
    """
    from matplotlib.patches import Rectangle

    if len(output_shape) != 3 or output_shape[0] != output_shape[1]:
        raise ValueError(f"output_shape must be (S, S, depth), got {tuple(output_shape)}")
    s, depth = int(output_shape[0]), int(output_shape[2])
    n_classes = depth - 5 * boxes_per_cell
    if boxes_per_cell < 1 or n_classes < 1:
        raise ValueError(f"depth {depth} cannot hold {boxes_per_cell} boxes of 5 numbers plus classes")
    r, c = cell
    if not (0 <= r < s and 0 <= c < s):
        raise ValueError(f"cell {cell} is outside the {s}x{s} grid")
    image = np.asarray(image)
    h, w = image.shape[:2]
    fig = _figure((MAX_WIDTH_IN, 3.7))
    ax_img, ax_vec = fig.add_gridspec(1, 2, width_ratios=(1, 1.7)).subplots()
    ax_img.imshow(image, cmap="gray" if image.ndim == 2 else None)
    for k in range(1, s):
        ax_img.axvline(k * w / s, color="white", lw=0.8)
        ax_img.axhline(k * h / s, color="white", lw=0.8)
    ax_img.add_patch(Rectangle((c * w / s, r * h / s), w / s, h / s, fill=False, edgecolor="red", lw=2.5))
    ax_img.set_title(f"{s}x{s} grid; cell ({r}, {c}) in red", fontsize=TEXT_PT)
    ax_img.axis("off")
    x = 0.0
    colors = ["#cfe2f3", "#fce5cd"]
    for b in range(boxes_per_cell):
        _block(ax_vec, x + 2.5, 0, 4.8, 1.0, f"box {b + 1}\nx y w h\nconf", colors[b % 2])
        x += 5
    _block(ax_vec, x + n_classes / 2, 0, n_classes - 0.2, 1.0, f"{n_classes} class probabilities\nP(class | object)",
           "#d9ead3")
    ax_vec.text(depth / 2, 0.85, f"cell ({r}, {c}): {depth} numbers = {boxes_per_cell} x 5 + {n_classes}",
                ha="center", fontsize=TEXT_PT)
    ax_vec.text(depth / 2, -0.95, f"whole output: {_shape_text(output_shape)} = {s * s * depth:,} numbers, "
                f"{s * s * boxes_per_cell} boxes", ha="center", fontsize=TEXT_PT)
    ax_vec.set_xlim(-0.5, depth + 0.5)
    ax_vec.set_ylim(-1.3, 1.3)
    ax_vec.axis("off")
    if title:
        fig.suptitle(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return fig


def block_labels(fig) -> list[str]:
    """The labels of every block drawn on ``fig`` (what a test or a learner can check)."""
    from matplotlib.patches import FancyBboxPatch

    return [p.get_label() for ax in fig.axes for p in ax.patches if isinstance(p, FancyBboxPatch)]
