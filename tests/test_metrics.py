"""helpers.metrics against the judges: pycocotools' COCOeval (every stat, to 1e-9, on random and
adversarial problems), the classic ``voc_eval.py`` logic, and hand-computed AP values."""

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from helpers import metrics
from helpers.metrics import COCO_STAT_KEYS, average_precision, coco_evaluate, voc_evaluate

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

TOL = 1e-9


# ------------------------------------------------------------------------------------------
# tools: run pycocotools, build problems
# ------------------------------------------------------------------------------------------

def run_pycocotools(gt, dets):
    """COCOeval(bbox) on deep copies (loadRes edits its input), prints swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if dets:
            coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        else:  # loadRes cannot take an empty list
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_same_as_pycocotools(gt, dets):
    """Every stat, the precision/recall arrays and per-class AP equal pycocotools'. Returns ours."""
    ours = coco_evaluate(gt, dets)
    ref = run_pycocotools(gt, dets)
    np.testing.assert_allclose([ours[k] for k in COCO_STAT_KEYS], ref.stats, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours["precision"], ref.eval["precision"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ours["recall"], ref.eval["recall"], rtol=0, atol=TOL)
    for k, cat in enumerate(ref.params.catIds):
        s = ref.eval["precision"][:, :, k, 0, -1]
        expected = np.mean(s[s > -1]) if np.any(s > -1) else -1
        assert ours["per_class_AP"][cat] == pytest.approx(expected, abs=TOL)
    return ours


def make_gt(anns, n_img=1, n_cat=1):
    """COCO dict from (image_id, category_id, [x, y, w, h], area or None, iscrowd) tuples."""
    annotations = []
    for i, (img, cat, box, area, crowd) in enumerate(anns):
        annotations.append({"id": i + 1, "image_id": img, "category_id": cat, "bbox": list(map(float, box)),
                            "area": float(box[2] * box[3] if area is None else area), "iscrowd": crowd})
    return {"images": [{"id": i} for i in range(1, n_img + 1)],
            "categories": [{"id": c, "name": f"class{c}"} for c in range(1, n_cat + 1)],
            "annotations": annotations}


def det(img, cat, box, score):
    return {"image_id": img, "category_id": cat, "bbox": list(map(float, box)), "score": float(score)}


def random_problem(seed, n_img=20, n_cat=4, gt_per_img=5, fp_per_img=15, integer=True, crowd=0.1):
    """Noisy copies of gts + random false positives. Integer coordinates and scores rounded to
    one decimal make exact IoU ties, IoU exactly at thresholds and tied scores common."""
    rng = np.random.default_rng(seed)
    anns, dets = [], []
    for img in range(1, n_img + 1):
        for _ in range(rng.poisson(gt_per_img)):
            w, h = rng.integers(1, 120, 2) if integer else rng.uniform(1, 120, 2)
            x, y = rng.integers(0, 200, 2) if integer else rng.uniform(0, 200, 2)
            cat = int(rng.integers(1, n_cat + 1))
            area = float(w * h * rng.choice([1.0, 0.7, 0.5]))  # like a mask area, not the box
            anns.append((img, cat, [x, y, w, h], area, int(rng.random() < crowd)))
            for _ in range(rng.integers(0, 3)):
                j = rng.integers(-6, 7, 4) if integer else rng.normal(0, 5, 4)
                c = cat if rng.random() < 0.9 else int(rng.integers(1, n_cat + 1))
                dets.append(det(img, c, [x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)],
                                np.round(rng.random(), 1)))
        for _ in range(rng.integers(0, fp_per_img + 1)):
            w, h = rng.integers(1, 120, 2)
            x, y = rng.integers(0, 200, 2)
            dets.append(det(img, int(rng.integers(1, n_cat + 1)), [x, y, w, h], np.round(rng.random(), 1)))
    return make_gt(anns, n_img, n_cat), dets


# ------------------------------------------------------------------------------------------
# COCO: random problems
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(16))
def test_coco_random_problems_match_pycocotools(seed):
    rng = np.random.default_rng(1000 + seed)
    gt, dets = random_problem(seed, n_img=int(rng.integers(1, 30)), n_cat=int(rng.integers(1, 6)),
                              fp_per_img=int(rng.integers(0, 60)), integer=seed % 2 == 0)
    ours = assert_same_as_pycocotools(gt, dets)
    assert 0 < ours["AP"] < 1  # a real problem, not a degenerate one


def test_coco_many_detections_per_group_and_ties_match_pycocotools():
    # ~150 detections in most (image, category) groups: maxDets=100 truncation with tied scores
    gt, dets = random_problem(99, n_img=6, n_cat=2, gt_per_img=8, fp_per_img=300)
    counts = np.unique([(d["image_id"], d["category_id"]) for d in dets], axis=0, return_counts=True)[1]
    assert counts.max() > 100
    assert_same_as_pycocotools(gt, dets)


# ------------------------------------------------------------------------------------------
# COCO: adversarial cases, one each
# ------------------------------------------------------------------------------------------

def test_coco_crowd_region_absorbs_many_detections():
    # a crowd region (ignored) and one object; three detections inside the crowd are ignored
    # (IoU with a crowd = intersection / detection area), so AP is perfect
    gt = make_gt([(1, 1, [0, 0, 100, 100], None, 1), (1, 1, [200, 200, 50, 50], None, 0)])
    dets = [det(1, 1, [10, 10, 20, 20], 0.9), det(1, 1, [50, 50, 30, 30], 0.8),
            det(1, 1, [0, 0, 100, 100], 0.7), det(1, 1, [200, 200, 50, 50], 0.6)]
    ours = assert_same_as_pycocotools(gt, dets)
    assert ours["AP"] == pytest.approx(1.0)
    # the same region without iscrowd: the small boxes are false positives
    gt["annotations"][0]["iscrowd"] = 0
    assert assert_same_as_pycocotools(gt, dets)["AP"] < 1


def test_coco_crowd_iou_is_over_detection_area():
    # detection half inside a crowd box: intersection / det area = 0.5 (ordinary IoU 0.2)
    gt = make_gt([(1, 1, [0, 0, 100, 100], None, 1), (1, 1, [300, 300, 40, 40], None, 0)])
    dets = [det(1, 1, [80, 0, 40, 100], 0.9), det(1, 1, [300, 300, 40, 40], 0.5)]
    ours = assert_same_as_pycocotools(gt, dets)
    assert ours["AP50"] == pytest.approx(1.0)  # ignored at IoU .5 only
    assert ours["AP75"] < 1


def test_coco_size_ranges_use_area_field_not_box():
    # a 50x50 box (2500 px: medium) whose area field is 900 (small)
    gt = make_gt([(1, 1, [0, 0, 50, 50], 900, 0)])
    ours = assert_same_as_pycocotools(gt, [det(1, 1, [0, 0, 50, 50], 0.9)])
    assert ours["APs"] == pytest.approx(1.0)
    assert ours["APm"] == -1  # no medium object; the (medium) detection is ignored there


@pytest.mark.parametrize("side", [32, 96])
def test_coco_area_exactly_on_range_boundary(side):
    # area exactly 32^2 / 96^2 belongs to both neighbouring ranges (inclusive ends)
    gt = make_gt([(1, 1, [0, 0, side, side], None, 0), (1, 1, [300, 300, side, side], None, 0)])
    dets = [det(1, 1, [0, 0, side, side], 0.9), det(1, 1, [500, 500, side, side], 0.8)]
    ours = assert_same_as_pycocotools(gt, dets)
    if side == 32:
        assert ours["APs"] > 0 and ours["APm"] > 0 and ours["APl"] == -1
    else:
        assert ours["APm"] > 0 and ours["APl"] > 0 and ours["APs"] == -1


def test_coco_max_dets_per_image_and_category():
    # 12 objects in one image; 12 correct detections, AR@1 and AR@10 see only the best 1 / 10;
    # a second category in the same image has its own budget
    anns = [(1, 1, [i * 40, 0, 30, 30], None, 0) for i in range(12)] + [(1, 2, [0, 100, 30, 30], None, 0)]
    dets = [det(1, 1, [i * 40, 0, 30, 30], 1 - i / 100) for i in range(12)] + [det(1, 2, [0, 100, 30, 30], 0.01)]
    ours = assert_same_as_pycocotools(make_gt(anns, n_cat=2), dets)
    assert ours["AR1"] == pytest.approx((1 / 12 + 1) / 2)
    assert ours["AR10"] == pytest.approx((10 / 12 + 1) / 2)
    assert ours["AR100"] == pytest.approx(1.0)


def test_coco_more_than_100_detections_in_a_group():
    anns = [(1, 1, [0, 0, 30, 30], None, 0)]
    dets = [det(1, 1, [200 + i, 200, 10, 10], 0.9) for i in range(120)] + [det(1, 1, [0, 0, 30, 30], 0.1)]
    ours = assert_same_as_pycocotools(make_gt(anns), dets)
    assert ours["AR100"] == 0  # the true positive is the 121st detection: never evaluated


def test_coco_category_without_ground_truth_is_excluded():
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0)], n_cat=3)  # categories 2, 3: no gt
    dets = [det(1, 1, [0, 0, 50, 50], 0.9), det(1, 2, [0, 0, 50, 50], 0.8)]
    ours = assert_same_as_pycocotools(gt, dets)
    assert ours["per_class_AP"] == {1: pytest.approx(1.0), 2: -1.0, 3: -1.0}
    assert ours["AP"] == pytest.approx(1.0)


def test_coco_category_without_detections_counts_as_zero():
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0), (1, 2, [100, 100, 50, 50], None, 0)], n_cat=2)
    ours = assert_same_as_pycocotools(gt, [det(1, 1, [0, 0, 50, 50], 0.9)])
    assert ours["per_class_AP"][2] == 0.0 and ours["AP"] == pytest.approx(0.5)


def test_coco_images_without_ground_truth():
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0)], n_img=3)
    dets = [det(2, 1, [0, 0, 50, 50], 0.95), det(1, 1, [0, 0, 50, 50], 0.9), det(3, 1, [5, 5, 9, 9], 0.1)]
    ours = assert_same_as_pycocotools(gt, dets)
    assert ours["AP50"] == pytest.approx(0.5 * 51 / 101 + 0.5 * 50 / 101)  # envelope 1/2 up to recall 1


def test_coco_tied_scores_across_images():
    # equal scores: pycocotools ranks ties by image order (then rank in image); a FP in image 1
    # ranks before the TP in image 2
    gt = make_gt([(2, 1, [0, 0, 50, 50], None, 0), (3, 1, [0, 0, 50, 50], None, 0)], n_img=3)
    dets = [det(3, 1, [0, 0, 50, 50], 0.5), det(1, 1, [0, 0, 50, 50], 0.5), det(2, 1, [0, 0, 50, 50], 0.5)]
    ours = assert_same_as_pycocotools(gt, dets)
    # ranked FP, TP, TP: precision 0, 1/2, 2/3 -> envelope 2/3 everywhere
    assert ours["AP50"] == pytest.approx(2 / 3)


def test_coco_tied_scores_within_image_keep_input_order():
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0)])
    dets = [det(1, 1, [100, 100, 50, 50], 0.5), det(1, 1, [0, 0, 50, 50], 0.5)]
    assert assert_same_as_pycocotools(gt, dets)["AP50"] == pytest.approx(0.5)
    assert assert_same_as_pycocotools(gt, dets[::-1])["AP50"] == pytest.approx(1.0)


@pytest.mark.parametrize("height, threshold", [(5.0, 0.5), (7.5, 0.75), (10.0, 0.95)])
def test_coco_iou_exactly_at_threshold(height, threshold):
    # det [0,0,10,h] inside gt [0,0,10,10]: IoU = h/10 exactly; it matches at t <= IoU
    # (IoU 1 matches at .95 because pycocotools caps the threshold at 1 - 1e-10)
    gt = make_gt([(1, 1, [0, 0, 10, 10], None, 0)])
    ours = assert_same_as_pycocotools(gt, [det(1, 1, [0, 0, 10, height], 0.9)])
    p = ours["precision"][:, 0, 0, 0, 2]
    expected = (metrics.COCO_IOU_THRESHOLDS <= threshold + 1e-12).astype(float)
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)  # 1 is 1 - 2e-16: tp / (tp + fp + eps)


def test_coco_equal_iou_goes_to_the_later_ground_truth():
    # det 1 overlaps gts A and B with bit-identical IoU 90/110; pycocotools' loop keeps the
    # later gt (it skips only IoU < best). Det 2 matches only A (IoU 70/130 = .54, B .33).
    # A listed first: det1 -> B, det2 -> A, both TP at .5. B first: det1 -> A, det2 is a FP.
    a = (1, 1, [0, 0, 10, 10], None, 0)
    b = (1, 1, [2, 0, 10, 10], None, 0)
    dets = [det(1, 1, [1, 0, 10, 10], 0.9), det(1, 1, [-3, 0, 10, 10], 0.8)]
    assert assert_same_as_pycocotools(make_gt([a, b]), dets)["AP50"] == pytest.approx(1.0)
    assert assert_same_as_pycocotools(make_gt([b, a]), dets)["AP50"] < 1


def test_coco_ignored_ground_truth_sorted_last():
    # an out-of-range (ignored) gt listed first with a perfect overlap, a regular gt with IoU
    # 0.6: the detection matches the regular one (true positive), not the ignored one
    gt = make_gt([(1, 1, [0, 0, 10, 10], 5000, 0), (1, 1, [0, 0, 10, 6], 60, 0)])
    ours = assert_same_as_pycocotools(gt, [det(1, 1, [0, 0, 10, 10], 0.9)])
    assert ours["APs"] == pytest.approx(1.0 * 3 / 10)  # matched at IoU .5, .55, .6 only


def test_coco_detection_matched_to_ignored_ground_truth_is_ignored():
    # small range: the only detection matches a medium (ignored) gt; a small gt is missed.
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0), (1, 1, [200, 200, 10, 10], None, 0)])
    ours = assert_same_as_pycocotools(gt, [det(1, 1, [0, 0, 50, 50], 0.9)])
    assert ours["APs"] == 0 and ours["ARs"] == 0
    assert ours["APm"] == pytest.approx(1.0)


def test_coco_unmatched_detection_outside_area_range_is_ignored():
    # a large unmatched detection does not hurt small-object precision; a small one does
    gt = make_gt([(1, 1, [0, 0, 20, 20], None, 0)])
    dets = [det(1, 1, [300, 300, 200, 200], 0.95), det(1, 1, [0, 0, 20, 20], 0.9)]
    assert assert_same_as_pycocotools(gt, dets)["APs"] == pytest.approx(1.0)
    dets[0]["bbox"] = [300.0, 300.0, 20.0, 20.0]
    assert assert_same_as_pycocotools(gt, dets)["APs"] == pytest.approx(0.5)


def test_coco_no_detections_and_no_ground_truth():
    gt = make_gt([(1, 1, [0, 0, 20, 20], None, 0)])
    ours = assert_same_as_pycocotools(gt, [])
    assert ours["AP"] == 0 and ours["AR100"] == 0
    empty = make_gt([], n_img=2)
    ours = assert_same_as_pycocotools(empty, [det(1, 1, [0, 0, 5, 5], 0.5)])
    assert ours["AP"] == -1 and ours["per_class_AP"] == {1: -1.0}


def test_coco_annotation_id_zero_is_matched_unlike_pycocotools():
    # pycocotools stores the matched gt id and tests it for truth: gt id 0 is never "found"
    gt = make_gt([(1, 1, [0, 0, 50, 50], None, 0)])
    gt["annotations"][0]["id"] = 0
    dets = [det(1, 1, [0, 0, 50, 50], 0.9)]
    assert coco_evaluate(gt, dets)["AP"] == pytest.approx(1.0)
    assert run_pycocotools(gt, dets).stats[0] == 0  # pycocotools' bug
    # a random problem with ids 0..n-1 and a perfect detection of annotation 0
    gt, dets = random_problem(5)
    first = gt["annotations"][0]
    first["iscrowd"] = 0
    dets.append(det(first["image_id"], first["category_id"], first["bbox"], 1.0))
    for ann in gt["annotations"]:
        ann["id"] -= 1
    ours = coco_evaluate(gt, dets)
    buggy = run_pycocotools(gt, dets).stats
    assert not np.allclose([ours[k] for k in COCO_STAT_KEYS], buggy, atol=TOL)
    for ann in gt["annotations"]:
        ann["id"] += 1  # renumbered from 1: pycocotools is right, and agrees with us
    np.testing.assert_allclose([ours[k] for k in COCO_STAT_KEYS], run_pycocotools(gt, dets).stats,
                               rtol=0, atol=TOL)


def test_coco_json_paths_and_inputs_left_unchanged(tmp_path):
    gt, dets = random_problem(3)
    before = copy.deepcopy((gt, dets))
    ours = coco_evaluate(gt, dets)
    assert (gt, dets) == before  # pycocotools' loadRes edits its input; we do not
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    from_files = coco_evaluate(tmp_path / "gt.json", str(tmp_path / "dets.json"))
    assert all(from_files[k] == ours[k] for k in COCO_STAT_KEYS)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_object = COCO(str(tmp_path / "gt.json"))
    assert coco_evaluate(coco_object, dets)["AP"] == ours["AP"]


def test_coco_pr_curve_reads_the_precision_array():
    gt, dets = random_problem(7)
    res = coco_evaluate(gt, dets)
    rec, prec = metrics.coco_pr_curve(res, 0.5, category_id=1)
    assert rec.shape == prec.shape == (101,)
    assert np.mean(prec) == pytest.approx(np.mean(res["precision"][0, :, 0, 0, 2]))
    assert np.all(np.diff(prec) <= 0)  # an envelope never rises
    _, mean_curve = metrics.coco_pr_curve(res, 0.5)
    assert np.mean(mean_curve) == pytest.approx(res["AP50"])


# ------------------------------------------------------------------------------------------
# COCO: bad input
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(image_id=99), "unknown image_id 99"),
    (lambda d: d.update(category_id=7), "unknown category_id 7"),
    (lambda d: d.update(bbox=[1, 2, 3]), "4 numbers"),
    (lambda d: d.update(bbox=[1, 2, 3, "a"]), "4 numbers"),
    (lambda d: d.update(bbox=[1, 2, -3, 4]), "negative width or height"),
    (lambda d: d.update(bbox=[1, float("nan"), 3, 4]), "not finite"),
    (lambda d: d.update(score=float("nan")), "'score' is nan"),
    (lambda d: d.update(score="high"), "'score' must be a number"),
    (lambda d: d.pop("score"), "no 'score' key"),
    (lambda d: d.pop("image_id"), "no 'image_id' key"),
])
def test_coco_bad_detections_raise_clear_errors(change, message):
    gt, dets = random_problem(1, n_img=3)
    change(dets[2])
    with pytest.raises(ValueError, match=f"detection 2.*{message}"):
        coco_evaluate(gt, dets)


def test_coco_bad_ground_truth_raises_clear_errors():
    gt, dets = random_problem(1, n_img=3)
    bad = copy.deepcopy(gt)
    del bad["annotations"][1]["area"]
    with pytest.raises(ValueError, match="annotation 1 has no 'area'"):
        coco_evaluate(bad, dets)
    bad = copy.deepcopy(gt)
    bad["annotations"][1]["id"] = bad["annotations"][0]["id"]
    with pytest.raises(ValueError, match="used more than once"):
        coco_evaluate(bad, dets)
    bad = copy.deepcopy(gt)
    bad["annotations"][1]["image_id"] = 42
    with pytest.raises(ValueError, match="unknown image_id 42"):
        coco_evaluate(bad, dets)
    with pytest.raises(ValueError, match="no 'categories'"):
        coco_evaluate({"images": [], "annotations": []}, [])
    with pytest.raises(TypeError, match="COCO dict"):
        coco_evaluate([1, 2], dets)
    with pytest.raises(TypeError, match="list of"):
        coco_evaluate(gt, {"image_id": 1})


# ------------------------------------------------------------------------------------------
# average_precision and the PR curve
# ------------------------------------------------------------------------------------------

def test_precision_recall_curve_ranks_by_score():
    rec, prec, thr = metrics.precision_recall_curve([0.2, 0.9, 0.5, 0.5], [True, True, False, True], 4)
    np.testing.assert_allclose(thr, [0.9, 0.5, 0.5, 0.2])
    np.testing.assert_allclose(rec, [0.25, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(prec, [1, 0.5, 2 / 3, 0.75])
    rec, prec, _ = metrics.precision_recall_curve([0.2, 0.9, 0.5], [True, True, False], 2, ignore=[0, 0, 1])
    np.testing.assert_allclose(rec, [0.5, 1.0])
    with pytest.raises(ValueError, match="num_gt"):
        metrics.precision_recall_curve([0.5], [True], 0)


def test_average_precision_hand_computed_methods_differ():
    # ranked TP, FP, TP, FP, FP, TP with 4 objects
    rec, prec, _ = metrics.precision_recall_curve(np.arange(6, 0, -1), [1, 0, 1, 0, 0, 1], 4)
    np.testing.assert_allclose(rec, [0.25, 0.25, 0.5, 0.5, 0.5, 0.75])
    np.testing.assert_allclose(prec, [1, 0.5, 2 / 3, 0.5, 0.4, 0.5])
    # envelope: 1 up to recall .25, 2/3 up to .5, 1/2 up to .75, nothing beyond
    # voc07: levels 0, .1, .2 -> 1; .3, .4, .5 -> 2/3; .6, .7 -> 1/2; .8, .9, 1 -> 0
    assert average_precision(rec, prec, "voc07") == pytest.approx((3 + 2 + 1) / 11, abs=1e-12)
    # voc12: area .25 * 1 + .25 * 2/3 + .25 * 1/2
    assert average_precision(rec, prec, "voc12") == pytest.approx(13 / 24, abs=1e-12)
    # coco: 26 levels in [0, .25], 25 in (.25, .5], 25 in (.5, .75], 25 beyond
    assert average_precision(rec, prec, "coco") == pytest.approx((26 + 25 * 2 / 3 + 25 * 0.5) / 101, abs=1e-12)


def test_average_precision_voc07_reaches_recall_levels_exactly():
    # recall 3/10 reaches the 0.3 level (np.arange(0, 1.1, 0.1) would ask for 0.30000000000000004)
    assert average_precision([0.1, 0.2, 0.3], [1.0, 1.0, 1.0], "voc07") == pytest.approx(4 / 11, abs=1e-12)


def test_average_precision_edge_cases_and_errors():
    for method in metrics.AP_METHODS:
        assert average_precision([], [], method) == 0.0
        assert average_precision([0.5, 1.0], [1.0, 1.0], method) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="method"):
        average_precision([1.0], [1.0], "voc2010")
    with pytest.raises(ValueError, match="same length"):
        average_precision([0.5, 1.0], [1.0], "coco")
    with pytest.raises(ValueError, match="non-decreasing"):
        average_precision([0.5, 0.2], [1.0, 1.0], "coco")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        average_precision([0.5, 1.2], [1.0, 1.0], "coco")
    with pytest.raises(ValueError, match="NaN"):
        average_precision([0.5, np.nan], [1.0, 1.0], "voc12")


# ------------------------------------------------------------------------------------------
# Pascal VOC
# ------------------------------------------------------------------------------------------

def reference_voc_eval(gt, dets, iou_threshold, use_07):
    """The classic per-class loop of py-faster-rcnn's voc_eval.py (no "+1", 11 levels i/10)."""
    labels = sorted({int(v) for g in gt for v in g["labels"]} | {int(v) for d in dets for v in d["labels"]})
    aps = {}
    for c in labels:
        recs, npos = {}, 0
        for i, g in enumerate(gt):
            m = np.asarray(g["labels"]) == c
            diff = np.asarray(g["difficult"], bool)[m]
            recs[i] = {"bbox": np.asarray(g["boxes"], float).reshape(-1, 4)[m], "difficult": diff,
                       "det": [False] * int(m.sum())}
            npos += int((~diff).sum())
        image_ids, conf, boxes = [], [], []
        for i, d in enumerate(dets):
            for b, s, lab in zip(np.asarray(d["boxes"]).reshape(-1, 4), d["scores"], d["labels"], strict=True):
                if lab == c:
                    image_ids.append(i)
                    conf.append(s)
                    boxes.append(b)
        order = np.argsort(-np.asarray(conf), kind="mergesort")
        tp, fp = np.zeros(len(order)), np.zeros(len(order))
        for n, k in enumerate(order):
            r, bb = recs[image_ids[k]], boxes[k]
            ovmax, jmax = -np.inf, -1
            if r["bbox"].size:
                g = r["bbox"]
                iw = np.maximum(np.minimum(g[:, 2], bb[2]) - np.maximum(g[:, 0], bb[0]), 0)
                ih = np.maximum(np.minimum(g[:, 3], bb[3]) - np.maximum(g[:, 1], bb[1]), 0)
                inter = iw * ih
                uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
                ov = inter / uni
                ovmax, jmax = np.max(ov), np.argmax(ov)
            if ovmax > iou_threshold:
                if not r["difficult"][jmax]:
                    if not r["det"][jmax]:
                        tp[n] = 1
                        r["det"][jmax] = True
                    else:
                        fp[n] = 1
            else:
                fp[n] = 1
        if npos == 0:
            aps[c] = np.nan
            continue
        fp, tp = np.cumsum(fp), np.cumsum(tp)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        if use_07:
            ap = sum((np.max(prec[rec >= t]) if np.sum(rec >= t) else 0) / 11 for t in np.arange(11) / 10)
        else:
            mrec = np.concatenate(([0.0], rec, [1.0]))
            mpre = np.concatenate(([0.0], prec, [0.0]))
            for i in range(mpre.size - 1, 0, -1):
                mpre[i - 1] = max(mpre[i - 1], mpre[i])
            i = np.where(mrec[1:] != mrec[:-1])[0]
            ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
        aps[c] = ap
    return aps


def random_voc(seed, n_img=15, n_cls=3):
    rng = np.random.default_rng(seed)
    gt, dets = [], []
    for _ in range(n_img):
        n = rng.poisson(4)
        xy = rng.integers(0, 150, (n, 2)).astype(float)
        boxes = np.hstack([xy, xy + rng.integers(5, 80, (n, 2))])
        labels = rng.integers(0, n_cls, n)
        gt.append({"boxes": boxes, "labels": labels, "difficult": rng.random(n) < 0.15})
        noisy = np.repeat(boxes, 2, axis=0) + rng.integers(-5, 6, (2 * n, 4))
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 1)
        m = rng.integers(0, 8)
        xy = rng.integers(0, 150, (m, 2)).astype(float)
        fps = np.hstack([xy, xy + rng.integers(5, 80, (m, 2))])
        lab = np.concatenate([np.repeat(labels, 2), rng.integers(0, n_cls, m)])
        dets.append({"boxes": np.vstack([noisy, fps]).reshape(-1, 4), "scores": np.round(rng.random(2 * n + m), 2),
                     "labels": lab})
    return gt, dets


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("metric, thr", [("voc12", 0.5), ("voc07", 0.5), ("voc12", 0.7)])
def test_voc_evaluate_matches_classic_voc_eval(seed, metric, thr):
    gt, dets = random_voc(seed)
    ours = voc_evaluate(gt, dets, iou_threshold=thr, metric=metric)
    ref = reference_voc_eval(gt, dets, thr, metric == "voc07")
    assert ours["per_class_AP"].keys() == ref.keys()
    for c, ap in ref.items():
        if np.isnan(ap):
            assert np.isnan(ours["per_class_AP"][c])
        else:
            assert ours["per_class_AP"][c] == pytest.approx(ap, abs=1e-12)
    assert ours["mAP"] == pytest.approx(np.nanmean(list(ref.values())), abs=1e-12)


def test_voc_evaluate_difficult_and_duplicates():
    gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [1, 1], "difficult": [False, True]}]
    dets = [{"boxes": [[20, 20, 30, 30], [0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.9, 0.8, 0.7],
             "labels": [1, 1, 1]}]
    empty = {"boxes": [], "labels": [], "scores": []}
    res = voc_evaluate(gt + [empty], dets + [empty])  # an image with nothing in it changes nothing
    # the difficult hit is ignored; the duplicate is a false positive after recall 1
    assert res["num_gt"] == {1: 1} and isinstance(next(iter(res["num_gt"])), int)
    np.testing.assert_allclose(res["precision"][1], [1.0, 0.5])
    assert res["mAP"] == pytest.approx(1.0)


def test_voc_evaluate_bad_input():
    good_gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    with pytest.raises(ValueError, match="2 images"):
        voc_evaluate(good_gt * 2, [{"boxes": [], "scores": [], "labels": []}])
    with pytest.raises(ValueError, match="x2 < x1"):
        voc_evaluate(good_gt, [{"boxes": [[10, 0, 0, 10]], "scores": [0.5], "labels": [1]}])
    with pytest.raises(ValueError, match="NaN"):
        voc_evaluate(good_gt, [{"boxes": [[0, 0, 10, 10]], "scores": [np.nan], "labels": [1]}])
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        voc_evaluate(good_gt, [{"boxes": [[0, 0, 10]], "scores": [0.5], "labels": [1]}])
    with pytest.raises(ValueError, match="'scores' must have shape"):
        voc_evaluate(good_gt, [{"boxes": [[0, 0, 10, 10]], "scores": [0.5, 0.2], "labels": [1]}])
    with pytest.raises(ValueError, match="no 'scores'"):
        voc_evaluate(good_gt, [{"boxes": [[0, 0, 10, 10]], "labels": [1]}])


# ------------------------------------------------------------------------------------------
# types, NaN, duplicates: errors that name the argument (issue 15)
# ------------------------------------------------------------------------------------------

def test_voc_evaluate_refuses_a_threshold_that_is_not_a_number():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    dets = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}]
    for bad in ("0.5", True, None, [0.5]):
        with pytest.raises(TypeError, match="iou_threshold must be a number"):
            voc_evaluate(gt, dets, iou_threshold=bad)
    with pytest.raises(ValueError, match="iou_threshold"):
        voc_evaluate(gt, dets, iou_threshold=float("nan"))
    assert voc_evaluate(gt, dets, iou_threshold=np.float32(0.5))["mAP"] == 1.0


def test_voc_evaluate_labels_must_be_whole_numbers():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    with pytest.raises(ValueError, match=r"dets image 0: 'labels' must be whole numbers.*1\.7"):
        voc_evaluate(gt, [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1.7]}])
    with pytest.raises(ValueError, match="gt image 0: 'labels' must be whole numbers"):
        voc_evaluate([{"boxes": [[0, 0, 10, 10]], "labels": [np.nan]}], [{"boxes": [], "scores": [], "labels": []}])
    with pytest.raises(TypeError, match="gt image 0: 'labels' must be integers"):
        voc_evaluate([{"boxes": [[0, 0, 10, 10]], "labels": ["cat"]}], [{"boxes": [], "scores": [], "labels": []}])
    whole = voc_evaluate(gt, [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1.0]}])
    assert list(whole["per_class_AP"]) == [1] and whole["mAP"] == 1.0  # 1.0 is class 1, not a new class


@pytest.mark.parametrize("section, change, error, message", [
    ("images", lambda items: items[1].update(id=items[0]["id"]), ValueError, "image id 1 is used more than once"),
    ("categories", lambda items: items[1].update(id=items[0]["id"]), ValueError, "category id 1 is used more than once"),
    ("images", lambda items: items[1].update(id="2"), TypeError, "image ids mix ints and strings"),
    ("images", lambda items: items[0].update(id=True), TypeError, "image 0: 'id' must be an int or a string"),
    ("categories", lambda items: items[0].update(id=1.5), TypeError, "category 0: 'id' must be an int or a string"),
    ("annotations", lambda items: items[0].update(iscrowd="yes"), ValueError, "annotation 0: 'iscrowd' must be 0 or 1"),
])
def test_coco_ids_are_unique_and_of_one_kind(section, change, error, message):
    gt, dets = random_problem(1, n_img=3)
    bad = copy.deepcopy(gt)
    change(bad[section])
    with pytest.raises(error, match=message):
        coco_evaluate(bad, dets)


def test_coco_pr_curve_threshold_must_be_a_number():
    gt, dets = random_problem(1, n_img=3)
    result = coco_evaluate(gt, dets)
    with pytest.raises(TypeError, match="iou_threshold must be a number"):
        metrics.coco_pr_curve(result, "0.5")


# ------------------------------------------------------------------------------------------
# COCO AP by size buckets of one's own choosing, against pycocotools with params.areaRng
# ------------------------------------------------------------------------------------------

def pycocotools_by_area(gt, dets, ranges):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), "bbox")
        ev.params.areaRng = [list(r) for r in ranges.values()]
        ev.params.areaRngLbl = list(ranges)
        ev.evaluate()
        ev.accumulate()
    out = {}
    for a, name in enumerate(ranges):
        s_all, s_50 = ev.eval["precision"][:, :, :, a, -1], ev.eval["precision"][0, :, :, a, -1]
        out[name] = (np.mean(s_all[s_all > -1]) if np.any(s_all > -1) else -1,
                     np.mean(s_50[s_50 > -1]) if np.any(s_50 > -1) else -1)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_coco_ap_by_area_matches_pycocotools_custom_ranges(seed):
    from helpers.metrics import coco_ap_by_area

    gt, dets = random_problem(seed, n_img=15, n_cat=3, integer=seed % 2 == 0)
    areas = np.array([a["area"] for a in gt["annotations"]])
    e1, e2 = np.percentile(areas, [33.3, 66.7])
    ranges = {"all": (0.0, 1e10), "small": (0.0, e1), "medium": (e1, e2), "large": (e2, 1e10)}
    ours = coco_ap_by_area(gt, dets, ranges)
    ref = pycocotools_by_area(gt, dets, ranges)
    for name in ranges:
        assert ours[name]["AP"] == pytest.approx(ref[name][0], abs=TOL)
        assert ours[name]["AP50"] == pytest.approx(ref[name][1], abs=TOL)
    inside = [a for a in gt["annotations"] if not a["iscrowd"] and e1 <= a["area"] <= e2]
    assert ours["medium"]["n_objects"] == len(inside) > 0
    # with COCO's own buckets it agrees with coco_evaluate's APs / APm / APl
    from helpers.metrics import COCO_AREA_RANGES

    same = coco_ap_by_area(gt, dets, COCO_AREA_RANGES)
    full = coco_evaluate(gt, dets)
    for key, name in (("AP", "all"), ("APs", "small"), ("APm", "medium"), ("APl", "large")):
        assert same[name]["AP"] == pytest.approx(full[key], abs=TOL)


def test_coco_ap_by_area_hand_made_and_bad_ranges():
    from helpers.metrics import coco_ap_by_area

    # a small and a large object; the detector finds only the large one
    gt = make_gt([(1, 1, [0, 0, 10, 10], None, 0), (1, 1, [50, 50, 100, 100], None, 0)])
    dets = [det(1, 1, [50, 50, 100, 100], 0.9)]
    got = coco_ap_by_area(gt, dets, {"small": (0, 200), "large": (200, 1e8)})
    assert got["small"]["AP50"] == 0.0 and got["large"]["AP50"] == pytest.approx(1.0)
    assert got["small"]["n_objects"] == 1 and got["large"]["n_objects"] == 1
    empty = coco_ap_by_area(gt, dets, {"huge": (1e6, 1e8)})
    assert empty["huge"] == {"AP": -1.0, "AP50": -1.0, "n_objects": 0}
    for bad in ({}, {"x": (5, 1)}, {"x": (-1, 4)}, {"x": (1, 2, 3)}):
        with pytest.raises(ValueError, match="area_ranges"):
            coco_ap_by_area(gt, dets, bad)
