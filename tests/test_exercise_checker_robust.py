"""helpers.exercises.check survives a learner (issue 21): endless loops, float32 answers, odd
return types, np.seterr(all="raise"); and cross_entropy's labels are integers (issue 20).

The wrong answers reused from tests/test_exercises.py are the mistakes learners make; here they
are also computed in float32, and the looser float32 tolerance must still reject every one.
"""

import time

import numpy as np
import pytest
import test_exercises as te

from helpers import boxes as hb
from helpers import losses as hl
from helpers.exercises import EXERCISES, check


def failure(name, fn, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(name, fn, **kwargs)
    msg = str(info.value)
    assert msg.startswith(f"{name}: case ") and "inputs:" in msg and "expected:" in msg, msg
    return msg


# ------------------------------------------------------------------ a time limit per call


def nms_endless(boxes, scores, iou_threshold):
    """The classic bug: `order` never shrinks, so the while loop never ends."""
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order[0]
        keep.append(int(i))
        ious = hb.box_iou(boxes[i:i + 1], boxes[order])[0]
        order = [j for j, v in zip(order, ious, strict=True) if v <= iou_threshold or j == i]  # keeps i
    return np.array(keep)


def test_endless_loop_fails_its_case_within_the_time_limit():
    tic = time.monotonic()
    msg = failure("nms", nms_endless, time_limit=0.5)
    assert time.monotonic() - tic < 5
    first = msg.splitlines()[0]
    assert first.startswith("nms: case 1 of"), msg
    assert "did not return within 0.5 s on case 1: an endless loop?" in msg, msg
    assert "it was stopped" in msg, msg  # a pure-Python loop is stopped, not left burning a core


def test_a_stopped_loop_does_not_keep_running():
    import threading

    before = {t.ident for t in threading.enumerate()}
    failure("nms", nms_endless, time_limit=0.3)
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name == "exercise-check"]


def test_default_time_limit_is_a_few_seconds_and_is_checked():
    import inspect

    default = inspect.signature(check).parameters["time_limit"].default
    assert 1 <= default <= 30
    for bad in (0, -1, float("inf"), "10", True):
        with pytest.raises(ValueError, match="time_limit"):
            check("nms", te.nms_textbook, time_limit=bad)


def test_a_slow_but_finishing_function_passes():
    def slow_iou(a, b):
        time.sleep(0.01)
        return hb.box_iou(a, b)

    assert check("box_iou", slow_iou, time_limit=5)


# ------------------------------------------------------------------ float32 answers


def f32(fn, scalar=False):
    def wrapped(*args, **kwargs):
        args = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a for a in args)
        out = fn(*args, **kwargs)
        return np.float32(out) if scalar else np.asarray(out, dtype=np.float32)
    return wrapped


@pytest.mark.parametrize("name, fn, scalar", [
    ("box_iou", te.iou_textbook, False),
    ("box_iou", te._iou, False),
    ("encode_boxes", te.encode_textbook, False),
    ("decode_boxes", te.decode_textbook, False),
    ("box_convert", te.convert_textbook, False),
    ("boxes_to_pixels", te.pixels_textbook, False),
    ("sigmoid_focal_loss", te.focal_torchvision_style, False),
    ("smooth_l1", te.smooth_l1_textbook, True),
    ("cross_entropy", te.ce_textbook, True),
    ("average_precision", te.ap_textbook, True),
])
def test_correct_float32_answers_pass(name, fn, scalar, capsys):
    assert check(name, f32(fn, scalar)) is True


def test_the_reference_functions_in_float32_pass():
    assert check("box_iou", lambda a, b: hb.box_iou(a.astype(np.float32), b.astype(np.float32)).astype(np.float32))
    assert check("encode_boxes", lambda g, a, weights=(10.0, 10.0, 5.0, 5.0): hb.encode_boxes(
        g.astype(np.float32), a.astype(np.float32), weights).astype(np.float32))


W = (10.0, 10.0, 5.0, 5.0)
WRONG = [  # (name, wrong answer, scalar): every mistake of tests/test_exercises.py with a float result
    ("box_iou", lambda a, b: te._iou(a, b, clamp=False), False),
    ("box_iou", lambda a, b: te._iou(a, b, guard=False), False),
    ("box_iou", lambda a, b: te._iou(a, b, subtract=False), False),
    ("box_iou", lambda a, b: te._iou(b, a).T if len(a) and len(b) else te._iou(b, a), False),
    ("average_precision", lambda r, p: te.ap_textbook(r, p, envelope=False), True),
    ("average_precision", lambda r, p: te.ap_textbook(r, p, sentinel=False), True),
    ("average_precision", lambda r, p: float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2)), True),
    ("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: te.focal_torchvision_style(x, t, alpha, gamma,
                                                                                          alpha_t=False), False),
    ("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: te.focal_torchvision_style(x, t, alpha, gamma,
                                                                                          stable=False), False),
    ("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: te.focal_torchvision_style(x, t, alpha, gamma,
                                                                                          use_pt=False), False),
    ("smooth_l1", lambda p, t, beta=1.0: te.smooth_l1_textbook(p, t, beta, scale_quadratic=False), True),
    ("smooth_l1", lambda p, t, beta=1.0: te.smooth_l1_textbook(p, t, beta, scale_linear=False), True),
    ("smooth_l1", lambda p, t, beta=1.0: float(np.sum(hl.smooth_l1(p, t, beta, reduction="none"))), True),
    ("cross_entropy", lambda z, y: te.ce_textbook(z, y, shift=False), True),
    ("cross_entropy", lambda z, y: te.ce_textbook(z, y, log=np.log2), True),
    ("box_convert", lambda b, i, o: te.convert_textbook(b, i, o, half=False), False),
    ("box_convert", lambda b, i, o: te.convert_textbook(b, i, o, corner_xywh=False), False),
    ("box_convert", lambda b, i, o: b, False),
    ("encode_boxes", lambda g, a, weights=W: te.encode_textbook(g, a, weights, use_weights=False), False),
    ("encode_boxes", lambda g, a, weights=W: te.encode_textbook(g, a, weights, corners=True), False),
    ("encode_boxes", lambda g, a, weights=W: te.encode_textbook(g, a, weights, same_norm=True), False),
    ("decode_boxes", lambda d, a, weights=W: te.decode_textbook(d, a, weights, clip=False), False),
    ("decode_boxes", lambda d, a, weights=W: te.decode_textbook(d, a, weights, divide=False), False),
    ("decode_boxes", lambda d, a, weights=W: te.decode_textbook(d, a, weights, as_corners=False), False),
    ("boxes_to_pixels", lambda b, h, w: te.pixels_textbook(b, h, w, reorder=False), False),
    ("boxes_to_pixels", lambda b, h, w: te.pixels_textbook(b, h, w, swap_hw=True), False),
    ("boxes_to_pixels", lambda b, h, w: np.round(te.pixels_textbook(b, h, w)), False),
    ("boxes_to_pixels", lambda b, h, w: b * np.array([h, w, h, w]), False),
]


@pytest.mark.parametrize("k", range(len(WRONG)))
def test_every_typical_mistake_is_still_rejected_in_float32(k):
    name, fn, scalar = WRONG[k]
    failure(name, f32(fn, scalar))


# ------------------------------------------------------------------ odd return types


@pytest.mark.parametrize("name, make, words", [
    ("box_iou", lambda a, b: (hb.box_iou(a, b), "iou"), "tuple"),
    ("box_iou", lambda a, b: str(hb.box_iou(a, b)), "str"),
    ("box_iou", lambda a, b: {"iou": hb.box_iou(a, b)}, "dict"),
    ("nms", lambda b, s, t: set(te.nms_textbook(b, s, t).tolist()), "set"),
    ("nms", lambda b, s, t: (int(i) for i in te.nms_textbook(b, s, t)), "generator"),
    ("smooth_l1", lambda p, t, beta=1.0: (hl.smooth_l1(p, t, beta), 1), "tuple"),
    ("smooth_l1", lambda p, t, beta=1.0: f"{hl.smooth_l1(p, t, beta):.3f}", "str"),
    ("cross_entropy", lambda z, y: {"loss": hl.cross_entropy(z, y)}, "dict"),
    ("average_precision", lambda r, p: map(float, [0.5]), "map"),
    ("box_convert", lambda b, i, o: {tuple(r) for r in b}, "set"),
    ("nms", lambda b, s, t: "0 1 2", "str"),
])
def test_odd_return_types_are_reported_as_a_failed_case(name, make, words):
    msg = failure(name, make)
    assert "case 1 of" in msg.splitlines()[0]
    problem = next(line for line in msg.splitlines() if line.strip().startswith("problem:"))
    assert "expected" in problem and words in problem, msg


# ------------------------------------------------------------------ np.seterr(all="raise")


def test_learners_seterr_raise_does_not_crash_the_reference():
    old = np.seterr(all="raise")
    try:
        for name, ex in EXERCISES.items():
            ref = ex.reference_fn()
            assert check(name, (lambda *a, ex=ex, ref=ref, **k: ex.call(ref, *a, **k)) if ex.call else ref)
        assert np.geterr()["divide"] == "raise"  # the learner's setting is left as it was
    finally:
        np.seterr(**old)


# ------------------------------------------------------------------ cross_entropy's labels (issue 20)


def test_cross_entropy_cases_pass_integer_labels():
    for case in EXERCISES["cross_entropy"].cases():
        y = case.args[1]
        assert y.dtype == np.int64, (case.label, y.dtype)


def test_textbook_cross_entropy_with_fancy_indexing_passes():
    def textbook(logits, y):  # what notebook 01's exercise 3 asks for, in the usual textbook form
        z = logits - logits.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(y)), y].mean()

    assert check("cross_entropy", textbook) is True
