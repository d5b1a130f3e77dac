"""helpers.exercises.check: passes the references and textbook solutions, rejects typical mistakes.

Each wrong solution below is a mistake learners make (and the case/hint meant to catch it is
asserted): a checker that let it through would tell a learner a wrong answer is right.
"""

import math
import subprocess
import sys

import numpy as np
import pytest

from helpers import boxes as hb
from helpers import losses as hl
from helpers import metrics as hm
from helpers import nms as hn
from helpers import tfhub as ht
from helpers.exercises import EXERCISES, check

REFERENCES = {
    "box_iou": hb.box_iou,
    "nms": hn.nms,
    "average_precision": hm.average_precision,
    "sigmoid_focal_loss": hl.sigmoid_focal_loss,
    "smooth_l1": hl.smooth_l1,
    "cross_entropy": hl.cross_entropy,
    "box_convert": hb.box_convert,
    "encode_boxes": hb.encode_boxes,
    "decode_boxes": hb.decode_boxes,
    "boxes_to_pixels": ht.boxes_to_pixels,
}

# notebook 06 (issue 23): its exercises' references (their own tests: tests/test_exercises_06.py)
from helpers import detr as _hd  # noqa: E402
from helpers import fcos as _hf  # noqa: E402

REFERENCES.update(generalized_box_iou=hb.generalized_box_iou, centerness=_hf.centerness, detr_match_cost=_hd.match_cost)


def rejects(name, fn, case=None, hint=None):
    """check(name, fn) raises an AssertionError; return its message (checked for case and hint)."""
    with pytest.raises(AssertionError) as info:
        check(name, fn)
    msg = str(info.value)
    assert msg.startswith(f"{name}: case "), msg
    for part in ("inputs:", "expected:", "received:"):
        assert part in msg, msg
    if case is not None:
        assert case in msg.splitlines()[0], msg
    if hint is not None:
        assert hint in msg, msg
    return msg


# ------------------------------------------------------------------ the references pass


def test_every_name_has_a_reference_and_they_all_pass(capsys):
    assert set(EXERCISES) == set(REFERENCES)
    for name, ref in REFERENCES.items():
        assert check(name, ref) is True
        out = capsys.readouterr().out.strip().splitlines()
        assert out == [f"{name}: correct, all {len(EXERCISES[name].cases())} cases agree with "
                       f"helpers.{EXERCISES[name].reference}."]


def test_each_exercise_has_edge_cases_and_hints():
    for name, ex in EXERCISES.items():
        cases = ex.cases()
        assert len(cases) >= 5, name
        assert all(c.hint or ex.hint for c in cases), name
        assert len({c.label for c in cases}) == len(cases), name
        assert ex.cases()[-1].args[0].tolist() == cases[-1].args[0].tolist(), "cases must be fixed (seeded)"


# ------------------------------------------------------------------ stubs, errors, bad use


def stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_untouched_stub_is_not_attempted(name, capsys):
    assert check(name, stub) is False
    assert capsys.readouterr().out == f"{name}: not attempted yet\n"


def test_partly_done_is_not_finished(capsys):
    def half(boxes, in_fmt, out_fmt):
        if in_fmt == "xyxy" and out_fmt == "xywh":
            return hb.box_convert(boxes, in_fmt, out_fmt)
        raise NotImplementedError

    assert check("box_convert", half) is False
    assert capsys.readouterr().out.startswith("box_convert: not finished yet (case 2 of")


def test_exception_inside_fn_is_reported_as_a_failed_case():
    def buggy(a, b):
        inter = np.zeros((len(a), len(b)))
        return inter / undefined_name  # noqa: F821

    msg = rejects("box_iou", buggy, case="case 1 of")
    assert "your function raised NameError: name 'undefined_name' is not defined" in msg
    assert "return inter / undefined_name" in msg  # the learner's own line
    assert "exercises.py" not in msg and "Traceback" not in msg


def test_exception_is_not_chained_to_a_helpers_traceback():
    with pytest.raises(AssertionError) as info:
        check("nms", lambda boxes, scores, iou_threshold: 1 / 0)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_keyword_argument_is_explained():
    def no_alpha(logits, targets):
        return hl.sigmoid_focal_loss(logits, targets)

    rejects("sigmoid_focal_loss", no_alpha, case="gamma = 0", hint="must accept alpha, gamma as keyword")


def test_returning_none_is_explained():
    rejects("smooth_l1", lambda pred, target, beta=1.0: None, case="case 1", hint="forget `return`")


def test_unknown_name_and_not_callable():
    with pytest.raises(ValueError, match="unknown exercise 'iou'.*box_iou"):
        check("iou", hb.box_iou)
    with pytest.raises(TypeError, match="fn must be a function"):
        check("box_iou", 3)


def test_inputs_are_copies():
    def mutating(a, b):
        out = hb.box_iou(a, b)
        a[:] = -1.0  # a careless in-place edit must not change the expected values
        return out

    assert check("box_iou", mutating) is True


def test_import_imports_no_framework():
    code = ("import sys, helpers.exercises as e; e.check('boxes_to_pixels', e.EXERCISES['boxes_to_pixels']"
            ".reference_fn()); print(sorted({'torch', 'tensorflow', 'torchvision'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------ box_iou


def iou_textbook(a, b):
    """A loop, as a learner writes it first: correct, so it must pass."""
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = w * h / union if union > 0 else 0.0
    return out


def _iou(a, b, clamp=True, guard=True, subtract=True):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None) if clamp else rb - lt
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - (inter if subtract else 0)
    if guard:
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return inter / union


def test_box_iou_textbook_passes():
    assert check("box_iou", iou_textbook)


def test_box_iou_rejects_typical_mistakes():
    rejects("box_iou", lambda a, b: _iou(a, b, clamp=False), case="negative overlap width", hint="clamp")
    rejects("box_iou", lambda a, b: _iou(a, b, guard=False), case="degenerate boxes", hint="not 0/0 = NaN")
    rejects("box_iou", lambda a, b: _iou(a, b, subtract=False), case="partial overlap", hint="subtract it once")
    rejects("box_iou", lambda a, b: _iou(b, a).T if len(a) and len(b) else _iou(b, a),
            case="no boxes in a", hint="shape (0, M)")

    def diagonal(a, b):  # box i with box i only
        n = min(len(a), len(b))
        return np.diag(_iou(a[:n], b[:n])) if n else np.zeros(0)

    rejects("box_iou", diagonal, case="case 1", hint="expected shape")


# ------------------------------------------------------------------ nms


def nms_textbook(boxes, scores, iou_threshold, strict=True, stable=True, only_kept=True):
    order = list(np.argsort(-scores, kind="stable") if stable else np.argsort(scores)[::-1])
    keep, removed = [], set()
    for pos, i in enumerate(order):
        if i in removed:
            continue
        keep.append(int(i))
        for j in order[pos + 1:]:
            iou = _iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0]
            if (iou > iou_threshold) if strict else (iou >= iou_threshold):
                removed.add(j)
    if not only_kept:  # suppress by any higher-scoring box, kept or not
        keep = [int(i) for k, i in enumerate(order)
                if not any(_iou(boxes[h:h + 1], boxes[i:i + 1])[0, 0] > iou_threshold for h in order[:k])]
    return np.array(keep, dtype=int)


def test_nms_textbook_passes():
    assert check("nms", nms_textbook)
    assert check("nms", lambda b, s, t: nms_textbook(b, s, t).tolist())  # a list is fine too


def test_nms_rejects_typical_mistakes():
    rejects("nms", lambda b, s, t: nms_textbook(b, s, t, strict=False), case="equal to the threshold",
            hint="strictly greater")
    rejects("nms", lambda b, s, t: nms_textbook(b, s, t, stable=False), case="tied scores", hint="lower index first")
    rejects("nms", lambda b, s, t: nms_textbook(b, s, t, only_kept=False), case="a chain", hint="only a box you KEEP")
    rejects("nms", lambda b, s, t: np.sort(nms_textbook(b, s, t)), case="scores not sorted", hint="descending score")
    rejects("nms", lambda b, s, t: nms_textbook(b, s, 0.5), case="threshold 0.3", hint="iou_threshold argument")

    def sorted_positions(b, s, t):  # positions in the sorted order instead of original indices
        order = np.argsort(-s, kind="stable")
        kept = nms_textbook(b[order], s[order], t)
        return kept

    rejects("nms", sorted_positions, case="case 1")


# ------------------------------------------------------------------ average_precision


def ap_textbook(recall, precision, envelope=True, sentinel=True):
    mrec = np.concatenate(([0.0], recall, [1.0])) if sentinel else np.concatenate((recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0])) if sentinel else np.concatenate((precision, [0.0]))
    if envelope:
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def test_average_precision_textbook_passes():
    assert check("average_precision", ap_textbook)


def test_average_precision_rejects_typical_mistakes():
    rejects("average_precision", lambda r, p: ap_textbook(r, p, envelope=False), case="needs the envelope",
            hint="precision envelope")
    rejects("average_precision", lambda r, p: ap_textbook(r, p, sentinel=False), case="does not start at 0",
            hint="prepend recall 0")
    rejects("average_precision", lambda r, p: float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2)),
            case="case 1")  # trapezoids between the points

    def voc07(r, p):
        return hm.average_precision(r, p, method="voc07")

    rejects("average_precision", voc07, case="recall does not start at 0")


# ------------------------------------------------------------------ sigmoid_focal_loss


def focal_torchvision_style(logits, targets, alpha=0.25, gamma=2.0, alpha_t=True, stable=True, use_pt=True):
    """torchvision's formula in NumPy (p from a plain sigmoid, CE from the stable BCE)."""
    p = 1.0 / (1.0 + np.exp(-logits))
    if stable:
        ce = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    else:
        ce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    p_t = p * targets + (1 - p) * (1 - targets) if use_pt else p
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss if alpha_t else alpha * loss
    return loss


def test_sigmoid_focal_loss_torchvision_formula_passes():
    assert check("sigmoid_focal_loss", focal_torchvision_style)


def test_sigmoid_focal_loss_rejects_typical_mistakes():
    rejects("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: focal_torchvision_style(x, t, alpha, gamma, alpha_t=False),
            case="case 1", hint="alpha_t = alpha for targets 1")
    rejects("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: focal_torchvision_style(x, t, alpha, gamma, stable=False),
            case="extreme logits", hint="stably")
    rejects("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: focal_torchvision_style(x, t, alpha, gamma, use_pt=False),
            case="case 1")
    rejects("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: focal_torchvision_style(x, t).mean(),
            case="case 1", hint="expected shape (2,), received shape ()")
    rejects("sigmoid_focal_loss", lambda x, t, alpha=0.25, gamma=2.0: focal_torchvision_style(x, t),
            case="gamma = 0", hint="use the gamma and alpha arguments")


# ------------------------------------------------------------------ smooth_l1


def smooth_l1_textbook(pred, target, beta=1.0, scale_quadratic=True, scale_linear=True, axis=None):
    x = np.abs(pred - target)
    if beta == 0:
        return float(np.mean(x))
    quad = 0.5 * x**2 / beta if scale_quadratic else 0.5 * x**2
    lin = x - 0.5 * beta if scale_linear else x - 0.5
    return np.mean(np.where(x < beta, quad, lin), axis=axis)


def test_smooth_l1_textbook_passes():
    assert check("smooth_l1", smooth_l1_textbook)


def test_smooth_l1_rejects_typical_mistakes():
    rejects("smooth_l1", lambda p, t, beta=1.0: smooth_l1_textbook(p, t, beta, scale_quadratic=False),
            case="beta = 0.5", hint="both parts use beta")
    rejects("smooth_l1", lambda p, t, beta=1.0: smooth_l1_textbook(p, t, beta, scale_linear=False),
            case="beta = 0.5", hint="both parts use beta")
    rejects("smooth_l1", lambda p, t, beta=1.0: smooth_l1_textbook(p, t, beta, axis=0),
            case="(8, 4) box deltas", hint="expected one number")
    rejects("smooth_l1", lambda p, t, beta=1.0: float(np.sum(hl.smooth_l1(p, t, beta, reduction="none"))),
            case="small residuals")

    def huber(p, t, beta=1.0):  # Huber's linear part has slope beta, smooth L1's has slope 1
        x = np.abs(p - t)
        return float(np.mean(np.where(x <= beta, 0.5 * x**2, beta * (x - 0.5 * beta))))

    rejects("smooth_l1", huber, case="beta = 0.5", hint="both parts use beta")


# ------------------------------------------------------------------ cross_entropy


def ce_textbook(logits, y, shift=True, log=np.log, axis_mean=None):
    z = logits - logits.max(axis=1, keepdims=True) if shift else logits
    logp = z - log(np.exp(z).sum(axis=1, keepdims=True))
    if log is not np.log:
        logp = np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)) / np.log(2)
    picked = -logp[np.arange(len(y)), y.astype(int)]
    return float(picked.mean()) if axis_mean is None else (-logp).mean(axis=axis_mean)


def test_cross_entropy_textbook_passes():
    assert check("cross_entropy", ce_textbook)


def test_cross_entropy_rejects_typical_mistakes():
    rejects("cross_entropy", lambda z, y: ce_textbook(z, y, shift=False), case="extreme logits", hint="maximum")
    rejects("cross_entropy", lambda z, y: ce_textbook(z, y, log=np.log2), case="case 1")
    rejects("cross_entropy", lambda z, y: ce_textbook(z, y, axis_mean=0), case="case 1", hint="expected one number")
    rejects("cross_entropy", lambda z, y: float((-hl.log_softmax(z) * np.eye(z.shape[1])[y.astype(int)]).mean()),
            case="case 1")  # one mean over N * C entries


# ------------------------------------------------------------------ box_convert


def convert_textbook(boxes, in_fmt, out_fmt, half=True, corner_xywh=True):
    b = boxes.astype(float)
    k = 0.5 if half else 1.0
    if in_fmt == "xywh":
        b = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], 1) if corner_xywh else \
            np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)
    elif in_fmt == "cxcywh":
        b = np.stack([b[:, 0] - k * b[:, 2], b[:, 1] - k * b[:, 3], b[:, 0] + k * b[:, 2], b[:, 1] + k * b[:, 3]], 1)
    x1, y1, x2, y2 = b.T
    if out_fmt == "xyxy":
        return b
    if out_fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], 1) if corner_xywh else \
            np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)


def test_box_convert_textbook_passes():
    assert check("box_convert", convert_textbook)


def test_box_convert_rejects_typical_mistakes():
    rejects("box_convert", lambda b, i, o: convert_textbook(b, i, o, half=False), case="cxcywh -> xyxy",
            hint="half the width")
    rejects("box_convert", lambda b, i, o: convert_textbook(b, i, o, corner_xywh=False), case="xyxy -> xywh",
            hint="top-left corner")
    rejects("box_convert", lambda b, i, o: np.array([convert_textbook(r[None], i, o)[0] for r in b]),
            case="no boxes", hint="shape (0, 4)")
    rejects("box_convert", lambda b, i, o: b, case="xyxy -> xywh")


# ------------------------------------------------------------------ encode / decode


def _centres(b):
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h


def encode_textbook(gt, anchors, weights=(10.0, 10.0, 5.0, 5.0), use_weights=True, corners=False, same_norm=False):
    wx, wy, ww, wh = weights if use_weights else (1.0, 1.0, 1.0, 1.0)
    ax, ay, aw, ah = _centres(anchors)
    gx, gy, gw, gh = _centres(gt)
    if corners:
        ax, ay, gx, gy = anchors[:, 0], anchors[:, 1], gt[:, 0], gt[:, 1]
    norm_y = aw if same_norm else ah
    return np.stack([wx * (gx - ax) / aw, wy * (gy - ay) / norm_y, ww * np.log(gw / aw), wh * np.log(gh / ah)], 1)


def test_encode_boxes_textbook_passes():
    assert check("encode_boxes", encode_textbook)


def test_encode_boxes_rejects_typical_mistakes():
    rejects("encode_boxes", lambda g, a, weights=(10.0, 10.0, 5.0, 5.0): encode_textbook(g, a, weights, use_weights=False),
            case="shifted box")
    rejects("encode_boxes", lambda g, a, weights=(10.0, 10.0, 5.0, 5.0): encode_textbook(g, a, weights, corners=True),
            case="shifted box", hint="centres, not corners")
    rejects("encode_boxes", lambda g, a, weights=(10.0, 10.0, 5.0, 5.0): encode_textbook(g, a, weights, same_norm=True),
            case="shifted box", hint="dy by its height")
    rejects("encode_boxes", lambda g, a: encode_textbook(g, a), case="weights (1, 1, 1, 1)", hint="keyword")


def decode_textbook(deltas, anchors, weights=(10.0, 10.0, 5.0, 5.0), clip=True, divide=True, as_corners=True):
    wx, wy, ww, wh = weights if divide else (1.0, 1.0, 1.0, 1.0)
    ax, ay, aw, ah = _centres(anchors)
    dw, dh = deltas[:, 2] / ww, deltas[:, 3] / wh
    if clip:
        dw, dh = np.minimum(dw, math.log(1000 / 16)), np.minimum(dh, math.log(1000 / 16))
    cx, cy = ax + deltas[:, 0] / wx * aw, ay + deltas[:, 1] / wy * ah
    w, h = aw * np.exp(dw), ah * np.exp(dh)
    if not as_corners:
        return np.stack([cx, cy, w, h], 1)
    return np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], 1)


def test_decode_boxes_textbook_passes():
    assert check("decode_boxes", decode_textbook)


def test_decode_boxes_rejects_typical_mistakes():
    W = (10.0, 10.0, 5.0, 5.0)
    rejects("decode_boxes", lambda d, a, weights=W: decode_textbook(d, a, weights, clip=False), case="clipped",
            hint="log(1000 / 16)")
    rejects("decode_boxes", lambda d, a, weights=W: decode_textbook(d, a, weights, divide=False), case="shift and scale",
            hint="divide each delta by its weight")
    rejects("decode_boxes", lambda d, a, weights=W: decode_textbook(d, a, weights, as_corners=False),
            case="zero deltas", hint="return corners")
    rejects("decode_boxes", lambda d, a, weights=W: decode_textbook(d, a), case="weights (1, 1, 1, 1)",
            hint="weights argument")


# ------------------------------------------------------------------ boxes_to_pixels


def pixels_textbook(boxes, height, width, reorder=True, swap_hw=False):
    ymin, xmin, ymax, xmax = boxes.T if reorder else boxes[:, [1, 0, 3, 2]].T
    if swap_hw:
        height, width = width, height
    return np.stack([xmin * width, ymin * height, xmax * width, ymax * height], 1)


def test_boxes_to_pixels_textbook_passes():
    assert check("boxes_to_pixels", pixels_textbook)


def test_boxes_to_pixels_rejects_typical_mistakes():
    rejects("boxes_to_pixels", lambda b, h, w: pixels_textbook(b, h, w, reorder=False), case="square image",
            hint="[ymin, xmin, ymax, xmax]")
    rejects("boxes_to_pixels", lambda b, h, w: pixels_textbook(b, h, w, swap_hw=True), case="the whole image")
    rejects("boxes_to_pixels", lambda b, h, w: np.round(pixels_textbook(b, h, w)).astype(int), case="random boxes")
    rejects("boxes_to_pixels", lambda b, h, w: b * np.array([h, w, h, w]), case="the whole image")
