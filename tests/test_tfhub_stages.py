"""helpers.tfhub: the stand-ins' stages compose to the saved stand-in; positions and MACs counted."""

import numpy as np
import pytest

from helpers import tfhub

pytest.importorskip("tensorflow_hub")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name", tfhub.MODEL_NAMES)
def test_stages_compose_to_the_saved_stand_in(name, tmp_cache):
    import tensorflow as tf

    fn = tfhub.load_detector(name, variant="tiny", online=False, verbose=False)
    stages = tfhub.standin_stages(name, "tiny")
    x = tf.constant(np.random.default_rng(0).random((1, 120, 160, 3), dtype=np.float32))
    inputs = tfhub.stage_inputs(stages, x)
    assert list(inputs) == list(stages) and inputs[next(iter(stages))] is x
    out = x
    for stage in stages.values():
        out = stage(out)
    saved = fn(images=x)
    np.testing.assert_allclose(out["detection_scores"].numpy(), saved["detection_scores"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["detection_boxes"].numpy(), saved["detection_boxes"].numpy(), rtol=1e-5, atol=1e-6)


def test_first_stage_positions_and_resize():
    assert tfhub.frcnn_resize(640, 480) == (800, 600)
    assert tfhub.frcnn_resize(1280, 856) == (897, 600)
    pos = tfhub.first_stage_positions(640, 480)
    assert pos["real"] == (100, 75) and pos["stand_in"] == (48, 35)


def test_ssd_macs_match_a_hand_count_of_the_heads():
    macs = tfhub.architecture_macs("ssd_mobilenet_v2")
    assert set(macs) == {"MobileNetV2 backbone", "extra layers", "box + class heads"}
    stand_in, real = macs["box + class heads"]
    # 1x1 heads: 19x19x576 (3 anchors) and 10x10x1280, 5x5x512, 3x3x256, 2x2x256, 1x1x128 (6 anchors each)
    cells = [(19 * 19, 576, 3), (10 * 10, 1280, 6), (5 * 5, 512, 6), (3 * 3, 256, 6), (2 * 2, 256, 6), (1, 128, 6)]
    by_hand = sum(n * c * k * (4 + tfhub.NUM_CLASSES + 1) for n, c, k in cells) / 1e9
    assert stand_in == pytest.approx(by_hand, rel=1e-9)
    assert real > stand_in
    assert macs["MobileNetV2 backbone"][0] == macs["MobileNetV2 backbone"][1]


def test_anchor_layouts():
    ssd = tfhub.ssd_anchor_boxes()
    assert ssd.shape == (1917, 4)
    assert np.allclose(ssd[0, 2:] - ssd[0, :2], 0.1)  # the lowest layer's small square
    rpn = tfhub.rpn_anchor_boxes(640, 480)
    assert rpn.shape == (75 * 100 * 12, 4)
    sides = (rpn[:12, 2:] - rpn[:12, :2]) * np.array([600, 800])
    assert np.isclose(np.sqrt(sides.prod(axis=1)).max(), 512) and np.isclose(np.sqrt(sides.prod(axis=1)).min(), 64)


def test_cell_anchors_are_the_cells_rows_in_pixels():
    ssd = tfhub.ssd_anchor_boxes()
    centre = tfhub.ssd_cell_anchors(0)  # 19x19 map, cell (9, 9): 3 anchors
    assert np.allclose(centre, ssd[(9 * 19 + 9) * 3:(9 * 19 + 10) * 3][:, [1, 0, 3, 2]] * 300, atol=1e-4)
    assert np.allclose((centre[:, :2] + centre[:, 2:]) / 2, 150, atol=1e-3)  # the centre cell of a 300 px input
    coarse = tfhub.ssd_cell_anchors(2, row=0, col=4)  # 5x5 map starts after 19*19*3 + 10*10*6 anchors
    start = 19 * 19 * 3 + 10 * 10 * 6 + 4 * 6
    assert coarse.shape == (6, 4)
    assert np.allclose(coarse, ssd[start:start + 6][:, [1, 0, 3, 2]] * 300, atol=1e-4)
    rpn = tfhub.rpn_cell_anchors(640, 480)  # 800x600 inside, 75 x 100 positions, centre (37, 50)
    assert rpn.shape == (tfhub.RPN_ANCHORS_PER_POSITION, 4)
    assert np.allclose((rpn[:, :2] + rpn[:, 2:]) / 2, [(50 + 0.5) * 8, (37 + 0.5) * 8], atol=1e-2)
    sides = np.sqrt((rpn[:, 2] - rpn[:, 0]) * (rpn[:, 3] - rpn[:, 1]))
    assert np.allclose(sorted(set(np.round(sides))), [64, 128, 256, 512])
