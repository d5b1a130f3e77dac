"""helpers.detection_eval.tide_errors (TIDE, Bolya et al. ECCV 2020) and helpers.sampling
(LVIS repeat-factor sampling, Gupta et al. CVPR 2019) on hand-made cases with hand-computed
answers; TIDE's baseline mAP against pycocotools' AP50 on random problems."""

import contextlib
import copy
import io

import numpy as np
import pytest

from helpers.detection_eval import TIDE_ERROR_TYPES, plot_tide, tide_errors
from helpers.sampling import class_frequencies, repeat_factor_indices, repeat_factors

A = [0.0, 0.0, 10.0, 10.0]
B = [20.0, 20.0, 30.0, 30.0]
THIN = [0.0, 0.0, 10.0, 4.0]  # IoU 0.4 with A


def img(boxes, labels, scores=None):
    out = {"boxes": np.array(boxes, float).reshape(-1, 4), "labels": np.array(labels, int)}
    if scores is not None:
        out["scores"] = np.array(scores, float)
    return out


def only(result, kind, n=1):
    """The result has exactly ``n`` errors, all of type ``kind``."""
    assert result["counts"] == {k: (n if k == kind else 0) for k in TIDE_ERROR_TYPES}


def test_perfect_detections_cost_nothing():
    r = tide_errors([img([A, B], [1, 2])], [img([A, B], [1, 2], [0.9, 0.8])])
    assert r["mAP"] == 1.0
    only(r, None, 0)
    assert all(v == 0 for v in r["dAP"].values())


def test_localisation_error_fixed_becomes_a_hit():
    r = tide_errors([img([A], [1])], [img([THIN], [1], [0.9])])
    only(r, "Loc")
    assert r["mAP"] == 0.0 and r["dAP"]["Loc"] == 1.0
    assert r["dAP"]["Miss"] == 0.0  # the object is targeted by a fixable error, so not "missed"


def test_classification_error_fixed_takes_the_objects_class():
    r = tide_errors([img([A], [1])], [img([A], [2], [0.9])])
    only(r, "Cls")
    # before: class 1 (an object, no hit) AP 0, class 2 (a detection, no object) AP 0
    assert r["mAP"] == 0.0 and r["dAP"]["Cls"] == 1.0


def test_duplicate_below_its_twin():
    # hit A (0.9), duplicate of A (0.8), hit B (0.7): 101-point AP = (51 * 1 + 50 * 2/3) / 101
    r = tide_errors([img([A, B], [1, 1])], [img([A, A, B], [1, 1, 1], [0.9, 0.8, 0.7])])
    only(r, "Dupe")
    expected = (51 + 50 * 2 / 3) / 101
    assert r["mAP"] == pytest.approx(expected, abs=1e-12)
    assert r["dAP"]["Dupe"] == pytest.approx(1 - expected, abs=1e-12)


def test_background_false_alarm_above_the_hit():
    far = [100.0, 100.0, 110.0, 110.0]
    r = tide_errors([img([A], [1])], [img([far, A], [1, 1], [0.95, 0.9])])
    only(r, "Bkg")
    assert r["mAP"] == pytest.approx(0.5) and r["dAP"]["Bkg"] == pytest.approx(0.5)
    assert r["dAP"]["FalsePos"] == pytest.approx(0.5)


def test_both_wrong_class_and_poor_box_and_the_object_it_missed():
    # class-2 detection overlapping a class-1 object at IoU 0.4: "Both"; that object is "Miss";
    # a second class-1 object found at a lower score
    r = tide_errors([img([A, B], [1, 1])], [img([THIN, B], [2, 1], [0.9, 0.5])])
    assert r["counts"] == {"Cls": 0, "Loc": 0, "Both": 1, "Dupe": 0, "Bkg": 0, "Miss": 1}
    class1 = 51 / 101  # recall 0.5 at precision 1
    assert r["mAP"] == pytest.approx(class1 / 2)  # class 2 (a detection, no object) scores 0
    assert r["dAP"]["Both"] == pytest.approx(class1 - class1 / 2)  # class 2 disappears
    assert r["dAP"]["Miss"] == pytest.approx((1.0 + 0.0) / 2 - class1 / 2)
    assert r["dAP"]["FalseNeg"] == pytest.approx(r["dAP"]["Miss"])


def test_two_errors_aimed_at_one_object_fix_only_the_higher_scoring_one():
    thinner = [0.0, 0.0, 10.0, 3.0]
    r = tide_errors([img([A], [1])], [img([THIN, thinner], [1, 1], [0.8, 0.9])])
    only(r, "Loc", 2)
    assert r["dAP"]["Loc"] == 1.0  # one hit, the other removed: not two hits for one object


def test_error_aimed_at_an_object_already_found_is_removed_not_fixed():
    r = tide_errors([img([A], [1])], [img([A, THIN], [1, 1], [0.9, 0.8])])
    only(r, "Loc")
    assert r["mAP"] == 1.0 and r["dAP"]["Loc"] == 0.0


def test_images_without_predictions_or_objects():
    r = tide_errors([img([A], [1]), img([], [])], [img([], [], []), img([B], [1], [0.9])])
    assert r["counts"]["Miss"] == 1 and r["counts"]["Bkg"] == 1
    assert [e["type"] for e in r["errors"]] == ["Miss", "Bkg"]
    assert r["errors"][1] == {"type": "Bkg", "image": 1, "pred_index": 0, "class": 1}


def test_max_dets_keeps_the_highest_scores():
    far = [100.0, 100.0, 110.0, 110.0]
    r = tide_errors([img([A], [1])], [img([far, A], [1, 1], [0.1, 0.9])], max_dets=1)
    assert r["mAP"] == 1.0 and r["counts"]["Bkg"] == 0


def run_pycocotools_ap50(gts, preds):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (g, p) in enumerate(zip(gts, preds, strict=True), start=1):
        images.append({"id": i})
        for box, c in zip(g["boxes"], g["labels"], strict=True):
            x1, y1, x2, y2 = map(float, box)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for box, c, s in zip(p["boxes"], p["labels"], p["scores"], strict=True):
            x1, y1, x2, y2 = map(float, box)
            dets.append({"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(s)})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c} for c in (1, 2, 3)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[1]


@pytest.mark.parametrize("seed", range(5))
def test_baseline_map_equals_pycocotools_ap50(seed):
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(12):
        n = int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, (n, 2))
        boxes = np.hstack([xy, xy + rng.uniform(10, 60, (n, 2))])
        labels = np.r_[1, 2, 3, rng.integers(1, 4, n)][:n] if n >= 3 else rng.integers(1, 4, n)
        gts.append(img(boxes, labels))
        jitter = boxes + rng.normal(0, 6, boxes.shape)  # noisy hits, some below IoU 0.5
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)  # proper boxes: x2 > x1, y2 > y1
        relabel = np.where(rng.random(n) < 0.2, rng.integers(1, 4, n), labels)
        fxy = rng.uniform(0, 200, (4, 2))
        false_alarms = np.hstack([fxy, fxy + rng.uniform(10, 60, (4, 2))])
        preds.append(img(np.vstack([jitter, false_alarms]), np.r_[relabel, rng.integers(1, 4, 4)],
                         rng.random(n + 4)))
    assert {int(c) for g in gts for c in g["labels"]} == {1, 2, 3}  # every class has objects
    r = tide_errors(gts, preds)
    assert r["mAP"] == pytest.approx(run_pycocotools_ap50(gts, preds), abs=1e-12)
    assert sum(r["counts"].values()) > 0


def test_bad_input_is_refused_by_name():
    with pytest.raises(ValueError, match="background_threshold"):
        tide_errors([img([A], [1])], [img([A], [1], [0.9])], pos_threshold=0.1, background_threshold=0.5)
    with pytest.raises(ValueError, match="pos_threshold"):
        tide_errors([img([A], [1])], [img([A], [1], [0.9])], pos_threshold=float("nan"))
    with pytest.raises(ValueError, match="2 ground-truth images but 1"):
        tide_errors([img([A], [1])] * 2, [img([A], [1], [0.9])])
    with pytest.raises(ValueError, match="image 0: predictions have 1 boxes, 2 scores"):
        tide_errors([img([A], [1])], [img([A], [1], [0.9, 0.8])])
    with pytest.raises(ValueError, match="max_dets"):
        tide_errors([img([A], [1])], [img([A], [1], [0.9])], max_dets=0)


def test_plot_tide_draws_eight_bars():
    import matplotlib

    matplotlib.use("Agg")
    r = tide_errors([img([A], [1])], [img([THIN], [1], [0.9])])
    ax = plot_tide(r)
    assert len(ax.patches) == 8
    assert [t.get_text() for t in ax.get_xticklabels()] == [*TIDE_ERROR_TYPES, "FalsePos", "FalseNeg"]


# ------------------------------------------------------------------------------------------
# repeat-factor sampling
# ------------------------------------------------------------------------------------------

LABELS = [[1, 1, 2], [1], [1, 3], [1], [], [2]]  # class 1 in 4/6 images, 2 in 2/6, 3 in 1/6


def test_class_frequencies_count_images_not_objects():
    assert class_frequencies(LABELS) == {1: 4 / 6, 2: 2 / 6, 3: 1 / 6}


def test_repeat_factors_follow_the_lvis_formula():
    t = 0.5
    r_c = {1: 1.0, 2: np.sqrt(t / (2 / 6)), 3: np.sqrt(t / (1 / 6))}  # max(1, sqrt(t / f_c))
    expected = [max(r_c[1], r_c[2]), r_c[1], max(r_c[1], r_c[3]), r_c[1], 1.0, r_c[2]]
    np.testing.assert_allclose(repeat_factors(LABELS, threshold=t), expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(repeat_factors(LABELS, threshold=0.001), np.ones(6))


def test_repeat_factor_indices_are_right_on_average():
    factors = repeat_factors(LABELS, threshold=0.5)
    rng = np.random.default_rng(0)
    counts = np.zeros(6)
    epochs = 4000
    for _ in range(epochs):
        idx = repeat_factor_indices(factors, rng)
        counts += np.bincount(idx, minlength=6)
        assert set(idx) >= {i for i, f in enumerate(factors) if f >= 1}  # floor(r) >= 1 copy each
    np.testing.assert_allclose(counts / epochs, factors, atol=0.03)


def test_repeat_factor_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        repeat_factors(LABELS, threshold=0)
    with pytest.raises(ValueError, match=r"image_labels\[1\] must hold integer"):
        repeat_factors([[1], [1.5]])
    with pytest.raises(ValueError, match="empty"):
        repeat_factors([])
    with pytest.raises(ValueError, match=">= 1"):
        repeat_factor_indices([0.5, 2.0], np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        repeat_factor_indices([1.0], 0)


# ------------------------------------------------------------------------------------------
# bootstrap intervals
# ------------------------------------------------------------------------------------------

def noisy_problem(seed, n_img=30, noise=4.0):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(n_img):
        n = int(rng.integers(1, 4))
        xy = rng.uniform(0, 100, (n, 2))
        boxes = np.hstack([xy, xy + rng.uniform(10, 40, (n, 2))])
        labels = rng.integers(1, 3, n)
        jitter = boxes + rng.normal(0, noise, boxes.shape)
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        gts.append(img(boxes, labels))
        preds.append(img(jitter, labels, rng.random(n)))
    return gts, preds


def test_bootstrap_point_is_voc_evaluate_and_samples_are_the_documented_resamples():
    from helpers.detection_eval import bootstrap_ap
    from helpers.metrics import voc_evaluate

    gts, preds = noisy_problem(0)
    r = bootstrap_ap(gts, preds, n_boot=20, seed=3)
    full = voc_evaluate(gts, preds)
    assert r["mAP"][0] == full["mAP"]
    assert {k: v[0] for k, v in r["per_class"].items()} == full["per_class_AP"]
    idx = np.random.default_rng(3).integers(0, 30, 30)  # the first resample, by the docstring
    first = voc_evaluate([gts[i] for i in idx], [preds[i] for i in idx])
    assert r["samples"]["mAP"][0] == first["mAP"]
    for k, (_point, lo, hi) in r["per_class"].items():
        assert lo <= hi and np.isfinite(lo)
        assert lo == np.percentile(r["samples"][k], 5) and hi == np.percentile(r["samples"][k], 95)
    assert bootstrap_ap(gts, preds, n_boot=20, seed=3)["mAP"] == r["mAP"]  # deterministic


def test_bootstrap_wider_at_higher_level_and_paired_difference():
    from helpers.detection_eval import bootstrap_ap

    gts, preds = noisy_problem(1, noise=4.0)
    _, worse = noisy_problem(1, noise=9.0)  # same images and scores, sloppier boxes
    r90 = bootstrap_ap(gts, preds, n_boot=100, level=0.9)
    r50 = bootstrap_ap(gts, preds, n_boot=100, level=0.5)
    assert r90["mAP"][2] - r90["mAP"][1] > r50["mAP"][2] - r50["mAP"][1] > 0
    same = bootstrap_ap(gts, preds, other=preds, n_boot=50)
    assert same["mAP"] == (0.0, 0.0, 0.0)
    diff = bootstrap_ap(gts, preds, other=worse, n_boot=100)
    assert diff["mAP"][0] > 0 and diff["mAP"][1] > 0  # better boxes, and the interval says so


def test_bootstrap_bad_input():
    from helpers.detection_eval import bootstrap_ap

    gts, preds = noisy_problem(0, n_img=3)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ap(gts, preds, n_boot=1)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ap(gts, preds, level=1.0)
    with pytest.raises(ValueError, match="one entry per image"):
        bootstrap_ap(gts, preds[:2])
    with pytest.raises(ValueError, match="no images"):
        bootstrap_ap([], [])
