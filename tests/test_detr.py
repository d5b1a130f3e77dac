"""helpers.detr: the matching cost against DETR's HungarianMatcher written in torch, the matching
against a brute-force optimum over all assignments, the set loss against DETR's SetCriterion terms."""

import itertools

import numpy as np
import pytest

from helpers import detr

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torchvision.ops import box_convert, generalized_box_iou  # noqa: E402


def random_case(rng, q, t, c=3):
    logits = rng.normal(0, 2, (q, c + 1))
    boxes = np.concatenate([rng.uniform(0.2, 0.8, (q, 2)), rng.uniform(0.05, 0.4, (q, 2))], 1)
    labels = rng.integers(0, c, t)
    targets = np.concatenate([rng.uniform(0.2, 0.8, (t, 2)), rng.uniform(0.05, 0.4, (t, 2))], 1)
    return logits, boxes, labels, targets


def detr_cost_torch(logits, boxes, labels, targets, wc=1.0, wb=5.0, wg=2.0):
    """DETR's HungarianMatcher.forward (models/matcher.py) for one image."""
    out_prob = torch.from_numpy(logits).softmax(-1)
    out_bbox, tgt_bbox = torch.from_numpy(boxes), torch.from_numpy(targets)
    cost_class = -out_prob[:, torch.from_numpy(labels)]
    cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)
    cost_giou = -generalized_box_iou(box_convert(out_bbox, "cxcywh", "xyxy"), box_convert(tgt_bbox, "cxcywh", "xyxy"))
    return (wb * cost_bbox + wc * cost_class + wg * cost_giou).numpy()


def brute_force(cost):
    q, t = cost.shape
    best = min(itertools.permutations(range(q), t), key=lambda rows: cost[list(rows), range(t)].sum())
    return cost[list(best), range(t)].sum()


@pytest.mark.parametrize("seed", range(5))
def test_match_cost_equals_detr_matcher(seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, 9, 4)
    np.testing.assert_allclose(detr.match_cost(*case), detr_cost_torch(*case), rtol=1e-12, atol=1e-12)
    weights = dict(cost_class=2.0, cost_bbox=1.0, cost_giou=0.0)
    np.testing.assert_allclose(detr.match_cost(*case, **weights), detr_cost_torch(*case, 2.0, 1.0, 0.0), rtol=1e-12)


@pytest.mark.parametrize("q,t", [(1, 1), (3, 3), (5, 2), (6, 4), (7, 7), (7, 1)])
@pytest.mark.parametrize("seed", range(3))
def test_hungarian_match_is_the_brute_force_optimum(q, t, seed):
    rng = np.random.default_rng(seed * 10 + q)
    case = random_case(rng, q, t)
    qi, ti = detr.hungarian_match(*case)
    cost = detr.match_cost(*case)
    assert len(qi) == len(ti) == t and len(set(qi.tolist())) == t and sorted(ti.tolist()) == list(range(t))
    assert list(qi) == sorted(qi)
    assert cost[qi, ti].sum() == pytest.approx(brute_force(cost), abs=1e-12)


def test_hungarian_match_ties_and_zero_targets():
    rng = np.random.default_rng(0)
    logits, boxes, labels, targets = random_case(rng, 4, 2)
    logits[:] = logits[0]
    boxes[:] = boxes[0]  # four identical queries: every assignment costs the same
    qi, ti = detr.hungarian_match(logits, boxes, labels, targets)
    cost = detr.match_cost(logits, boxes, labels, targets)
    assert len(set(qi.tolist())) == 2 and cost[qi, ti].sum() == pytest.approx(brute_force(cost), abs=1e-12)
    targets[1] = targets[0]
    labels[1] = labels[0]  # two identical targets too
    qi, ti = detr.hungarian_match(logits, boxes, labels, targets)
    assert sorted(ti.tolist()) == [0, 1] and len(set(qi.tolist())) == 2
    qi, ti = detr.hungarian_match(logits, boxes, np.zeros(0, int), np.zeros((0, 4)))
    assert qi.shape == ti.shape == (0,) and qi.dtype == np.int64
    assert detr.match_cost(logits, boxes, [], []).shape == (4, 0)


def test_hungarian_match_prefers_the_right_class_and_box():
    logits = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 0, 5.0]])
    boxes = np.array([[0.2, 0.2, 0.1, 0.1], [0.7, 0.7, 0.2, 0.2], [0.5, 0.5, 0.3, 0.3]])
    qi, ti = detr.hungarian_match(logits, boxes, [1, 0], [[0.7, 0.7, 0.2, 0.2], [0.2, 0.2, 0.1, 0.1]])
    assert dict(zip(qi.tolist(), ti.tolist(), strict=True)) == {0: 1, 1: 0}


def test_bad_inputs_raise_clear_errors():
    logits, boxes, labels, targets = random_case(np.random.default_rng(1), 3, 2)
    with pytest.raises(ValueError, match="only 3 queries"):
        detr.hungarian_match(logits, boxes, [0, 1, 2, 0], np.tile(targets[:1], (4, 1)))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        detr.hungarian_match(logits, boxes, [0, 3], targets)  # 3 is the no-object column
    with pytest.raises(ValueError, match=r"target_labels must have shape"):
        detr.hungarian_match(logits, boxes, [0], targets)
    with pytest.raises(ValueError, match=r"boxes must have shape \(Q, 4\)"):
        detr.hungarian_match(logits, boxes[:2], labels, targets)
    with pytest.raises(ValueError, match=r"logits must have shape"):
        detr.hungarian_match(logits[:, :1], boxes, labels, targets)
    with pytest.raises(ValueError, match="NaN"):
        detr.hungarian_match(np.full_like(logits, np.nan), boxes, labels, targets)
    with pytest.raises(ValueError, match="cost_giou"):
        detr.hungarian_match(logits, boxes, labels, targets, cost_giou=-1.0)


def detr_set_loss_torch(logits, boxes, labels, targets, qi, ti, eos=0.1):
    """DETR's SetCriterion loss_labels / loss_boxes (models/detr.py) for one image."""
    lg = torch.from_numpy(logits)
    c = lg.shape[1] - 1
    weight = torch.ones(c + 1, dtype=lg.dtype)
    weight[-1] = eos
    classes = torch.full((len(lg),), c, dtype=torch.int64)
    classes[torch.from_numpy(qi)] = torch.from_numpy(labels)[torch.from_numpy(ti)]
    ce = F.cross_entropy(lg, classes, weight)
    num = max(1, len(labels))
    src, tgt = torch.from_numpy(boxes)[qi], torch.from_numpy(targets)[ti]
    l1 = F.l1_loss(src, tgt, reduction="sum") / num
    giou = (1 - torch.diag(generalized_box_iou(box_convert(src, "cxcywh", "xyxy"),
                                               box_convert(tgt, "cxcywh", "xyxy")))).sum() / num
    return ce.item(), l1.item(), giou.item()


@pytest.mark.parametrize("q,t", [(5, 0), (5, 1), (8, 3), (4, 4)])
def test_set_loss_equals_detr_criterion(q, t):
    case = random_case(np.random.default_rng(q * t), q, t)
    out = detr.set_loss(*case)
    ce, l1, giou = detr_set_loss_torch(*case, out["query_idx"], out["target_idx"])
    assert out["classification"] == pytest.approx(ce, rel=1e-12)
    assert out["bbox"] == pytest.approx(l1, rel=1e-12, abs=1e-15)
    assert out["giou"] == pytest.approx(giou, rel=1e-12, abs=1e-15)
    assert out["total"] == pytest.approx(ce + 5 * l1 + 2 * giou, rel=1e-12)
    if t == 0:
        assert out["bbox"] == out["giou"] == 0.0


def test_set_loss_no_object_weight_matters():
    case = random_case(np.random.default_rng(4), 8, 2)
    a = detr.set_loss(*case, eos_coef=0.1)["classification"]
    b = detr.set_loss(*case, eos_coef=1.0)["classification"]
    assert a != pytest.approx(b)
    assert detr.set_loss(*case, num_boxes=4)["bbox"] == pytest.approx(detr.set_loss(*case)["bbox"] / 2)
