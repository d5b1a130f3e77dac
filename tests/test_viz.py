"""helpers.viz: boxes drawn where they should be, readable tags, clear errors on bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import viz  # noqa: E402
from helpers.samples import SAMPLE_NAMES, load_sample  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rects(ax):
    return [p for p in ax.patches if isinstance(p, mpatches.Rectangle)]


def test_draw_boxes_places_rectangles_and_captions():
    image = np.zeros((100, 200, 3), np.uint8)
    ax = viz.draw_boxes(image, [[10, 20, 50, 60], [100, 10, 190, 90]], labels=[0, 1], scores=[0.9, 0.4],
                        class_names=["bat", "robin"])
    rects = _rects(ax)
    assert len(rects) == 2
    assert rects[0].get_xy() == (10, 20) and rects[0].get_width() == 40 and rects[0].get_height() == 40
    assert [t.get_text() for t in ax.texts] == ["bat 0.90", "robin 0.40"]
    assert rects[0].get_edgecolor() != rects[1].get_edgecolor()  # one colour per class


def test_same_class_same_colour_and_threshold_filters():
    image = np.ones((50, 50), np.float32)
    ax = viz.draw_boxes(image, [[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 2, 2]], labels=["a", "a", "b"],
                        scores=[0.9, 0.8, 0.1], score_threshold=0.5)
    rects = _rects(ax)
    assert len(rects) == 2 and rects[0].get_edgecolor() == rects[1].get_edgecolor()


@pytest.mark.parametrize(("fmt", "box"), [("xywh", [10, 20, 40, 40]), ("cxcywh", [30, 40, 40, 40])])
def test_box_formats(fmt, box):
    ax = viz.draw_boxes(np.zeros((100, 100, 3)), [box], box_format=fmt)
    rect = _rects(ax)[0]
    assert rect.get_xy() == (10, 20) and rect.get_width() == 40


def test_text_colour_is_readable_on_light_and_dark_tags():
    assert viz.text_color_for((1.0, 1.0, 0.0)) == "black"  # yellow tag -> black text
    assert viz.text_color_for((0.0, 0.0, 0.6)) == "white"  # dark blue tag -> white text
    for label in range(20):  # every class colour gets the text colour with the higher contrast
        color = viz.class_color(label)
        assert viz.text_color_for(color) in ("black", "white")


def test_chw_tensor_layout_and_empty_boxes():
    ax = viz.draw_boxes(np.zeros((3, 40, 60)), np.zeros((0, 4)))
    assert ax.images[0].get_array().shape[:2] == (40, 60) and not _rects(ax)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boxes": [[10, 10, 5, 20]]}, "x2 >= x1"),
        ({"boxes": [[0, 0, np.nan, 1]]}, "NaN"),
        ({"boxes": [[0, 0, 5, 5]], "labels": [0, 1]}, "labels has 2 entries"),
        ({"boxes": [[0, 0, 5, 5]], "box_format": "yxyx"}, "box_format must be one of"),
        ({"boxes": [[0, 0, 5, 5]], "labels": [7], "class_names": ["a"]}, "label 7 has no entry"),
        ({"image": np.zeros((4, 4, 5)), "boxes": [[0, 0, 1, 1]]}, "image must be"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, message):
    args = {"image": np.zeros((20, 20, 3))} | kwargs
    with pytest.raises(ValueError, match=message):
        viz.draw_boxes(**args)


def test_annotate_image_returns_rgb_array_with_box_pixels():
    out = viz.annotate_image(np.zeros((60, 80, 3), np.uint8), [[10, 20, 50, 40]], labels=[2], scores=[0.75])
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    expected = tuple(int(255 * c) for c in viz.class_color(2))
    assert tuple(out[30, 10]) == expected  # left edge of the box in the class colour
    assert tuple(out[59, 79]) == (0, 0, 0)  # untouched far corner


def test_pr_curve_and_bar_chart():
    ax = viz.plot_pr_curve([0.1, 0.5, 1.0], [1.0, 0.6, 0.5], label="cls", ap=0.7)
    assert "AP=0.700" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="same length"):
        viz.plot_pr_curve([0.1], [1.0, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.plot_pr_curve([0.1, 1.5], [1.0, 0.5])
    ax = viz.bar_chart({"ssd": 30.0, "frcnn": 900.0}, ylabel="ms")
    assert [t.get_text() for t in ax.texts] == ["30", "900"]
    with pytest.raises(ValueError, match="non-empty mapping"):
        viz.bar_chart({})


def test_every_sample_photo_loads_as_rgb():
    for name in SAMPLE_NAMES:
        image = load_sample(name)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8, name
    with pytest.raises(ValueError, match="unknown sample photo 'lena'"):
        load_sample("lena")


def test_draw_box_groups_one_colour_and_legend_entry_per_group():
    image = np.zeros((300, 300, 3), np.uint8)
    groups = {"small": [[140, 140, 160, 160], [130, 145, 170, 155]], "large": [[50, 50, 250, 250]]}
    ax = viz.draw_box_groups(image, groups, title="anchors")
    rects = _rects(ax)
    assert len(rects) == 3
    assert rects[0].get_edgecolor() == rects[1].get_edgecolor() != rects[2].get_edgecolor()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["small", "large"]
    assert not ax.texts  # no tag on each box
    assert viz.readability_problems(ax.figure) == []
    plt.close(ax.figure)
