"""Cross-check helpers.detection_eval.tide_errors against the TIDE authors' package, tidecv 1.0.1.

tidecv is not a course dependency (it pins the non-headless opencv-python, which clashes with
the course's opencv-contrib-python-headless); install it beside the venv without dependencies:

    pip install --no-deps --target /tmp/tidelib tidecv==1.0.1 appdirs seaborn pandas
    python benchmarks/check_tide_against_tidecv.py --tide-grid

``--tide-grid`` reads precision at TIDE's recall levels ``x / 100`` instead of pycocotools'
``np.linspace(0, 1, 101)`` (they differ in the last bit at some levels); with it every number
should agree to ~1e-15, without it the error counts agree and APs differ by up to a few 1e-3.
"""

import argparse
import sys

import numpy as np

import helpers.metrics as metrics


def make_problem(seed: int, tide_data):
    """15 images of 1-5 objects in 3 classes; detections: jittered copies (some twice, some with
    the wrong class) and 3 false alarms per image. Returns helpers' lists and tidecv's Data pair."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    gt_data, pred_data = tide_data("gt"), tide_data("pred")
    for i in range(15):
        n = int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, (n, 2))
        boxes = np.hstack([xy, xy + rng.uniform(10, 60, (n, 2))])
        labels = rng.integers(1, 4, n)
        copies = 1 + int(rng.integers(0, 3) > 0)
        jitter = np.vstack([boxes + rng.normal(0, s, boxes.shape) for s in (2, 8)][:copies])
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        jl = np.tile(labels, copies)
        jl = np.where(rng.random(jl.size) < 0.25, rng.integers(1, 4, jl.size), jl)
        fxy = rng.uniform(0, 200, (3, 2))
        pb = np.vstack([jitter, np.hstack([fxy, fxy + rng.uniform(10, 60, (3, 2))])])
        pl = np.r_[jl, rng.integers(1, 4, 3)]
        ps = rng.random(len(pl))
        gts.append({"boxes": boxes, "labels": labels})
        preds.append({"boxes": pb, "labels": pl, "scores": ps})
        gt_data.add_image(i, str(i))
        for b, c in zip(boxes, labels, strict=True):
            gt_data.add_ground_truth(i, int(c), [b[0], b[1], b[2] - b[0], b[3] - b[1]])
        for b, c, s in zip(pb, pl, ps, strict=True):
            pred_data.add_detection(i, int(c), float(s), [b[0], b[1], b[2] - b[0], b[3] - b[1]])
    return gts, preds, gt_data, pred_data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tide-grid", action="store_true", help="read curves at x/100 as tidecv does")
    parser.add_argument("--tidecv-path", default="/tmp/tidelib", help="where tidecv was installed")
    parser.add_argument("--problems", type=int, default=30)
    args = parser.parse_args()
    sys.path.insert(0, args.tidecv_path)
    from tidecv import TIDE, Data

    if args.tide_grid:
        metrics.COCO_RECALL_THRESHOLDS = np.array([x / 100 for x in range(101)])
    from helpers.detection_eval import tide_errors

    worst = 0.0
    for seed in range(args.problems):
        gts, preds, gt_data, pred_data = make_problem(seed, Data)
        run = TIDE().evaluate(gt_data, pred_data, mode=TIDE.BOX)
        ref = {e.short_name: v / 100 for e, v in run.fix_main_errors().items()}
        ref.update({e.short_name: v / 100 for e, v in run.fix_special_errors().items()})
        counts = {e.short_name: v for e, v in run.count_errors().items()}
        ours = tide_errors(gts, preds)
        if counts != ours["counts"]:
            print(f"problem {seed}: error counts differ: tidecv {counts}, helpers {ours['counts']}")
            return 1
        worst = max([worst, abs(run.ap / 100 - ours["mAP"])] + [abs(ref[k] - ours["dAP"][k]) for k in ref])
    print(f"{args.problems} random problems: error counts identical; largest |difference| in mAP or any dAP "
          f"= {worst:.1e} ({'TIDE' if args.tide_grid else 'pycocotools'} recall grid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
