"""The course's figure rules (helpers.viz): readable where GitHub shows the figure.

Text >= 9 pt at 100 dpi (12.5 px) after GitHub scales a wide PNG down to its column, photos
>= ~300 px, labels inside the image that neither collide nor get clipped, coinciding curves
that stay visible. ``readability_problems`` measures a figure as the notebook shows it; the
tests check that it catches each broken rule and that the course's defaults pass it.
"""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _course_style():
    with matplotlib.rc_context():
        viz.use_course_style()
        yield
    plt.close("all")


def _photo(h=200, w=300):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _extents(ax):
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.texts], ax.get_window_extent(renderer)


def test_course_style_sets_readable_defaults():
    rc = matplotlib.rcParams
    assert rc["figure.dpi"] == 100 and rc["savefig.bbox"] == "tight"
    sizes = [matplotlib.font_manager.FontProperties(size=rc[k]).get_size_in_points()
             for k in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "legend.fontsize")]
    assert min(sizes) >= 10
    width_px = rc["figure.figsize"][0] * rc["figure.dpi"]
    assert width_px <= viz.DISPLAY_WIDTH_PX


def test_a_default_figure_passes():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 50)
    ax.plot(x, x**2, label="x squared")
    ax.plot(x, x**2, label="the same curve again")
    ax.set(title="a title", xlabel="x", ylabel="y")
    ax.legend()
    assert viz.readability_problems(fig) == []


def test_coinciding_curves_get_different_styles():
    fig, ax = plt.subplots()
    lines = [ax.plot([0, 1], [0, 1], label=f"curve {i}")[0] for i in range(4)]
    styles = {(line.get_linestyle(), line.get_linewidth()) for line in lines}
    assert len(styles) == 4  # drawn on top of each other, each still shows
    assert lines[0].get_linewidth() > lines[1].get_linewidth()  # the first one shows around the second


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: plt.subplots(figsize=(6, 3))[1].set_title("tiny", fontsize=6), "px high on screen"),
        (lambda: plt.subplots(1, 3, figsize=(15, 4)), "GitHub shows it scaled"),
        (lambda: plt.subplots(1, 5, figsize=(8.5, 2))[1][0].imshow(_photo()), "image shown"),
        (lambda: [plt.gca().plot([0, 1], [0, 1], color="k", linestyle="-", lw=2, label=s) for s in "ab"],
         "share one colour, style and width"),
    ],
)
def test_each_broken_rule_is_reported(build, message):
    build()
    found = viz.readability_problems(plt.gcf())
    assert any(message in problem for problem in found), found


def test_overlapping_and_clipped_texts_are_reported():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first label here", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label here", transform=ax.transAxes)
    ax.text(0.95, 0.2, "clipped at the right edge", transform=ax.transAxes, clip_on=True)
    found = viz.readability_problems(fig)
    assert any("texts overlap" in p for p in found), found
    assert any("clipped" in p for p in found), found


def test_wide_figure_scaled_down_makes_its_text_too_small():
    fig, _ = plt.subplots(figsize=(16, 4))  # 1600 px shown at 880: 10-pt ticks become 7.6 px
    found = viz.readability_problems(fig)
    assert any("px high on screen" in p for p in found), found


def test_draw_boxes_tags_do_not_collide_and_stay_inside():
    # two boxes sharing their top-left corner (truth vs guess): the tags must not sit on each other
    image = _photo(200, 300)
    ax = viz.draw_boxes(image, [[100, 50, 200, 150], [100, 50, 190, 160], [250, 0, 299, 30]],
                        labels=["truth", "guess", "corner"])
    extents, frame = _extents(ax)
    for i, a in enumerate(extents):
        assert frame.x0 - 1 <= a.x0 and a.x1 <= frame.x1 + 1 and frame.y0 - 1 <= a.y0 and a.y1 <= frame.y1 + 1
        for b in extents[i + 1:]:
            assert not a.overlaps(b), (a, b)
    assert viz.readability_problems(ax.figure) == []


def test_draw_boxes_first_tag_inside_the_box_top_left():
    ax = viz.draw_boxes(_photo(200, 300), [[50, 60, 250, 180]], labels=["batman_face"], scores=[0.9])
    (extent,), _ = _extents(ax)
    x1, y1 = ax.transData.transform((50, 60))  # display: y grows upwards, the box top is y1
    x2, y2 = ax.transData.transform((250, 180))
    assert x1 - 1 <= extent.x0 <= x1 + 6 and y2 <= extent.y1 <= y1 + 1


def test_draw_boxes_shortens_long_names_and_keeps_the_score():
    ax = viz.draw_boxes(_photo(), [[10, 10, 100, 100]], labels=["a_very_long_class_name_indeed"], scores=[0.87])
    text = ax.texts[0].get_text()
    assert len(text) <= viz.MAX_LABEL_CHARS and text.endswith(" 0.87") and "\u2026" in text


def test_draw_boxes_small_thumbnail_is_shown_large_enough():
    ax = viz.draw_boxes(_photo(96, 96), [[10, 10, 60, 60]], labels=["circle"], scores=[0.75])
    assert viz.readability_problems(ax.figure) == []


def test_photo_grid_keeps_photos_large_and_the_figure_in_the_column():
    fig, axes = viz.photo_grid(5, aspect=2 / 3)
    assert len(axes) == 5
    for ax in axes:
        viz.draw_boxes(_photo(200, 300), [[20, 20, 120, 120]], labels=["bat_symbol"], scores=[0.9], ax=ax,
                       title="an image")
    assert viz.readability_problems(fig) == []
    with pytest.raises(ValueError, match="do not fit"):
        viz.photo_grid(6, ncols=6)


def test_figure_report_records_problems(tmp_path, monkeypatch):
    import IPython.display

    report = tmp_path / "figures.jsonl"
    monkeypatch.setenv("COURSE_FIGURE_REPORT", str(report))
    monkeypatch.setattr(IPython.display, "display", lambda obj: None)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("too small", fontsize=5)
    viz.show_jpeg(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("fine")
    viz.show_jpeg(fig)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 1 and any("px high" in p for p in records[0]["problems"])


def test_photo_grid_then_tight_layout_warns_about_nothing():
    import warnings

    fig, axes = viz.photo_grid(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would land in the committed outputs
        fig.tight_layout()


def test_a_label_sticking_out_of_its_diagram_block_is_reported():
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(4, 2))
    ax.set(xlim=(0, 4), ylim=(0, 2))
    ax.add_patch(FancyBboxPatch((1, 0.5), 0.6, 1, boxstyle="round,pad=0.02"))
    ax.text(1.3, 1.0, "a label far wider than its block", ha="center", va="center")
    assert any("sticks out of its block" in p for p in viz.readability_problems(fig))


@pytest.mark.parametrize("log", [False, True])
def test_bar_chart_values_stay_inside_the_frame_in_small_panels(log):
    fig, axes = plt.subplots(2, 3, figsize=(8.8, 6.4))
    for ax in axes.flat:
        viz.bar_chart({"SSD": 70.0, "FRCNN": 8300.0}, ax=ax, log=log, fmt="{:.0f}", title="t")
    fig.tight_layout()
    assert viz.readability_problems(fig) == []
    texts, frame = _extents(axes[0, 0])
    assert all(frame.y0 <= t.y0 and t.y1 <= frame.y1 for t in texts), "a value label sticks out of its frame"


def test_labels_of_ticks_beyond_the_view_are_not_counted_but_drawn_ones_are():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_yscale("log")
    ax.set_ylim(50, 2e4)  # matplotlib keeps the 10^1 and 10^5 labels, off the frame and not drawn
    # a note exactly where the undrawn 10^5 label sits, left of the axis above the frame
    ax.text(-0.02, 1e5, "a note", transform=ax.get_yaxis_transform(), ha="right", va="center", clip_on=False)
    assert viz.readability_problems(fig) == []
    ax.text(0.0, 1e3, "on the tick label", fontsize=30, transform=ax.get_yaxis_transform(), ha="right")
    found = viz.readability_problems(fig)
    assert any("overlap" in p and "on the tick label" in p for p in found), found  # with the drawn 10^3


def _course_plots():
    """The course's own plotting helpers, each drawn at its default size with realistic labels."""
    from helpers import compare, detection_eval, train

    classes = ["batman_face", "bat_symbol", "robin_face", "robin_symbol", "joker_face"]
    names = dict(enumerate(classes, 1))
    arms = ["story proportions", "+ more Robin & Joker pictures", "repeat-factor sampling", "balanced (reference)"]
    dap = dict.fromkeys([*detection_eval.TIDE_ERROR_TYPES, "FalsePos", "FalseNeg"], 0.012)
    return {
        "plot_tide": lambda: detection_eval.plot_tide({"mAP": 0.97, "dAP": dap}),
        "plot_confusion_matrix": lambda: detection_eval.plot_confusion_matrix(
            np.arange(36).reshape(6, 6), classes, title="val, detections with score >= 0.37"),
        "plot_accuracy_latency": lambda: compare.plot_accuracy_latency(
            [{"label": n, "latency_ms": ms, "AP50": ap, "latency_range": (0.9 * ms, 1.1 * ms)}
             for n, ms, ap in (("Faster R-CNN", 110, 0.93), ("RetinaNet", 202, 0.23), ("SSDlite", 47, 0.96))]),
        "plot_per_class": lambda: compare.plot_per_class({a: dict.fromkeys(names, 0.5) for a in arms}, names),
        "plot_history": lambda: train.plot_history({"iteration": list(range(50)), "loss": [1.0] * 50,
                                                    "loss_classifier": [0.6] * 50, "loss_box_reg": [0.4] * 50}),
    }


@pytest.mark.parametrize("name", sorted(_course_plots()))
def test_course_plotting_helpers_pass_the_figure_rules(name):
    ax = _course_plots()[name]()
    assert viz.readability_problems(ax.figure) == []
