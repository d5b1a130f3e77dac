"""Self-checking exercises: compare a learner's function with the ``helpers`` reference.

Each notebook ends with exercise cells like::

    def my_box_iou(a, b):
        raise NotImplementedError  # your code here

    from helpers.exercises import check
    check("box_iou", my_box_iou)

:func:`check` runs the learner's function on a fixed list of cases (hand-made edge cases:
empty inputs, ties, degenerate boxes, extreme logits; then seeded random ones) and compares
each answer with the reference function of the same name in ``helpers``:

- an untouched stub (raises ``NotImplementedError``) prints ``"<name>: not attempted yet"``
  and returns False, so exercise cells never fail a notebook run;
- agreement on every case prints one success line and returns True;
- otherwise an ``AssertionError`` names the first failing case: its inputs, the expected and
  the received value, and a hint about the usual mistake behind that case. An exception raised
  inside the learner's function is reported the same way (its type, message and line), not as a
  traceback into ``helpers``; so is an answer of the wrong kind (a tuple, string, dict, set or
  generator where an array or a number was expected);
- a call that does not return within ``time_limit`` seconds (an endless loop, the classic NMS
  bug of never shrinking ``order``) fails its case with that said, and the cell goes on: the
  learner's function runs in a worker thread, which is then asked to stop (a pure-Python loop
  stops; one stuck inside a single C call runs on in the background, and the message says so).

Answers are compared with a tolerance set by the answer's own precision: float64 answers within
``RTOL``/``ATOL``, float32 (and float16) ones within a few hundred float32 rounding steps
(:data:`FLOAT32_RTOL`, :data:`FLOAT32_ATOL` times the size of the values), which every correct
float32 formula meets and no usual mistake does. The reference runs under
``np.errstate(all="ignore")``, so a learner's ``np.seterr(all="raise")`` cannot crash it.

The learner's function receives NumPy float64 arrays (integer labels as int64; fresh copies:
mutating them is harmless) and keyword arguments named as in ``helpers`` (``alpha``, ``gamma``,
``beta``, ``weights``). NumPy only: importing this module imports neither torch nor TensorFlow.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EXERCISES", "check"]

#: Tolerances of the comparison (float64 inputs; different but correct formulas differ by ~1e-15).
RTOL = 1e-6
ATOL = 1e-9
#: For answers computed in float32 (or float16): 1000 and 100 float32 rounding steps; the absolute
#: one is multiplied by the largest expected magnitude (at least 1): a difference of values of size
#: 100 (box corners) loses float32's precision of 100, not of the (small) result.
FLOAT32_RTOL = 1000 * float(np.finfo(np.float32).eps)
FLOAT32_ATOL = 100 * float(np.finfo(np.float32).eps)
#: Seconds one call of the learner's function may take before its case fails.
TIME_LIMIT = 10.0


@dataclass(frozen=True)
class Case:
    """One input to check: ``fn(*args, **kwargs)`` against the reference, with its hint."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    hint: str = ""


@dataclass(frozen=True)
class Exercise:
    """What :func:`check` needs for one name: the reference, its cases, how to compare."""

    signature: str
    reference: str          # "module.function" inside helpers, imported when checked
    kind: str               # "array" (same shape, close values), "scalar", "indices" (exact)
    cases: Callable[[], list[Case]]
    hint: str               # general hint, for the random cases
    call: Callable | None = None  # adapts the reference's signature, when it differs

    def reference_fn(self) -> Callable:
        import importlib

        module, name = self.reference.rsplit(".", 1)
        return getattr(importlib.import_module(f"helpers.{module}"), name)


def _arr(values, shape=None) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return a.reshape(shape) if shape is not None else a


def _labels(values) -> np.ndarray:
    """Integer class labels, as int64 (``logits[np.arange(N), y]`` indexes with them)."""
    return np.asarray(values, dtype=np.int64)


def _empty_boxes() -> np.ndarray:
    return np.zeros((0, 4))


def _random_boxes(rng: np.random.Generator, n: int, size: float = 100.0, min_wh: float = 1.0) -> np.ndarray:
    """``n`` random xyxy boxes of positive size inside a ``size`` x ``size`` square."""
    xy = rng.uniform(0, size * 0.8, (n, 2))
    wh = rng.uniform(min_wh, size * 0.4, (n, 2))
    return np.round(np.concatenate([xy, xy + wh], axis=1), 2)


# --------------------------------------------------------------------------------------------
# the cases, one function per exercise
# --------------------------------------------------------------------------------------------

_CLAMP_HINT = ("clamp the overlap width and height at 0 before multiplying them "
               "(np.clip(rb - lt, 0, None)): for boxes that do not overlap they are negative, "
               "and two negatives multiply to a positive 'intersection'.")


def _box_iou_cases() -> list[Case]:
    rng = np.random.default_rng(1)
    return [
        Case("one pair, partial overlap", (_arr([[0, 0, 2, 2]]), _arr([[1, 1, 3, 3]])),
             hint="IoU = intersection / (area_a + area_b - intersection): the intersection is "
                  "counted in both areas, subtract it once."),
        Case("one box inside the other", (_arr([[0, 0, 4, 4]]), _arr([[1, 1, 2, 2]])),
             hint="the intersection's corners are max of the top-left corners and min of the "
                  "bottom-right corners."),
        Case("boxes apart in x only (negative overlap width)", (_arr([[0, 0, 1, 1]]), _arr([[2, 0, 3, 1]])),
             hint=_CLAMP_HINT),
        Case("boxes apart in x and y (two negative overlaps)", (_arr([[0, 0, 1, 1]]), _arr([[2, 2, 4, 3]])),
             hint=_CLAMP_HINT),
        Case("boxes touching at an edge", (_arr([[0, 0, 1, 1]]), _arr([[1, 0, 2, 1]])),
             hint="boxes that share only an edge have intersection 0, hence IoU 0."),
        Case("degenerate boxes (zero width or height)",
             (_arr([[1, 1, 1, 3], [0, 0, 2, 2]]), _arr([[1, 1, 1, 3], [0, 0, 0, 0], [0, 0, 2, 2]])),
             hint="a box of zero width or height has area 0; two such boxes have union 0: "
                  "return 0 there, not 0/0 = NaN (np.divide(inter, union, out=np.zeros_like(inter), "
                  "where=union > 0))."),
        Case("no boxes in a (N = 0)", (_empty_boxes(), _arr([[0, 0, 1, 1], [1, 1, 3, 3]])),
             hint="with N = 0 boxes return an array of shape (0, M); broadcasting a[:, None, :] "
                  "against b[None, :, :] gives that without a special case."),
        Case("no boxes in b (M = 0)", (_arr([[0, 0, 1, 1], [1, 1, 3, 3], [2, 2, 5, 5]]), _empty_boxes()),
             hint="with M = 0 boxes return an array of shape (N, 0)."),
        Case("N != M: every pair, not box i with box i", (_random_boxes(rng, 3), _random_boxes(rng, 5)),
             hint="iou[i, j] compares a[i] with b[j] for every pair: the result is (N, M); "
                  "broadcast a[:, None, :] against b[None, :, :]."),
        Case("random boxes, N = 20, M = 30", (_random_boxes(rng, 20), _random_boxes(rng, 30))),
    ]


_KEEP_HINT = "return indices into the original boxes, in descending score order."


def _nms_cases() -> list[Case]:
    rng = np.random.default_rng(2)

    def cluster(n, thr):
        centres = rng.uniform(20, 80, (4, 2))
        c = centres[rng.integers(0, 4, n)] + rng.normal(0, 4, (n, 2))
        wh = rng.uniform(10, 25, (n, 2))
        b = np.round(np.concatenate([c - wh / 2, c + wh / 2], axis=1), 2)
        return b, np.round(rng.uniform(0, 1, n), 3), thr

    return [
        Case("two boxes, IoU 0.82 > 0.5", (_arr([[0, 0, 10, 10], [1, 0, 11, 10]]), _arr([0.6, 0.9]), 0.5),
             hint="visit boxes from the highest score down: box 1 (score 0.9) is kept and suppresses box 0."),
        Case("IoU exactly equal to the threshold", (_arr([[0, 0, 3, 1], [1, 0, 4, 1]]), _arr([0.9, 0.8]), 0.5),
             hint="suppress only when IoU > iou_threshold (strictly greater, as torchvision.ops.nms); "
                  "a box whose IoU equals the threshold is kept."),
        Case("scores not sorted, no overlaps",
             (_arr([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]]), _arr([0.2, 0.9, 0.5]), 0.5),
             hint=_KEEP_HINT + " Here nothing overlaps: all three are kept, as [1, 2, 0]."),
        Case("a chain: A suppresses B, B would suppress C",
             (_arr([[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]]), _arr([0.9, 0.8, 0.7]), 0.5),
             hint="only a box you KEEP suppresses others: B is suppressed by A, so B does not "
                  "suppress C (IoU(A, C) = 0.25 keeps C)."),
        Case("tied scores", (_arr([[1, 0, 11, 10], [0, 0, 10, 10], [0, 0, 10, 10]]), _arr([0.5, 0.5, 0.5]), 0.5),
             hint="when scores tie, visit the lower index first: order = np.argsort(-scores, "
                  "kind='stable') (np.argsort(scores)[::-1] puts the higher index first)."),
        Case("no boxes", (_empty_boxes(), np.zeros(0), 0.5),
             hint="with no boxes return an empty index array (np.zeros(0, dtype=int)), not an error."),
        Case("degenerate boxes", (_arr([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2, 2]]), _arr([0.9, 0.8, 0.7]), 0.5),
             hint="a zero-area box has IoU 0 with everything (guard the 0/0), so it suppresses "
                  "nothing and is suppressed by nothing."),
        Case("random clusters of 40 boxes, threshold 0.5", cluster(40, 0.5)),
        Case("random clusters of 40 boxes, threshold 0.3", cluster(40, 0.3),
             hint="use the iou_threshold argument, not a fixed 0.5."),
    ]


def _ap_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    from helpers.metrics import precision_recall_curve

    scores = rng.uniform(0, 1, 60)
    is_tp = rng.uniform(0, 1, 60) < 0.3 + 0.6 * scores  # better scores are more often right
    num_gt = int(is_tp.sum()) + 5                        # a few objects never found
    recall, precision, _ = precision_recall_curve(scores, is_tp, num_gt)
    return [
        Case("recall does not start at 0", (_arr([0.5]), _arr([1.0])),
             hint="prepend recall 0 (and append recall 1 at precision 0): the first rectangle, "
                  "from recall 0 to the first point, counts; here AP = 0.5 x 1."),
        Case("perfect detector", (_arr([0.5, 1.0]), _arr([1.0, 1.0])),
             hint="all-point AP is the area under the precision envelope from recall 0 to 1: here 1."),
        Case("precision rises again (needs the envelope)",
             (_arr([0.2, 0.4, 0.4, 0.6, 0.8]), _arr([1.0, 2 / 3, 0.5, 0.6, 2 / 3])),
             hint="take the precision envelope first: at each recall, the maximum precision at that "
                  "recall or any higher one (np.maximum.accumulate(p[::-1])[::-1])."),
        Case("false positives: repeated recall values",
             (_arr([0.5, 0.5, 0.5, 1.0]), _arr([1.0, 0.5, 1 / 3, 0.5])),
             hint="sum rectangles only where recall changes, with the envelope's precision at the "
                  "right end; a false positive moves precision, not recall. Rectangles, not "
                  "trapezoids (np.trapz is not VOC's AP)."),
        Case("recall never reaches 1", (_arr([0.25, 0.5]), _arr([1.0, 0.5])),
             hint="recall beyond the last point adds nothing (precision 0 there)."),
        Case("empty curve (no detections)", (np.zeros(0), np.zeros(0)),
             hint="an empty curve has AP 0.0 (no error, no NaN)."),
        Case("random ranked detections (60)", (recall, precision),
             hint="VOC2010+ all-point AP: sentinels (0, 0) and (1, 0), precision envelope, "
                  "rectangles where recall changes (not VOC2007's 11 points)."),
    ]


_STABLE_HINT = ("compute log(sigmoid(x)) stably: log_sigmoid(x) = -np.logaddexp(0, -x); "
                "np.log(1 / (1 + np.exp(-x))) gives -inf (then inf or NaN) for large |x|.")
_ALPHA_T_HINT = ("alpha_t = alpha for targets 1 and 1 - alpha for targets 0; multiplying every "
                 "element by alpha weights the (many) negatives wrongly.")


def _focal_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    logits = np.round(rng.normal(0, 3, (64, 5)), 3)
    targets = (rng.uniform(0, 1, (64, 5)) < 0.2).astype(np.float64)
    return [
        Case("one positive, one negative (defaults alpha=0.25, gamma=2)", (_arr([2.0, -1.0]), _arr([1.0, 0.0])),
             hint="FL = alpha_t * (1 - p_t)**gamma * BCE, with p_t = p for targets 1 and 1 - p for "
                  "targets 0, and alpha_t = alpha for targets 1 and 1 - alpha for targets 0."),
        Case("only negatives", (_arr([-3.0, 0.0, 1.5]), _arr([0.0, 0.0, 0.0])), hint=_ALPHA_T_HINT),
        Case("only positives", (_arr([-3.0, 0.0, 1.5]), _arr([1.0, 1.0, 1.0])), hint=_ALPHA_T_HINT),
        Case("gamma = 0, alpha = 0.5: half the cross-entropy", (_arr([-2.0, 0.5, 3.0]), _arr([1.0, 0.0, 1.0])),
             {"alpha": 0.5, "gamma": 0.0},
             hint="use the gamma and alpha arguments (not fixed 2 and 0.25); with gamma = 0 the "
                  "factor (1 - p_t)**gamma is 1."),
        Case("gamma = 1: the factor uses p_t, not p", (_arr([-2.0, 2.0, -2.0, 2.0]), _arr([1.0, 1.0, 0.0, 0.0])),
             {"alpha": 0.25, "gamma": 1.0},
             hint="the modulating factor is (1 - p_t)**gamma: (1 - p) for a positive, p for a negative."),
        Case("extreme logits (+-1000)", (_arr([1000.0, -1000.0, 1000.0, -1000.0]), _arr([1.0, 1.0, 0.0, 0.0])),
             hint=_STABLE_HINT),
        Case("empty input", (np.zeros(0), np.zeros(0)),
             hint="per element: an empty input gives an empty output of the same shape."),
        Case("random (64, 5) logits, 0/1 targets", (logits, targets),
             hint="return the loss per element (same shape as logits), as torchvision's "
                  "sigmoid_focal_loss with reduction='none': no sum, no mean."),
    ]


_BETA_HINT = "inside |x| < beta the loss is 0.5 * x**2 / beta, outside it is |x| - 0.5 * beta: both parts use beta."


def _smooth_l1_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    pred = np.round(rng.normal(0, 2, (8, 4)), 3)
    target = np.round(rng.normal(0, 2, (8, 4)), 3)
    mixed = _arr([0.1, -0.3, 0.6, -1.5, 2.5, 0.0])
    return [
        Case("small residuals (quadratic part)", (_arr([0.2, -0.5]), _arr([0.0, 0.0])),
             hint="for |x| < beta the loss is 0.5 * x**2 / beta (x = pred - target)."),
        Case("large residuals (linear part)", (_arr([3.0, -2.0]), _arr([0.0, 0.0])),
             hint="for |x| >= beta the loss is |x| - 0.5 * beta: the two parts meet at |x| = beta."),
        Case("beta = 0.5", (mixed, np.zeros(6)), {"beta": 0.5}, hint=_BETA_HINT),
        Case("beta = 2", (mixed * 2, np.zeros(6)), {"beta": 2.0}, hint=_BETA_HINT),
        Case("beta = 0: plain L1", (mixed, np.zeros(6)), {"beta": 0.0},
             hint="beta = 0 is the L1 loss mean(|x|): do not divide by beta when it is 0."),
        Case("(8, 4) box deltas: one mean over every element", (pred, target),
             hint="return one number: the mean over all elements (np.mean of the whole array), "
                  "not per row or per column, not the sum."),
        Case("(8, 4) box deltas, beta = 1/9 (Detectron's value)", (pred / 10, target / 10), {"beta": 1 / 9},
             hint=_BETA_HINT),
    ]


def _cross_entropy_cases() -> list[Case]:
    rng = np.random.default_rng(6)
    logits = np.round(rng.normal(0, 2, (16, 5)), 3)
    labels = rng.integers(0, 5, 16).astype(np.int64)
    return [
        Case("two samples, three classes", (_arr([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), _labels([0, 1])),
             hint="CE = -log softmax(logits)[label], averaged over samples (natural log)."),
        Case("uniform logits: log(C)", (np.zeros((3, 4)), _labels([0, 1, 3])),
             hint="equal logits give probability 1/C for every class, so CE = log(C) = 1.386 nats "
                  "(np.log, not np.log2)."),
        Case("one sample", (_arr([[0.0, 3.0, -1.0]]), _labels([2])),
             hint="y holds the integer label of each row; pick log p[i, y[i]]."),
        Case("extreme logits (1000)", (_arr([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]), _labels([0, 2])),
             hint="subtract each row's maximum before np.exp (log-sum-exp): np.exp(1000) overflows to inf."),
        Case("random (16, 5) logits", (logits, labels),
             hint="sum over classes (axis=-1), then average over samples: not one mean over all "
                  "N * C entries, not a mean over the class axis."),
    ]


_CONVERT_HINTS = {
    "xywh": "xywh is the top-left corner plus width and height (COCO's bbox), not the centre.",
    "cxcywh": "cxcywh is the centre plus width and height: cx = (x1 + x2) / 2, and x1 = cx - w / 2 (half the width).",
}


def _box_convert_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    from helpers.boxes import box_convert

    xyxy = _random_boxes(rng, 6)
    boxes = {"xyxy": xyxy, "xywh": box_convert(xyxy, "xyxy", "xywh"), "cxcywh": box_convert(xyxy, "xyxy", "cxcywh")}
    cases = []
    for src in boxes:
        for dst in boxes:
            if src != dst:
                hint = _CONVERT_HINTS.get(dst if src == "xyxy" else src, "")
                cases.append(Case(f"{src} -> {dst}", (boxes[src], src, dst), hint=hint))
    cases.append(Case("same format in and out", (xyxy, "cxcywh", "cxcywh"),
                      hint="when in_fmt == out_fmt return the boxes unchanged."))
    cases.append(Case("no boxes", (_empty_boxes(), "xyxy", "cxcywh"),
                      hint="no boxes in, shape (0, 4) out (np.stack(..., axis=1) keeps the shape)."))
    return cases


_WEIGHTS_HINT = ("multiply each delta by its weight: dx = wx * (gx - ax) / aw, dy = wy * (gy - ay) / ah, "
                 "dw = ww * log(gw / aw), dh = wh * log(gh / ah).")


def _pair_boxes(rng, n):
    anchors = _random_boxes(rng, n, min_wh=5.0)
    jitter = rng.normal(0, 0.15, (n, 4)) * np.tile(anchors[:, 2:] - anchors[:, :2], 2)
    gt = anchors + np.round(jitter, 2)
    gt[:, 2:] = np.maximum(gt[:, 2:], gt[:, :2] + 1.0)
    return gt, anchors


def _encode_cases() -> list[Case]:
    rng = np.random.default_rng(8)
    gt, anchors = _pair_boxes(rng, 12)
    return [
        Case("a box equal to its anchor: all zeros", (_arr([[10, 20, 30, 60]]), _arr([[10, 20, 30, 60]])),
             hint="centre offsets 0 and log(1) = 0: the deltas of a box equal to its anchor are all 0."),
        Case("shifted box, wide anchor", (_arr([[15, 20, 35, 40]]), _arr([[10, 20, 50, 30]])),
             hint="centres, not corners (ax = x1 + 0.5 * w); dx is divided by the anchor's width and "
                  "dy by its height; sizes in log space."),
        Case("weights (1, 1, 1, 1) (the RPN's)", (gt, anchors), {"weights": (1.0, 1.0, 1.0, 1.0)},
             hint="use the weights argument: " + _WEIGHTS_HINT),
        Case("random boxes, default weights (10, 10, 5, 5)", (gt, anchors), hint=_WEIGHTS_HINT),
        Case("no boxes", (_empty_boxes(), _empty_boxes()), hint="no boxes in, shape (0, 4) out."),
    ]


_CLIP_HINT = ("clamp dw / ww and dh / wh at log(1000 / 16) before np.exp, as torchvision's BoxCoder "
              "(a box grows at most 62.5 times its anchor).")


def _decode_cases() -> list[Case]:
    rng = np.random.default_rng(9)
    _, anchors = _pair_boxes(rng, 12)
    deltas = np.round(rng.normal(0, 1, (12, 4)), 3)
    return [
        Case("zero deltas give back the anchors", (np.zeros((2, 4)), _arr([[10, 20, 30, 60], [0, 0, 5, 5]])),
             hint="decode the anchor's centre and size, then return corners: x1 = cx - 0.5 * w, x2 = cx + 0.5 * w."),
        Case("shift and scale, default weights (10, 10, 5, 5)", (_arr([[10.0, -5.0, 5.0 * math.log(2), 0.0]]),
                                                                 _arr([[10, 20, 50, 30]])),
             hint="divide each delta by its weight first: cx = ax + (dx / wx) * aw, w = aw * exp(dw / ww)."),
        Case("weights (1, 1, 1, 1) (the RPN's)", (deltas / 5, anchors), {"weights": (1.0, 1.0, 1.0, 1.0)},
             hint="use the weights argument, not fixed (10, 10, 5, 5)."),
        Case("random deltas, default weights", (deltas, anchors),
             hint="cx = ax + dx / wx * aw, cy = ay + dy / wy * ah, w = aw * exp(dw / ww), "
                  "h = ah * exp(dh / wh); return xyxy corners."),
        Case("huge size deltas are clipped", (_arr([[0.0, 0.0, 100.0, 50.0]]), _arr([[0, 0, 10, 10]])), hint=_CLIP_HINT),
        Case("no boxes", (_empty_boxes(), _empty_boxes()), hint="no boxes in, shape (0, 4) out."),
    ]


_YX_HINT = ("TF-Hub boxes are [ymin, xmin, ymax, xmax]; xyxy is [xmin, ymin, xmax, ymax]: "
            "reorder the columns, then scale x by the width and y by the height.")


def _pixels_cases() -> list[Case]:
    rng = np.random.default_rng(10)
    yx = np.sort(rng.uniform(0, 1, (10, 2, 2)), axis=1)  # (ymin, xmin) <= (ymax, xmax)
    random = np.round(np.concatenate([yx[:, 0], yx[:, 1]], axis=1), 4)
    return [
        Case("the whole image", (_arr([[0.0, 0.0, 1.0, 1.0]]), 300, 400),
             hint="[0, 0, 1, 1] is the whole image: [0, 0, width, height] in pixels."),
        Case("one box, square image", (_arr([[0.1, 0.2, 0.5, 0.9]]), 100, 100), hint=_YX_HINT),
        Case("one box, image 300 high and 400 wide", (_arr([[0.1, 0.2, 0.5, 0.9]]), 300, 400),
             hint="x is scaled by the width, y by the height (arguments: boxes, height, width)."),
        Case("no boxes", (_empty_boxes(), 300, 400), hint="no boxes in, shape (0, 4) out."),
        Case("random boxes, image 480 x 640", (random, 480, 640), hint=_YX_HINT),
    ]


#: Every name :func:`check` knows, with the signature the learner's function must have.
EXERCISES: dict[str, Exercise] = {
    "box_iou": Exercise("box_iou(a, b): (N, 4) x (M, 4) xyxy boxes -> (N, M) IoU",
                        "boxes.box_iou", "array", _box_iou_cases,
                        "iou[i, j] = area(a_i & b_j) / area(a_i | b_j), overlap clamped at 0, 0 where the union is 0."),
    "nms": Exercise("nms(boxes, scores, iou_threshold) -> kept indices, by descending score",
                    "nms.nms", "indices", _nms_cases,
                    "greedy: visit boxes by descending score (ties: lower index first); keep a box unless a "
                    "kept box overlaps it with IoU > iou_threshold."),
    "average_precision": Exercise("average_precision(recall, precision) -> VOC all-point AP (float)",
                                  "metrics.average_precision", "scalar", _ap_cases,
                                  "sentinels (0, 0) and (1, 0), precision envelope, rectangles where recall changes.",
                                  call=lambda ref, *a, **k: ref(*a, method="voc12", **k)),
    "sigmoid_focal_loss": Exercise("sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0) -> per-element loss",
                                   "losses.sigmoid_focal_loss", "array", _focal_cases,
                                   "alpha_t * (1 - p_t)**gamma * BCE-with-logits, computed stably, per element."),
    "smooth_l1": Exercise("smooth_l1(pred, target, beta=1.0) -> mean loss (float)",
                          "losses.smooth_l1", "scalar", _smooth_l1_cases, _BETA_HINT),
    "cross_entropy": Exercise("cross_entropy(logits, y) -> mean loss (float); logits (N, C), y (N,) integer labels",
                              "losses.cross_entropy", "scalar", _cross_entropy_cases,
                              "-log softmax(logits)[y] by log-sum-exp, averaged over samples."),
    "box_convert": Exercise("box_convert(boxes, in_fmt, out_fmt): (N, 4) between 'xyxy', 'xywh', 'cxcywh'",
                            "boxes.box_convert", "array", _box_convert_cases, "convert via xyxy."),
    "encode_boxes": Exercise("encode_boxes(gt, anchors, weights=(10., 10., 5., 5.)) -> (N, 4) deltas",
                             "boxes.encode_boxes", "array", _encode_cases, _WEIGHTS_HINT),
    "decode_boxes": Exercise("decode_boxes(deltas, anchors, weights=(10., 10., 5., 5.)) -> (N, 4) xyxy boxes",
                             "boxes.decode_boxes", "array", _decode_cases, _CLIP_HINT),
    "boxes_to_pixels": Exercise("boxes_to_pixels(boxes, height, width): normalised [ymin, xmin, ymax, xmax] "
                                "(N, 4) -> xyxy float pixels (N, 4)",
                                "tfhub.boxes_to_pixels", "array", _pixels_cases, _YX_HINT),
}


# notebook 06 (issue 23): generalized IoU, FCOS's centerness, DETR's matching cost -------------
_GIOU_HINT = ("giou = iou - (area(C) - union) / area(C), C the smallest box enclosing both: "
              "its corners are the min of the top-left and the max of the bottom-right corners.")


def _giou_cases() -> list[Case]:
    rng = np.random.default_rng(23)
    return [
        Case("one pair, partial overlap", (_arr([[0, 0, 2, 2]]), _arr([[1, 1, 3, 3]])), hint=_GIOU_HINT),
        Case("disjoint boxes: IoU 0, GIoU negative", (_arr([[0, 0, 2, 2]]), _arr([[3, 0, 5, 2], [10, 10, 12, 12]])),
             hint="for disjoint boxes the IoU is 0 but GIoU is not: -(area(C) - union) / area(C), lower "
                  "the farther apart they are (clamp the intersection at 0, not the enclosing box)."),
        Case("one box inside the other (C is the outer box)", (_arr([[0, 0, 4, 4]]), _arr([[1, 1, 2, 2]])),
             hint="when one box contains the other, C is the outer box = the union: GIoU equals IoU."),
        Case("degenerate boxes (zero area)", (_arr([[1, 1, 1, 3], [0, 0, 2, 2]]), _arr([[1, 1, 1, 3], [0, 0, 0, 0]])),
             hint="guard both divisions: IoU 0 where the union is 0, no penalty where area(C) is 0 "
                  "(np.divide(..., out=np.zeros_like(...), where=... > 0)): never NaN."),
        Case("no boxes in a (N = 0)", (_empty_boxes(), _arr([[0, 0, 1, 1]])), hint="return shape (0, M)."),
        Case("random boxes, N = 7, M = 11: every pair", (_random_boxes(rng, 7), _random_boxes(rng, 11)),
             hint="giou[i, j] compares a[i] with b[j]: broadcast a[:, None, :] against b[None, :, :]."),
    ]


def _centerness_cases() -> list[Case]:
    rng = np.random.default_rng(24)
    return [
        Case("the box's centre: 1", (_arr([[5, 3, 5, 3]]),),
             hint="at the centre l = r and t = b: both ratios are 1, so centerness 1."),
        Case("off centre", (_arr([[1, 2, 3, 6], [6, 1, 2, 1]]),),
             hint="sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)): min over the pair (l, r) and over "
                  "(t, b), not over all four distances."),
        Case("on the box's border: 0", (_arr([[0, 4, 4, 4]]),), hint="l = 0 makes min(l, r) = 0: centerness 0."),
        Case("a box of zero width (0 / 0)", (_arr([[0, 2, 0, 2], [0, 0, 0, 0]]),),
             hint="where max(l, r) or max(t, b) is 0 return 0, not NaN."),
        Case("no points", (_empty_boxes(),), hint="no points in, shape (0,) out."),
        Case("random distances (20 points)", (np.round(rng.uniform(0, 30, (20, 4)), 2),),
             hint="one value per row: reduce over the pairs (l, r) and (t, b) with axis=1."),
    ]


_COST_HINT = ("cost = cost_class * -softmax(logits)[:, target_labels] + cost_bbox * L1(cxcywh) "
              "+ cost_giou * -GIoU(xyxy): a (Q, T) matrix, query i against target j.")


def _detr_cost_cases() -> list[Case]:
    rng = np.random.default_rng(25)

    def boxes(n):
        return np.round(np.concatenate([rng.uniform(0.2, 0.8, (n, 2)), rng.uniform(0.05, 0.4, (n, 2))], 1), 3)

    logits = np.round(rng.normal(0, 2, (6, 4)), 3)
    pred, target = boxes(6), boxes(3)
    labels = np.asarray(rng.integers(0, 3, 3), dtype=np.int64)
    return [
        Case("one query, one target, the same box", (_arr([[2.0, 0.0, 0.0, 1.0]]), _arr([[0.5, 0.5, 0.2, 0.2]]),
                                                      np.asarray([0], dtype=np.int64), _arr([[0.5, 0.5, 0.2, 0.2]])),
             hint="same box: L1 0 and GIoU 1, so the cost is -p(class) - 2; p is the softmax over all "
                  "C + 1 columns, the last ('no object') included."),
        Case("class term only (cost_bbox = cost_giou = 0)", (logits, pred, labels, target),
             {"cost_class": 1.0, "cost_bbox": 0.0, "cost_giou": 0.0},
             hint="the class cost is minus the probability (not the log-probability) of each target's class: "
                  "-softmax(logits)[:, target_labels], shape (Q, T)."),
        Case("box terms only (cost_class = 0)", (logits, pred, labels, target),
             {"cost_class": 0.0, "cost_bbox": 5.0, "cost_giou": 2.0},
             hint="L1 on the cxcywh boxes (sum of the 4 absolute differences); GIoU on boxes converted to xyxy "
                  "(x1 = cx - w / 2): GIoU of cxcywh numbers taken as corners is wrong."),
        Case("no targets", (logits, pred, np.zeros(0, dtype=np.int64), np.zeros((0, 4))),
             hint="no targets: return shape (Q, 0)."),
        Case("random: 6 queries, 3 targets, DETR's weights (1, 5, 2)", (logits, pred, labels, target), hint=_COST_HINT),
    ]


EXERCISES.update({
    "generalized_box_iou": Exercise("generalized_box_iou(a, b): (N, 4) x (M, 4) xyxy boxes -> (N, M) GIoU",
                                    "boxes.generalized_box_iou", "array", _giou_cases, _GIOU_HINT),
    "centerness": Exercise("centerness(ltrb): (N, 4) distances (l, t, r, b) -> (N,) FCOS centerness",
                           "fcos.centerness", "array", _centerness_cases,
                           "sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)), 0 where a max is 0."),
    "detr_match_cost": Exercise("detr_match_cost(logits, boxes, target_labels, target_boxes, cost_class=1.0, "
                                "cost_bbox=5.0, cost_giou=2.0) -> (Q, T) cost; logits (Q, C + 1), boxes cxcywh",
                                "detr.match_cost", "array", _detr_cost_cases, _COST_HINT),
})


# --------------------------------------------------------------------------------------------
# running and comparing
# --------------------------------------------------------------------------------------------

class _Mismatch(Exception):
    """The learner's answer differs from the reference; ``args[0]`` says how."""


def _fmt(value, indent: str = "            ") -> str:
    """Short, readable text of a case's input or output."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return f"empty array of shape {value.shape}"
        with np.printoptions(precision=4, suppress=True, threshold=24, edgeitems=3, linewidth=90):
            text = np.array2string(value, separator=", ")
        text = text.replace("\n", "\n" + indent)
        return text if value.size <= 24 else f"{text}  (shape {value.shape})"
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value)


def _fmt_call(case: Case, names: list[str]) -> str:
    """The case's arguments, one per line, named as the reference's parameters."""
    parts = [f"{n} = {_fmt(a, ' ' * (14 + len(n)))}" for n, a in zip(names, case.args, strict=False)]
    parts += [f"{k} = {v!r}" for k, v in case.kwargs.items()]
    return "\n            ".join(parts)


_EXPECTED = {"scalar": "one number (a float)", "indices": "an array (or list) of integer indices",
             "array": "a NumPy array"}


def _odd_type(kind: str, received) -> str | None:
    """What is wrong with an answer of a type no comparison can read, else None."""
    what = type(received).__name__
    if isinstance(received, (str, bytes)):
        return f"expected {_EXPECTED[kind]}, received a {what} ({received[:40]!r}): return the value, not its text"
    if isinstance(received, dict):
        return f"expected {_EXPECTED[kind]}, received a dict with keys {list(received)[:5]}"
    if isinstance(received, (set, frozenset)):
        return f"expected {_EXPECTED[kind]}, received a {what}: a set has no order (and drops repeated values)"
    if isinstance(received, Iterator):  # a generator, map, filter, zip, iter(...)
        return (f"expected {_EXPECTED[kind]}, received a {what} (a lazy sequence): wrap it, e.g. "
                "np.array(list(...)), or use a list comprehension")
    if isinstance(received, tuple) and kind != "indices":
        try:
            np.asarray(received, dtype=float)
            several = kind == "scalar" and len(received) != 1
        except (TypeError, ValueError):
            several = True
        if several:
            return (f"expected {_EXPECTED[kind]}, received a tuple of {len(received)} items "
                    f"({', '.join(type(v).__name__ for v in received[:4])}): return one value, not several")
    return None


def _float_dtype(received):
    """The floating dtype an answer was computed in (None for Python floats and non-float answers)."""
    dtype = getattr(received, "dtype", None)
    if dtype is None and isinstance(received, (list, tuple)) and received:
        dtype = getattr(received[0], "dtype", None)
    if dtype is not None and np.issubdtype(dtype, np.floating):
        return np.dtype(dtype)
    return None


def _tolerance(received, expected) -> tuple[float, float]:
    """(rtol, atol) for an answer: the float64 ones, or the float32 ones for lower precision."""
    dtype = _float_dtype(received)
    if dtype is None or np.finfo(dtype).eps <= np.finfo(np.float64).eps:
        return RTOL, ATOL
    e = np.abs(np.asarray(expected, dtype=float))
    e = e[np.isfinite(e)]
    scale = max(1.0, float(e.max())) if e.size else 1.0
    return FLOAT32_RTOL, max(ATOL, FLOAT32_ATOL * scale)


def _compare(kind: str, expected, received) -> None:
    """Raise :class:`_Mismatch` saying how ``received`` differs from ``expected``."""
    if received is None:
        raise _Mismatch("your function returned None: did you forget `return`?")
    odd = _odd_type(kind, received)
    if odd:
        raise _Mismatch(odd)
    try:
        _compare_values(kind, expected, received)
    except (TypeError, ValueError, OverflowError) as err:  # an object NumPy cannot read as numbers
        raise _Mismatch(f"expected {_EXPECTED[kind]}, received a {type(received).__name__} that is not one "
                        f"({type(err).__name__}: {err})") from None


def _compare_values(kind: str, expected, received) -> None:
    rtol, atol = _tolerance(received, expected)
    if kind == "scalar":
        r = np.asarray(received, dtype=float)
        if r.size != 1:
            raise _Mismatch(f"expected one number, received an array of shape {r.shape}: average over "
                            "every element (the mean reduction)")
        r = float(r.reshape(()))
        if math.isnan(expected) and math.isnan(r):
            return
        if not math.isclose(r, expected, rel_tol=rtol, abs_tol=atol):
            raise _Mismatch("")
        return
    if kind == "indices":
        r = np.asarray(received).reshape(-1)
        if r.size and not (np.issubdtype(r.dtype, np.integer) or np.issubdtype(r.dtype, np.floating)):
            raise _Mismatch(f"expected integer indices into boxes, received values of type {r.dtype}")
        if r.size and not np.issubdtype(r.dtype, np.integer):
            if not np.all(np.equal(np.mod(r.astype(float), 1), 0)):
                raise _Mismatch("expected integer indices into boxes")
        if r.astype(np.int64).tolist() != np.asarray(expected).tolist():
            raise _Mismatch("")
        return
    r = np.asarray(received, dtype=float)
    e = np.asarray(expected, dtype=float)
    if r.shape != e.shape:
        raise _Mismatch(f"expected shape {e.shape}, received shape {r.shape}")
    close = np.isclose(r, e, rtol=rtol, atol=atol)
    if not close.all():
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        raise _Mismatch(f"first difference at index {where}: expected {e[where]:.10g}, received {r[where]:.10g}")


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _user_line(exc: BaseException) -> str:
    """Where in the learner's code ``exc`` was raised: ``line N: code`` (no file path)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    user = [f for f in frames if "site-packages" not in f.filename and "/numpy/" not in f.filename]
    frame = (user or frames or [None])[-1]
    if frame is None:
        return ""
    return f" (at line {frame.lineno} of {frame.name}: {frame.line})" if frame.line else f" (in {frame.name})"


def _fail(name: str, i: int, n: int, case: Case, names: list[str], expected, received: str, how: str,
          hint: str) -> AssertionError:
    lines = [f"{name}: case {i} of {n} failed: {case.label}",
             f"  inputs:   {_fmt_call(case, names)}",
             f"  expected: {_fmt(expected)}",
             f"  received: {received}"]
    if how:
        lines.append(f"  problem:  {how}")
    if hint:
        lines.append(f"  hint:     {hint}")
    return AssertionError("\n".join(lines))


def check(name: str, fn: Callable[..., Any], time_limit: float = TIME_LIMIT) -> bool:
    """Check a learner's implementation of ``name`` against the ``helpers`` reference.

    Parameters
    ----------
    name : str
        One of :data:`EXERCISES`: ``"box_iou"``, ``"nms"``, ``"average_precision"``,
        ``"sigmoid_focal_loss"``, ``"smooth_l1"``, ``"cross_entropy"``, ``"box_convert"``,
        ``"encode_boxes"``, ``"decode_boxes"``, ``"boxes_to_pixels"``.
    fn : callable
        The learner's function, with the signature ``EXERCISES[name].signature`` gives.
    time_limit : float
        Seconds one call of ``fn`` may take (default :data:`TIME_LIMIT`); a call that takes
        longer fails its case ("did not return within ... s: an endless loop?").

    Returns
    -------
    bool
        True (after printing one success line) when ``fn`` agrees with the reference on every
        case; False (after printing ``"<name>: not attempted yet"``) when ``fn`` raises
        ``NotImplementedError``.

    Raises
    ------
    AssertionError
        On the first case where ``fn`` disagrees, raises, returns something of the wrong kind or
        does not return in time: the message gives the case's inputs, the expected and the
        received value, and a hint.
    ValueError, TypeError
        On an unknown ``name``, an ``fn`` that is not callable or a ``time_limit`` that is not a
        positive number.
    """
    __tracebackhide__ = True  # noqa: F841 (pytest hides this frame)
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; choose one of {sorted(EXERCISES)}")
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not 0 < time_limit < math.inf:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    with np.errstate(all="ignore"), warnings.catch_warnings():  # the learner's np.seterr(all="raise") stays out
        warnings.simplefilter("ignore")
        verdict = _run_cases(name, fn, float(time_limit))
    if isinstance(verdict, AssertionError):
        raise verdict from None  # the message says which case failed, what was expected, and a hint
    return verdict


class _Stop(BaseException):
    """Raised inside a learner's function that ran out of time (not an Exception: `except Exception`
    in the learner's code does not catch it)."""


def _stop_thread(thread: threading.Thread, wait: float = 1.0) -> bool:
    """Ask ``thread`` to stop (an asynchronous :class:`_Stop`); True when it has stopped."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Stop))
    thread.join(wait)
    return not thread.is_alive()


def _call_with_time_limit(fn, args, kwargs, time_limit: float):
    """``fn(*args, **kwargs)`` in a daemon thread: ("ok", value), ("raised", exc) or ("timeout", stopped)."""
    box = {}

    def run():
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # overflow in a naive exp is the learner's to see in the values
                box["value"] = fn(*args, **kwargs)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 (the learner's bug, reported as a failed case)
            box["error"] = exc

    thread = threading.Thread(target=run, name="exercise-check", daemon=True)
    thread.start()
    try:
        thread.join(time_limit)
    except KeyboardInterrupt:  # the learner interrupted the cell: stop their function too
        _stop_thread(thread)
        raise
    if thread.is_alive():
        return "timeout", _stop_thread(thread)
    if "error" in box:
        return "raised", box["error"]
    return "ok", box.get("value")


def _run_cases(name: str, fn: Callable[..., Any], time_limit: float = TIME_LIMIT) -> bool | AssertionError:
    """Run ``fn`` on every case of ``name``: True, False (not attempted), or the failure to raise."""
    ex = EXERCISES[name]
    reference = ex.reference_fn()
    cases = ex.cases()
    names = list(inspect.signature(reference).parameters)
    for i, case in enumerate(cases, 1):
        ref_args = tuple(_copy(a) for a in case.args)
        expected = (ex.call(reference, *ref_args, **case.kwargs) if ex.call
                    else reference(*ref_args, **case.kwargs))
        hint = case.hint or ex.hint
        status, received = _call_with_time_limit(fn, tuple(_copy(a) for a in case.args), case.kwargs, time_limit)
        if status == "timeout":
            state = ("it was stopped" if received else
                     "it is still running in the background: restart the kernel if the notebook slows down")
            return _fail(name, i, len(cases), case, names, expected, "nothing",
                         f"your function did not return within {time_limit:g} s on case {i}: an endless loop? "
                         f"({state}). A loop must shrink what it loops over, e.g. NMS's `order`, every pass.",
                         hint)
        if status == "raised":
            exc = received
            if isinstance(exc, NotImplementedError):
                if i == 1:
                    print(f"{name}: not attempted yet")
                else:
                    print(f"{name}: not finished yet (case {i} of {len(cases)}, {case.label}, raised "
                          "NotImplementedError)")
                return False
            if isinstance(exc, TypeError) and case.kwargs and "argument" in str(exc):
                hint = f"your function must accept {', '.join(case.kwargs)} as keyword argument(s): {ex.signature}"
            return _fail(name, i, len(cases), case, names, expected,
                         f"your function raised {type(exc).__name__}: {exc}{_user_line(exc)}", "", hint)
        try:
            _compare(ex.kind, expected, received)
        except _Mismatch as m:
            return _fail(name, i, len(cases), case, names, expected, _fmt(_shown(received)), str(m), hint)
    print(f"{name}: correct, all {len(cases)} cases agree with helpers.{ex.reference}.")
    return True


def _shown(received):
    """An answer as the failure message shows it (arrays for lists of numbers, else as it is)."""
    if isinstance(received, (list, tuple)):
        try:
            return np.asarray(received)
        except (TypeError, ValueError):  # ragged
            return received
    return received
