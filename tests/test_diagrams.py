"""helpers.diagrams: each diagram is a Figure whose labelled blocks say what the shapes say."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import diagrams


def test_pipeline_figure_draws_one_labelled_block_per_stage_coloured_by_cost():
    rows = [("R-CNN", [("image\n3x480x640", False), ("CNN x 2000", True)]),
            ("Fast R-CNN", [("image\n3x480x640", False), ("trunk\n512x15x20", False), ("RoI pool", True)])]
    fig = diagrams.pipeline_figure(rows, title="t")
    assert isinstance(fig, Figure)
    assert diagrams.block_labels(fig) == ["image\n3x480x640", "CNN x 2000", "image\n3x480x640", "trunk\n512x15x20", "RoI pool"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "R-CNN" in texts and "Fast R-CNN" in texts and "trunk\n512x15x20" in texts
    from matplotlib.colors import to_rgba
    from matplotlib.patches import FancyBboxPatch
    faces = [p.get_facecolor() for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert faces[1] == to_rgba(diagrams.PER_PROPOSAL_COLOR) and faces[0] == to_rgba(diagrams.ONCE_COLOR)
    with pytest.raises(ValueError, match="non-empty"):
        diagrams.pipeline_figure([("x", [])])


def test_fpn_figure_labels_every_level_with_its_shape():
    c = [("C3", (512, 100, 100)), ("C4", (1024, 50, 50)), ("C5", (2048, 25, 25))]
    p = [("P3", (256, 100, 100)), ("P4", (256, 50, 50)), ("P5", (256, 25, 25)), ("P6", (256, 13, 13)), ("P7", (256, 7, 7))]
    fig = diagrams.fpn_figure(c, p)
    labels = diagrams.block_labels(fig)
    assert sorted(labels) == sorted(["C3\n512x100x100", "C4\n1024x50x50", "C5\n2048x25x25", "P3\n256x100x100",
                                     "P4\n256x50x50", "P5\n256x25x25", "P6\n256x13x13", "P7\n256x7x7"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("1x1 conv") == 3 and texts.count("2x upsample, add") == 2 and texts.count("3x3 conv, stride 2") == 2
    with pytest.raises(ValueError, match="as many pyramid levels"):
        diagrams.fpn_figure(c, p[:2])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        diagrams.fpn_figure([("C3", (100, 100))], p)


def test_grid_output_figure_splits_the_cell_vector_into_boxes_and_classes():
    fig = diagrams.grid_output_figure(np.zeros((70, 70)), (7, 7, 30), boxes_per_cell=2, cell=(1, 5))
    assert diagrams.block_labels(fig) == ["box 1\nx y w h\nconf", "box 2\nx y w h\nconf",
                                             "20 class probabilities\nP(class | object)"]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "cell (1, 5): 30 numbers = 2 x 5 + 20" in texts
    assert "whole output: 7x7x30 = 1,470 numbers, 98 boxes" in texts
    image_ax = fig.axes[0]
    assert len(image_ax.lines) == 2 * 6  # 6 inner vertical + 6 inner horizontal grid lines
    with pytest.raises(ValueError, match="cannot hold"):
        diagrams.grid_output_figure(np.zeros((7, 7)), (7, 7, 10), boxes_per_cell=2)
    with pytest.raises(ValueError, match="outside"):
        diagrams.grid_output_figure(np.zeros((7, 7)), (7, 7, 30), boxes_per_cell=2, cell=(7, 0))


def test_diagrams_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import helpers.diagrams, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_diagrams_are_readable_where_github_shows_them():
    """Text >= 9 pt on screen, <= 880 px wide, no label sticking out of its block (helpers.viz rules)."""
    import matplotlib

    from helpers import viz

    with matplotlib.rc_context():
        viz.use_course_style()
        rows = [("R-CNN", [("image\n3x480x640", False), ("selective search\n2000 proposals", False),
                           ("warp each\n2000x3x224x224", True), ("whole CNN\nx 2000", True),
                           ("classes + boxes\nper proposal", True)]),
                ("Faster R-CNN", [("image\n3x480x640", False), ("conv trunk once\n512x15x20", False),
                                  ("RPN: 20x15x9 =\n2,700 anchors -> 300", False),
                                  ("RoI pool 7x7\n300x512x7x7", True), ("head\nclasses + boxes", True)])]
        c = [("C3", (512, 100, 100)), ("C4", (1024, 50, 50)), ("C5", (2048, 25, 25))]
        p = [("P3", (256, 100, 100)), ("P4", (256, 50, 50)), ("P5", (256, 25, 25)), ("P6", (256, 13, 13)),
             ("P7", (256, 7, 7))]
        figures = [diagrams.pipeline_figure(rows, title="R-CNN -> Fast R-CNN -> Faster R-CNN (shapes of a ResNet-18)"),
                   diagrams.fpn_figure(c, p, title="RetinaNet's FPN (torchvision, 800x800 input)"),
                   diagrams.grid_output_figure(np.zeros((128, 128, 3)), (7, 7, 30), boxes_per_cell=2,
                                               title="YOLO v1's output")]
        for fig in figures:
            assert viz.readability_problems(fig) == []
