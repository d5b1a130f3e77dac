"""Notebook 05's detector race up to the main model's budget: val mAP@0.5 against time, several seeds.

    PYTHONPATH=$PWD python benchmarks/batman_curves.py                      # 660 s, seeds 0 1, 2 jobs
    PYTHONPATH=$PWD python benchmarks/batman_curves.py --budget-s 120 --detectors SSDlite --seeds 0
    PYTHONPATH=$PWD python benchmarks/batman_curves.py --detectors SSDlite --no-zoom --append  # the ablation

Notebook 05 trains Faster R-CNN, RetinaNet and SSDlite for 60 s each (two seeds) and its main model for
11 minutes; on 2 CPU cores, curves for all three up to those 11 minutes with two seeds (66 min of
training) do not fit its 45-minute budget. This script runs them, set up exactly as the notebook sets
them up (the data of its full mode, anchors fitted at 320 px with ``helpers.detection.fit_anchors``,
the shapes backbone as the one start, the notebook's learning rates, the main run's warm-up and
cosine schedule over the whole budget), scores a fixed 60-image part of val every ``--every-s``
seconds of training and the whole val split at the end, and writes the record
``helpers/recorded/batman_curves.json`` (command, commit, machine, date, one entry per run), which
the notebook loads and plots.

``--jobs 2 --threads 1`` (the default) runs two trainings side by side with one torch thread each: the
two seeds of one detector start together, so both see the same machine, and every detector gets the
same conditions. Scoring time is not training time (``helpers.compare.train_arm``).

``--no-zoom`` trains without the zoom augmentation (``train_transforms(scale_range=None)``): the
notebook's zoom ablation at the main budget; ``--append`` adds the runs to the existing record
(each run says whether it had the zoom, ``"zoom": true/false``).

``--lrs`` trains at other learning rates than the notebook's (each run records its ``"lr"``): the
learning-rate sweep at the main budget, which the notebook loads and prints as a table, e.g.

    PYTHONPATH=$PWD python benchmarks/batman_curves.py --detectors RetinaNet "Faster R-CNN" \\
        --lrs 0.01 0.04 --seeds 0 --append

``--run DETECTOR LR SEED`` (repeatable; ``--run-no-zoom`` for a run without the zoom) names the runs
one by one instead of every detector x rate x seed, so that two runs of different rates, seeds or
augmentation can still share the machine:

    PYTHONPATH=$PWD python benchmarks/batman_curves.py --run "Faster R-CNN" 0.01 1 \\
        --run "Faster R-CNN" 0.005 0 --append
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recording import continue_record, new_record, run_and_save  # noqa: E402  (this script's folder)

#: architecture, options and learning rate per detector: notebook 05's DETECTORS, verbatim
DETECTORS = {
    "Faster R-CNN": ("fasterrcnn_mobilenet_v3_large_320_fpn", {"box_batch_size_per_image": 64, "box_head_size": 256},
                     0.01),
    "RetinaNet": ("retinanet_mobilenet_v3_large_fpn", {"score_thresh": 0.01}, 0.02),
    "SSDlite": ("ssdlite320_mobilenet_v3_large", {}, 0.02),
}
IMAGE_SIZE = 320
WARMUP = 50
BATCH = 4
CURVE_IMAGES = 60


def datasets(zoom: bool = True):
    """The notebook's training set (with the zoom augmentation, or without it), val split and 60-image
    curve subset."""
    from torch.utils.data import Subset

    from helpers.data import VOCDetectionDataset, make_batman_dataset, train_transforms

    data = ROOT / "data" / "generated" / "batman"
    make_batman_dataset(data, 1500, seed=0, holdout_style="sketch")
    augment = train_transforms(hflip=0.0) if zoom else train_transforms(hflip=0.0, scale_range=None)
    train_ds = VOCDetectionDataset(data, "train", transforms=augment)
    val_ds = VOCDetectionDataset(data, "val")
    return train_ds, val_ds, Subset(val_ds, range(min(CURVE_IMAGES, len(val_ds))))


def one_run(job: dict) -> dict:
    """Train one detector with one seed and learning rate under the budget (in a worker process); its curve
    and final val."""
    import torch

    from helpers import compare, detection
    from helpers.data import CLASSES

    torch.set_num_threads(job["threads"])
    train_ds, val_ds, val_curve = datasets(job["zoom"])
    arch, options, notebook_lr = DETECTORS[job["detector"]]
    lr = job["lr"] or notebook_lr
    torch.manual_seed(job["seed"])
    model = detection.build_detector(arch, len(CLASSES), weights="shapes", image_size=IMAGE_SIZE,
                                     trainable_backbone_layers=6, **options, **job["fitted"])
    label = f"{job['detector']}, seed {job['seed']}, lr {lr:g}" + ("" if job["zoom"] else ", no zoom")
    arm = compare.train_arm(label, model, train_ds, val_ds, iterations=10**6, time_budget_s=job["budget_s"],
                            seed=job["seed"], batch_size=BATCH, lr=lr, warmup=WARMUP,
                            curve_at_s=job["curve_at_s"], curve_set=val_curve, progress=False)
    return compare.arm_summary(arm, CLASSES, detector=job["detector"], seed=job["seed"], lr=lr, threads=job["threads"],
                               zoom=job["zoom"])


def describe(run: dict) -> str:
    """One run's line: detector, seed, rate, iterations, time, final val and its curve."""
    return (f"{run['detector']:13s} seed {run['seed']} lr {run['lr']:g}: {run['iterations']:5d} it. in "
            f"{run['seconds']:4.0f} s, val mAP@0.5 {run['val_AP50']:.3f} | curve " + " ".join(
                f"{s:.0f}s:{a:.3f}" for s, a in zip(run["curve"]["seconds"], run["curve"]["AP50"], strict=True)))


def main(argv=None) -> None:
    from helpers import detection

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=660.0, help="training seconds per run (notebook 05: 660)")
    parser.add_argument("--every-s", type=float, default=120.0, help="score the curve subset every this many s")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--jobs", type=int, default=2, help="trainings side by side (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training")
    parser.add_argument("--name", default="batman_curves", help="record name (helpers/recorded/<name>.json)")
    parser.add_argument("--no-zoom", action="store_true", help="train without the zoom augmentation (the ablation)")
    parser.add_argument("--append", action="store_true", help="add the runs to the existing record")
    parser.add_argument("--lrs", type=float, nargs="+", default=None,
                        help="learning rates to train at (default: the notebook's rate of each detector)")
    parser.add_argument("--run", nargs=3, action="append", default=[], metavar=("DETECTOR", "LR", "SEED"),
                        help="one run, repeatable: instead of --detectors x --lrs x --seeds")
    parser.add_argument("--run-no-zoom", nargs=3, action="append", default=[], metavar=("DETECTOR", "LR", "SEED"),
                        help="as --run, without the zoom augmentation")
    args = parser.parse_args(argv)
    if args.run or args.run_no_zoom:
        try:
            runs = [(d, float(lr), int(seed), zoom) for given, zoom in ((args.run, True), (args.run_no_zoom, False))
                    for d, lr, seed in given]
        except ValueError:
            parser.error("--run DETECTOR LR SEED: LR a number, SEED an integer")
        unknown = sorted({r[0] for r in runs} - set(DETECTORS))
        if unknown:
            parser.error(f"--run: unknown detector(s) {unknown}; choose from {list(DETECTORS)}")
    else:
        runs = [(d, lr, s, not args.no_zoom) for d in args.detectors for lr in (args.lrs or [None])
                for s in args.seeds]
    if args.budget_s <= 0 or args.every_s <= 0 or args.jobs < 1 or args.threads < 1:
        parser.error("--budget-s, --every-s, --jobs and --threads must be positive")
    if not all(0 < lr < 1 for _, lr, _, _ in runs if lr is not None):  # None: the notebook's rate
        parser.error("--lrs / --run: learning rates between 0 and 1")

    train_ds, _, _ = datasets()
    fitted = {name: detection.fit_anchors(arch, train_ds, IMAGE_SIZE, verbose=False)
              for name, (arch, _, _) in DETECTORS.items() if name in {d for d, _, _, _ in runs}}
    curve_at = [float(t) for t in range(int(args.every_s), int(args.budget_s), int(args.every_s))]
    # a detector's runs next to each other (in the order given), so that they run side by side
    jobs = [{"detector": d, "seed": s, "lr": lr, "fitted": fitted[d], "budget_s": args.budget_s,
             "curve_at_s": curve_at, "threads": args.threads, "zoom": zoom} for d, lr, s, zoom in runs]
    record = new_record("batman_curves.py", argv, {
        "image_size": IMAGE_SIZE, "batch_size": BATCH, "warmup": WARMUP, "start": "shapes", "budget_s": args.budget_s,
        "curve_images": CURVE_IMAGES, "jobs": args.jobs, "threads_per_job": args.threads, "fitted": fitted})
    if args.append:
        from helpers.recorded import load_recorded

        earlier = load_recorded(args.name)
        if any(json.loads(json.dumps(v)) != earlier["set_up"]["fitted"].get(k) for k, v in fitted.items()):
            parser.error("--append: the record was made with other fitted anchors; rerun it whole")
        continue_record(record, earlier)
        record["set_up"]["fitted"] = earlier["set_up"]["fitted"]
    print(f"{len(jobs)} runs of {args.budget_s:.0f} s, {args.jobs} at a time with {args.threads} thread(s) each; "
          f"curve every {args.every_s:.0f} s; {record['machine']}", flush=True)
    run_and_save(one_run, jobs, args.jobs, args.name, record, describe)


if __name__ == "__main__":
    main()
