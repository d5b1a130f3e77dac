"""Choose notebook 02's TinySSD learning rate on the validation split (never the test split).

    PYTHONPATH=$PWD python benchmarks/tiny_ssd_sweep.py --iterations 600 --lrs 1e-3 3e-3 1e-2
    PYTHONPATH=$PWD python benchmarks/tiny_ssd_sweep.py --iterations 800 --lrs 1e-2 --seeds 1 2   # spread

Trains one TinySSD per learning rate on the training split of ``helpers.shapes`` (seed 0), and
prints each one's training time and mAP@0.5 (VOC all-point) on the validation split (seed 1).
Notebook 02 trains the chosen one longer and scores the test split (seed 2) once.
"""

from __future__ import annotations

import argparse

import torch

from helpers import metrics, shapes, ssd
from helpers.train import cpu_threads


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2])
    parser.add_argument("--train", type=int, default=4000, help="training images")
    parser.add_argument("--val", type=int, default=300, help="validation images")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="weight-init and batch-order seeds")
    args = parser.parse_args(argv)
    torch.set_num_threads(cpu_threads())
    train_images, train_targets = shapes.make_split(args.train, seed=0)
    val_images, val_targets = shapes.make_split(args.val, seed=1)
    print(f"torch threads {torch.get_num_threads()}, {args.iterations} iterations of 32 images per run")
    for lr in args.lrs:
        for seed in args.seeds:
            torch.manual_seed(seed)
            model = ssd.TinySSD(len(shapes.CLASSES))
            history = ssd.train_ssd(model, train_images, train_targets, iterations=args.iterations, lr=lr,
                                    seed=seed, progress=False)
            result = metrics.voc_evaluate(val_targets, ssd.detect(model, val_images), 0.5)
            print(f"lr {lr:g}, seed {seed}: {history['seconds']:.0f} s, final loss "
                  f"{sum(history['loss'][-50:]) / 50:.3f}, val mAP@0.5 {result['mAP']:.3f}", flush=True)


if __name__ == "__main__":
    main()
