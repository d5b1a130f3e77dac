"""How long the tiny DETR of notebook 06 needs: val mAP against iterations, beyond the race's budget.

    PYTHONPATH=$PWD python benchmarks/detr_convergence.py --run every_layer 3e-4 1 0 3000 --eval-every 300
    PYTHONPATH=$PWD python benchmarks/detr_convergence.py --start ssd --decoder-layers 6 --eos-coef 0.1 0.4 1.0 \\
        --run every_layer 3e-4 1 0 3000 --run every_layer 3e-4 1 1 3000 --eval-every 300 --append

Notebook 06 races its small SSD, a tiny FCOS and a tiny DETR for 600 iterations; SSD and FCOS are
done by then, DETR is not (DETR's paper trains for 300 epochs on COCO). This script trains the
tiny DETR (``helpers.tiny_detectors.TinyDETR``) as the race does (the same data: 4,000 training and
300 validation images of ``helpers.shapes``, batches of 32, AdamW with warm-up and a cosine schedule
over the run, gradients clipped to 0.1, DETR's auxiliary losses) for more iterations, scores the
validation split every ``--eval-every`` iterations (off the clock; with NMS, as the race scores, and,
from the ``--eos-coef`` runs on, also without it: ``AP50_no_nms``), and counts at the end the
confident detections (score >= 0.5) that are duplicates, with and without NMS
(``helpers.tiny_detectors.count_duplicates``).

``--run POSITIONS LR BACKBONE_LR_FACTOR SEED ITERATIONS`` names one run (repeatable). ``POSITIONS`` is where the
positional information enters the transformer (``TinyDETR``'s ``positions``): ``every_layer`` (DETR's
design) or ``input`` (added once: the shortcut of many minimal DETRs); ``BACKBONE_LR_FACTOR``
multiplies the learning rate of its CNN part (``TinyDETR``'s ``backbone_lr_factor``; 1: one rate).
``--eos-coef`` sets the weight of the "no object" class in the set loss (DETR's 0.1 by default;
several values: every run with each, runs without the key in the record used 0.1). ``--start ssd``
starts the DETR's CNN from a trained race SSD's (600 iterations at 1e-2, the same seed, trained first
in the same process), as DETR starts from a pretrained backbone; ``scratch`` (the default) from
random weights, as in the race. ``--jobs 2 --threads 1``
(the default) trains two runs side by side with one torch thread each, so both see the same machine.

The record, ``helpers/recorded/detr_convergence.json`` (command, commit, machine, date, one entry per
run), is what notebook 06 plots; ``--append`` adds runs to it.

Measured 2026-12-06 on the project's 2-core machine (one torch thread per run, two runs side by side,
under the heavy-job lock), ``every_layer`` positions, val mAP@0.5 at the end with NMS (best
checkpoint in brackets) and without it, confident detections (score >= 0.5) and their duplicates
without / with NMS:

    start    dec.  lr    CNN x  eos  seed  its   val mAP@0.5    no NMS  confident  duplicates
    scratch  2     3e-4  1      0.1  0     3000  0.053 (0.056)  -       18         1 / 0
    scratch  2     1e-3  1      0.1  0     3000  0.001 (0.002)  -       0          -
    scratch  2     3e-4  10     0.1  0     3000  0.001 (0.003)  -       0          -
    scratch  2     3e-4  30     0.1  0     3000  0.003 (0.006)  -       0          -
    scratch  2     1e-4  1      0.1  0     3000  0.003 (0.005)  -       0          -
    scratch  2     1e-4  3      0.1  0     3000  0.011 (0.012)  -       21         0 / 0
    ssd      2     3e-4  0.1    0.1  0     3000  0.136          -       1480       157 / 52
    ssd      2     3e-4  1      0.1  0     3000  0.734 (0.738)  -       1554       538 / 50
    ssd      6     3e-4  1      0.1  0     3000  0.847          0.798   1216       364 / 15
    ssd      6     3e-4  1      0.1  1     3000  0.808          0.713   1306       433 / 10
    ssd      6     3e-4  1      0.4  0     3000  0.830 (0.837)  0.810   851        122 / 5
    ssd      6     3e-4  1      0.4  1     3000  0.813          0.794   832        110 / 5
    ssd      6     3e-4  1      1    0     3000  0.805 (0.807)  0.777   630        53 / 1
    ssd      6     3e-4  1      1    1     3000  0.535          0.419   156        25 / 2
    ssd      6     3e-4  1      0.4  0     6000  0.888          0.884   771        45 / 0
    ssd      6     3e-4  1      0.4  1     6000  0.884 (0.887)  0.875   796        74 / 1

From scratch nothing tried reaches 0.06 in 3,000 iterations (5x the race); from the race SSD's trained
CNN (val mAP@0.5 0.942 / 0.944) the same DETR reaches 0.73 with 2 decoder layers and 0.81-0.85 with
DETR's 6, which notebook 06 uses for its "DETR from a trained backbone" section. With DETR's no-object
weight 0.1, NMS adds 0.048 / 0.095 to val mAP@0.5; with 0.4 (which gives the 7.5 unmatched queries of
an image about half the classification loss) 0.019 / 0.019 at 3,000 iterations and 0.004 / 0.009 at
6,000: trained longer with that weight, this DETR no longer needs NMS. Notebook 06 chooses the weight
on val from these runs. (The first runs' command lines in the record predate the BACKBONE_LR_FACTOR
argument and ``--eos-coef``: their factor was 1, their weight 0.1.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recording import continue_record, new_record, run_and_save  # noqa: E402  (this script's folder)

N_TRAIN, N_VAL, BATCH, CLIP = 4000, 300, 32, 0.1
SSD_ITERATIONS, SSD_LR = 600, 1e-2  # --start ssd: the race's SSD (notebook 06's budget and rate)


def scores(model, val) -> dict:
    """Val mAP@[.5:.95] and mAP@0.5 with NMS (as the race scores), and mAP@0.5 without it."""
    from helpers import shapes
    from helpers import tiny_detectors as td

    no_nms = td.evaluate_arm("DETR", model, *val, shapes.CLASSES, nms=False)["AP50"]
    return {**td.evaluate_arm("DETR", model, *val, shapes.CLASSES), "AP50_no_nms": no_nms}


def one_run(job: dict) -> dict:
    """Train one tiny DETR (in a worker process); its val curve, time and duplicate counts."""
    import torch

    from helpers import shapes
    from helpers import tiny_detectors as td
    from helpers.ssd import train_model

    torch.set_num_threads(job["threads"])
    train = shapes.make_split(N_TRAIN, seed=0)
    val = shapes.make_split(N_VAL, seed=1)
    start = {}
    if job["start"] == "ssd":  # as DETR starts from a pretrained backbone: the race's SSD, trained here first
        ssd, h = td.train_arm("SSD", job["seed"], train, val, shapes.CLASSES, iterations=SSD_ITERATIONS, lr=SSD_LR,
                              eval_every=SSD_ITERATIONS, progress=False)
        start = {"ssd_val_AP50": round(h["checkpoints"][-1]["AP50"], 4), "ssd_seconds": round(h["seconds"], 1)}
    torch.manual_seed(job["seed"])
    model = td.TinyDETR(len(shapes.CLASSES), positions=job["positions"], backbone_lr_factor=job["backbone_lr_factor"],
                        num_decoder_layers=job["decoder_layers"], eos_coef=job["eos_coef"])
    if job["start"] == "ssd":
        td.copy_backbone(ssd, model)
    its = job["iterations"]
    eval_at = set(range(job["eval_every"], its + 1, job["eval_every"])) | {its}
    history = train_model(model, *train, td.detr_batch_loss, iterations=its, batch_size=BATCH, lr=job["lr"],
                          seed=job["seed"], clip_grad=CLIP, progress=False,
                          evaluate=lambda m: scores(m, val), eval_at=eval_at)
    duplicates = {("nms" if nms else "no_nms"): td.count_duplicates(val[1], td.detect_arm("DETR", model, val[0], nms=nms))
                  for nms in (False, True)}
    return {"positions": job["positions"], "lr": job["lr"], "backbone_lr_factor": job["backbone_lr_factor"],
            "start": job["start"], **start, "decoder_layers": job["decoder_layers"], "eos_coef": job["eos_coef"],
            "seed": job["seed"],
            "iterations": its,
            "threads": job["threads"], "seconds": round(history["seconds"], 1),
            "checkpoints": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.items()}
                            for c in history["checkpoints"]],
            "final_losses": {k: round(sum(v[-50:]) / len(v[-50:]), 4) for k, v in history.items()
                             if k not in ("checkpoints", "seconds", "iterations") and isinstance(v, list)},
            "duplicates": duplicates}


def describe(run: dict) -> str:
    """One run's line: its settings, time, val curve and duplicate counts."""
    d = run["duplicates"]
    return (f"{run['positions']:11s} lr {run['lr']:g} x{run['backbone_lr_factor']:g} from {run['start']} "
            f"{run['decoder_layers']} dec. eos {run.get('eos_coef', 0.1):g} seed {run['seed']}: {run['iterations']} it. in {run['seconds']:.0f} s | "
            "val mAP@0.5 " + " ".join(f"{c['iteration']}:{c['AP50']:.3f}" for c in run["checkpoints"])
            + (f" | without NMS {run['checkpoints'][-1]['AP50_no_nms']:.3f}" if "AP50_no_nms" in run["checkpoints"][-1]
               else "")
            + f" | duplicates without / with NMS {d['no_nms']['duplicates']} / {d['nms']['duplicates']}"
            f" of {d['no_nms']['detections']} confident")


def main(argv=None) -> None:
    from helpers.recorded import load_recorded
    from helpers.tiny_detectors import TinyDETR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs=5, action="append", required=True,
                        metavar=("POSITIONS", "LR", "BACKBONE_LR_FACTOR", "SEED", "ITERATIONS"),
                        help="one run, repeatable")
    parser.add_argument("--start", choices=("scratch", "ssd"), default="scratch",
                        help="the CNN's start: random (the race's) or the race's SSD's, trained first")
    parser.add_argument("--decoder-layers", type=int, default=2, help="decoder layers (the race's DETR: 2; DETR: 6)")
    parser.add_argument("--eos-coef", type=float, nargs="+", default=[0.1],
                        help="no-object weight(s) of the set loss (DETR: 0.1); every run is made with each")
    parser.add_argument("--eval-every", type=int, default=500, help="score val every this many iterations")
    parser.add_argument("--jobs", type=int, default=2, help="trainings side by side (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training")
    parser.add_argument("--name", default="detr_convergence", help="record name (helpers/recorded/<name>.json)")
    parser.add_argument("--append", action="store_true", help="add the runs to the existing record")
    args = parser.parse_args(argv)
    try:
        runs = [(p, float(lr), float(f), int(seed), int(its)) for p, lr, f, seed, its in args.run]
    except ValueError:
        parser.error("--run POSITIONS LR BACKBONE_LR_FACTOR SEED ITERATIONS: LR and the factor numbers, SEED and "
                     "ITERATIONS integers")
    if any(p not in TinyDETR.POSITIONS for p, *_ in runs):
        parser.error(f"--run: POSITIONS is one of {TinyDETR.POSITIONS}")
    if not all(0 < lr < 1 and f > 0 and its > 0 for _, lr, f, _, its in runs) or min(args.eval_every, args.jobs, args.threads, args.decoder_layers) < 1:
        parser.error("learning rates between 0 and 1; factors, iterations, --eval-every, --jobs, --threads positive")
    if min(args.eos_coef) <= 0:
        parser.error("--eos-coef: positive weights")
    jobs = [{"positions": p, "lr": lr, "backbone_lr_factor": f, "start": args.start,
             "decoder_layers": args.decoder_layers, "eos_coef": eos, "seed": s, "iterations": its,
             "eval_every": args.eval_every, "threads": args.threads}
            for p, lr, f, s, its in runs for eos in args.eos_coef]
    record = new_record("detr_convergence.py", argv, {
        "train_images": N_TRAIN, "val_images": N_VAL, "batch_size": BATCH, "clip_grad": CLIP, "jobs": args.jobs,
        "threads_per_job": args.threads})
    if args.append:
        continue_record(record, load_recorded(args.name))
    print(f"{len(jobs)} runs, {args.jobs} at a time with {args.threads} thread(s) each; {record['machine']}", flush=True)
    run_and_save(one_run, jobs, args.jobs, args.name, record, describe)


if __name__ == "__main__":
    main()
