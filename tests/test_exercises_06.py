"""Notebook 06's exercises in helpers.exercises: generalized_box_iou, centerness, detr_match_cost.
Independent solutions pass; the usual mistakes fail on the case meant for them."""

import numpy as np
import pytest

from helpers.exercises import EXERCISES, check


def giou_ok(a, b):
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(-1), (b[:, 2:] - b[:, :2]).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    c = (np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2])).prod(-1)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou - np.divide(c - union, c, out=np.zeros_like(c), where=c > 0)


def centerness_ok(d):
    lr, tb = d[:, [0, 2]], d[:, [1, 3]]
    rx = np.divide(lr.min(1), lr.max(1), out=np.zeros(len(d)), where=lr.max(1) > 0)
    ry = np.divide(tb.min(1), tb.max(1), out=np.zeros(len(d)), where=tb.max(1) > 0)
    return np.sqrt(rx * ry)


def xyxy(b):
    return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)


def cost_ok(logits, boxes, labels, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
    e = np.exp(logits - logits.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    l1 = np.abs(boxes[:, None] - targets[None]).sum(-1)
    return cost_class * -p[:, labels] + cost_bbox * l1 + cost_giou * -giou_ok(xyxy(boxes), xyxy(targets))


def test_registered():
    assert {"generalized_box_iou", "centerness", "detr_match_cost"} <= set(EXERCISES)


@pytest.mark.parametrize("name,fn", [("generalized_box_iou", giou_ok), ("centerness", centerness_ok),
                                     ("detr_match_cost", cost_ok)])
def test_correct_solutions_pass_and_stubs_are_not_attempted(name, fn, capsys):
    assert check(name, fn) is True
    assert "correct" in capsys.readouterr().out

    def stub(*args, **kwargs):
        raise NotImplementedError

    assert check(name, stub) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_giou_mistakes_are_caught():
    with pytest.raises(AssertionError, match="case 1 of 6 failed"):
        check("generalized_box_iou", lambda a, b: np.clip(giou_ok(a, b), 0, None))  # IoU-like, never negative

    def nan_on_degenerate(a, b):
        with np.errstate(all="ignore"):
            lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
            inter = np.clip(rb - lt, 0, None).prod(-1)
            union = (a[:, 2:] - a[:, :2]).prod(-1)[:, None] + (b[:, 2:] - b[:, :2]).prod(-1)[None] - inter
            c = (np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2])).prod(-1)
            return inter / union - (c - union) / c

    with pytest.raises(AssertionError, match="degenerate"):
        check("generalized_box_iou", nan_on_degenerate)


def test_centerness_mistakes_are_caught():
    with pytest.raises(AssertionError, match="case 1 of 6 failed"):
        check("centerness", lambda d: np.sqrt(d.min(1) / d.max(1)))
    with pytest.raises(AssertionError, match="zero width"):
        check("centerness", lambda d: np.sqrt(d[:, [0, 2]].min(1) / d[:, [0, 2]].max(1)
                                              * d[:, [1, 3]].min(1) / d[:, [1, 3]].max(1)))


def test_detr_cost_mistakes_are_caught():
    def log_prob(logits, boxes, labels, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
        e = np.exp(logits - logits.max(1, keepdims=True))
        logp = np.log(e / e.sum(1, keepdims=True))
        base = cost_ok(logits, boxes, labels, targets, 0.0, cost_bbox, cost_giou)
        return base + cost_class * -logp[:, labels]

    with pytest.raises(AssertionError, match="failed: one query, one target"):
        check("detr_match_cost", log_prob)

    def giou_on_cxcywh(logits, boxes, labels, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
        base = cost_ok(logits, boxes, labels, targets, cost_class, cost_bbox, 0.0)
        return base + cost_giou * -giou_ok(boxes, targets)

    with pytest.raises(AssertionError, match="failed"):
        check("detr_match_cost", giou_on_cxcywh)

    def no_object_dropped(logits, boxes, labels, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
        return cost_ok(logits[:, :-1], boxes, labels, targets, cost_class, cost_bbox, cost_giou)

    with pytest.raises(AssertionError, match="one query, one target"):
        check("detr_match_cost", no_object_dropped)
