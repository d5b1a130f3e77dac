"""COCO bbox evaluation: helpers.metrics.coco_evaluate vs pycocotools vs faster-coco-eval.

Generates a COCO-sized problem deterministically (default: 5,000 images, 80 classes, ~7 objects
and 100 detections per image), times each evaluator end to end from the same Python objects
(index building, matching, accumulation, the 12 stats; prints suppressed), checks that the
stats agree, and prints the speed ratios. Timings on a shared machine are noisy; the ratios
measured in one run are what to report.

    python benchmarks/bench_coco_eval.py                 # COCO-sized
    python benchmarks/bench_coco_eval.py --images 500    # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time

import numpy as np


def make_problem(n_images: int = 5000, n_classes: int = 80, gt_per_image: float = 7.0,
                 dets_per_image: int = 100, seed: int = 0) -> tuple[dict, list]:
    """A realistic COCO-format problem: ground truth and detections of a decent detector.

    Ground truth: Poisson(``gt_per_image``) objects per 640x480 image, classes with a long
    tail (like COCO, where "person" dominates), sizes spanning small/medium/large, an ``area``
    field smaller than the box (a mask inside it), 1% crowd regions. Detections: most objects
    found once with a jittered box (some twice, some with the wrong class), scores higher for
    good boxes; then random false positives with low scores up to ``dets_per_image`` per
    image. Boxes rounded to 0.01 px and scores to 0.001 as in typical result files, so equal
    scores occur.
    """
    rng = np.random.default_rng(seed)
    W, H = 640.0, 480.0
    class_p = 1.0 / np.arange(1, n_classes + 1) ** 0.8
    class_p /= class_p.sum()
    n_gt = rng.poisson(gt_per_image, n_images)
    total = int(n_gt.sum())
    g_img = np.repeat(np.arange(n_images), n_gt)
    g_cat = rng.choice(n_classes, total, p=class_p)
    side = np.exp(rng.normal(np.log(60), 0.9, total)).clip(4, 400)  # sqrt(area): ~40% small
    aspect = np.exp(rng.normal(0, 0.5, total))
    w = np.minimum(side * np.sqrt(aspect), W - 1)
    h = np.minimum(side / np.sqrt(aspect), H - 1)
    x = rng.uniform(0, W - w)
    y = rng.uniform(0, H - h)
    g_box = np.round(np.stack([x, y, w, h], 1), 2)
    g_area = np.round(g_box[:, 2] * g_box[:, 3] * rng.uniform(0.45, 0.9, total), 2)
    crowd = rng.random(total) < 0.01

    # true-ish detections: each object found with prob .9, a duplicate with prob .25
    copies = (rng.random(total) < 0.9).astype(int) + (rng.random(total) < 0.25)
    src = np.repeat(np.arange(total), copies)
    jitter = rng.normal(0, 0.08, (src.size, 4)) * np.repeat(g_box[src, 2:], 2, axis=1)
    t_box = g_box[src] + jitter
    t_box[:, 2:] = np.maximum(t_box[:, 2:], 1.0)
    quality = np.exp(-np.abs(jitter).sum(1) / (g_box[src, 2] + g_box[src, 3]) * 8)
    t_score = np.clip(0.6 * quality + 0.4 * rng.random(src.size), 0, 1)
    t_cat = np.where(rng.random(src.size) < 0.9, g_cat[src], rng.choice(n_classes, src.size, p=class_p))
    t_img = g_img[src]

    # false positives up to dets_per_image per image
    per_img = np.bincount(t_img, minlength=n_images)
    n_fp = np.maximum(dets_per_image - per_img, 0)
    f_img = np.repeat(np.arange(n_images), n_fp)
    f_side = np.exp(rng.normal(np.log(50), 1.0, f_img.size)).clip(2, 400)
    f_w, f_h = np.minimum(f_side, W - 1), np.minimum(f_side * np.exp(rng.normal(0, 0.5, f_img.size)), H - 1)
    f_box = np.stack([rng.uniform(0, W - f_w), rng.uniform(0, H - f_h), f_w, f_h], 1)
    f_score = rng.beta(1.0, 6.0, f_img.size)
    f_cat = rng.choice(n_classes, f_img.size, p=class_p)

    d_img = np.concatenate([t_img, f_img])
    order = np.argsort(d_img, kind="stable")  # a result file lists detections image by image
    d_img = d_img[order]
    d_cat = np.concatenate([t_cat, f_cat])[order]
    d_box = np.round(np.concatenate([t_box, f_box])[order], 2)
    d_score = np.round(np.concatenate([t_score, f_score])[order], 3)

    cat_ids = [int(c) for c in 1 + np.arange(n_classes)]
    gt = {
        "images": [{"id": int(i) + 1, "width": int(W), "height": int(H)} for i in range(n_images)],
        "categories": [{"id": c, "name": f"class_{c}"} for c in cat_ids],
        "annotations": [
            {"id": n + 1, "image_id": int(i) + 1, "category_id": cat_ids[c], "bbox": b, "area": a,
             "iscrowd": int(k)}
            for n, (i, c, b, a, k) in enumerate(zip(g_img.tolist(), g_cat.tolist(), g_box.tolist(),
                                                     g_area.tolist(), crowd.tolist(), strict=True))
        ],
    }
    dets = [
        {"image_id": int(i) + 1, "category_id": cat_ids[c], "bbox": b, "score": s}
        for i, c, b, s in zip(d_img.tolist(), d_cat.tolist(), d_box.tolist(), d_score.tolist(), strict=True)
    ]
    return gt, dets


def run_helpers(gt, dets):
    from helpers.metrics import COCO_STAT_KEYS, coco_evaluate

    result = coco_evaluate(gt, dets)
    return np.array([result[k] for k in COCO_STAT_KEYS])


def run_pycocotools(gt, dets):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def run_faster_coco_eval(gt, dets):
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        ev = COCOeval_faster(coco_gt, coco_gt.loadRes(dets), "bbox", print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def timed(fn, gt, dets):
    gt, dets = copy.deepcopy(gt), copy.deepcopy(dets)  # pycocotools edits its input; not timed
    start = time.perf_counter()
    stats = fn(gt, dets)
    return time.perf_counter() - start, stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--gt-per-image", type=float, default=7.0)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each evaluator; the best time counts")
    args = ap.parse_args(argv)

    gt, dets = make_problem(args.images, args.classes, args.gt_per_image, args.dets_per_image, args.seed)
    print(f"problem: {len(gt['images'])} images, {len(gt['categories'])} classes, "
          f"{len(gt['annotations'])} objects, {len(dets)} detections (seed {args.seed})")
    runners = {"helpers.metrics": run_helpers, "pycocotools": run_pycocotools, "faster-coco-eval": run_faster_coco_eval}
    times, stats = {}, {}
    for name, fn in runners.items():
        best = np.inf
        for _ in range(args.repeat):
            t, s = timed(fn, gt, dets)
            best = min(best, t)
        times[name], stats[name] = best, s
        print(f"{name:>17}: {best:8.2f} s   AP={s[0]:.4f} AP50={s[1]:.4f} AR100={s[8]:.4f}")

    diff_ref = np.abs(stats["helpers.metrics"] - stats["pycocotools"]).max()
    diff_fce = np.abs(stats["faster-coco-eval"] - stats["pycocotools"]).max()
    print(f"max |stat difference| vs pycocotools: helpers.metrics {diff_ref:.1e}, faster-coco-eval {diff_fce:.1e}")
    ours = times["helpers.metrics"]
    print(f"speed-up of helpers.metrics: {times['pycocotools'] / ours:.1f}x vs pycocotools, "
          f"{times['faster-coco-eval'] / ours:.2f}x vs faster-coco-eval")
    if diff_ref > 1e-9:
        raise SystemExit("helpers.metrics disagrees with pycocotools")


if __name__ == "__main__":
    main()
