"""helpers.small_objects: pasting keeps the aspect and reports the right box; matching by IoU."""

import numpy as np
import pytest

from helpers.small_objects import _iou_with, best_match, paste_object


def test_paste_keeps_aspect_and_returns_the_pasted_box(rng):
    background = np.zeros((100, 200, 3), np.uint8)
    obj = np.full((40, 20, 3), 200, np.uint8)  # 2:1 tall
    image, box = paste_object(background, obj, height=30, center=(50, 40))
    np.testing.assert_array_equal(box, [42, 25, 57, 55])  # 30 tall, round(20 * 30 / 40) = 15 wide
    x1, y1, x2, y2 = box.astype(int)
    assert (image[y1:y2, x1:x2] == 200).all()
    assert image.sum() == 200 * 3 * (y2 - y1) * (x2 - x1), "nothing painted outside the box"
    assert background.sum() == 0, "the background is not modified"
    _, centred = paste_object(background, obj, height=12)
    assert (centred[:2] + centred[2:]).tolist() == [200, 100]  # centred in the image


@pytest.mark.parametrize(("height", "center", "message"), [
    (1, None, "height must be"),
    (2.5, None, "height must be"),
    (150, None, "does not fit"),
    (30, (5, 5), "leaves"),
])
def test_paste_rejects_bad_sizes(height, center, message):
    with pytest.raises(ValueError, match=message):
        paste_object(np.zeros((100, 200, 3), np.uint8), np.zeros((40, 20, 3), np.uint8), height, center)
    with pytest.raises(ValueError, match="RGB"):
        paste_object(np.zeros((100, 200)), np.zeros((40, 20, 3), np.uint8), 10)


def test_iou_matches_a_hand_computed_case_and_degenerate_boxes_give_zero():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    boxes = np.array([[5.0, 5.0, 15.0, 15.0], [0.0, 0.0, 10.0, 10.0], [20, 20, 30, 30], [3, 3, 3, 8]])
    np.testing.assert_allclose(_iou_with(box, boxes), [25 / 175, 1.0, 0.0, 0.0])
    assert _iou_with(np.array([1.0, 1.0, 1.0, 1.0]), np.array([[1.0, 1.0, 1.0, 1.0]]))[0] == 0.0


def test_best_match_takes_the_highest_score_among_overlapping_boxes():
    target = [0, 0, 10, 10]
    boxes = [[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60], [1, 1, 11, 11]]
    scores = [0.3, 0.6, 0.99, 0.5]
    assert best_match(boxes, scores, target) == (0.6, 1)  # 0.99 does not overlap
    assert best_match(boxes, scores, target, iou_threshold=1.0) == (0.3, 0)
    assert best_match(boxes[2:3], scores[2:3], target) == (0.0, -1)  # missed
    assert best_match(np.zeros((0, 4)), [], target) == (0.0, -1)
    with pytest.raises(ValueError, match="boxes but"):
        best_match(boxes, scores[:2], target)
    with pytest.raises(ValueError, match="iou_threshold"):
        best_match(boxes, scores, target, iou_threshold=0)


def test_best_match_is_class_aware_when_labels_are_given():
    target = np.array([10.0, 10.0, 50.0, 50.0])
    boxes = np.array([[10, 10, 50, 50], [12, 10, 50, 52]], float)
    scores = np.array([0.9, 0.4])
    labels = np.array([b"Picture frame", b"Cat"], dtype=object)
    assert best_match(boxes, scores, target) == (0.9, 0)
    assert best_match(boxes, scores, target, labels=labels, target_label=b"Cat") == (0.4, 1)
    assert best_match(boxes, scores, target, labels=labels, target_label=b"Dog") == (0.0, -1)
    with pytest.raises(ValueError, match="both"):
        best_match(boxes, scores, target, labels=labels)
