"""helpers.nms.nms vs torchvision.ops.nms on CPU, one thread, side by side in one run.

    python benchmarks/bench_nms.py                 # 1,000 / 5,000 / 20,000 boxes, 3 distributions
    python benchmarks/bench_nms.py --sizes 1000 --repeat 5

The problems are generated deterministically (helpers.boxgen, seed 0) from three distributions,
because NMS speed depends on how boxes overlap far more than on how many there are:

- uniform:   independent boxes, sides 10-200 px, over a 1000 x 1000 image (most are kept);
- clustered: a detector's raw output, ~100 jittered boxes per object (few are kept);
- large:     torchvision's own test recipe, boxes as large as the image (heavy overlap).

For each problem both functions run ``--repeat`` times or more (about a second's worth for
small problems), interleaved (so machine load hits both
alike); the median times and their ratio (torchvision / helpers, > 1: helpers is faster) are
printed, after checking that both return the same indices, and the fastest run of each, which
is what the code costs when the machine is not busy elsewhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402  (torch before anything that could import TensorFlow)
import torchvision  # noqa: E402

from helpers import boxgen  # noqa: E402
from helpers.nms import nms  # noqa: E402

DISTRIBUTIONS = {
    "uniform": lambda n: boxgen.uniform_boxes(n, seed=0),
    "clustered": lambda n: boxgen.clustered_boxes(n, seed=0)[:2],
    "large": lambda n: boxgen.large_boxes(n, seed=0),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--distributions", nargs="+", default=list(DISTRIBUTIONS), choices=list(DISTRIBUTIONS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {torch.get_num_threads()}, "
          f"IoU threshold {args.iou}, "
          f"median of at least {args.repeat} interleaved runs (more for small problems)")
    print(f"{'':<20} {'':>6} {'median ms':^21} {'':>6}  {'fastest run ms':^21}")
    print(f"{'distribution':<12} {'boxes':>7} {'kept':>6} {'torchvision':>10} {'helpers':>10} {'ratio':>6}  "
          f"{'torchvision':>10} {'helpers':>10} {'ratio':>6}")
    worst = float("inf")
    for name in args.distributions:
        for n in args.sizes:
            boxes, scores = DISTRIBUTIONS[name](n)
            tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
            ref = torchvision.ops.nms(tb, ts, args.iou).numpy()
            ours = nms(boxes, scores, args.iou)
            if not (ref.shape == ours.shape and (ref == ours).all()):
                print(f"MISMATCH on {name} {n}", file=sys.stderr)
                return 1
            start = time.perf_counter()
            torchvision.ops.nms(tb, ts, args.iou)
            nms(boxes, scores, args.iou)
            once = time.perf_counter() - start
            # small problems: more repeats (about a second in all), so that load spikes on a
            # shared machine do not decide the median
            repeat = int(min(max(args.repeat, 1.0 / max(once, 1e-6)), 300))
            t_ref, t_ours = [], []
            for _ in range(repeat):
                start = time.perf_counter()
                torchvision.ops.nms(tb, ts, args.iou)
                t_ref.append(time.perf_counter() - start)
                start = time.perf_counter()
                nms(boxes, scores, args.iou)
                t_ours.append(time.perf_counter() - start)
            m_ref, m_ours = statistics.median(t_ref) * 1e3, statistics.median(t_ours) * 1e3
            f_ref, f_ours = min(t_ref) * 1e3, min(t_ours) * 1e3
            ratio = m_ref / m_ours
            if name == "uniform":
                worst = min(worst, ratio)
            print(f"{name:<12} {n:>7} {len(ref):>6} {m_ref:>10.2f} {m_ours:>10.2f} {ratio:>6.2f}  "
                  f"{f_ref:>10.2f} {f_ours:>10.2f} {f_ref / f_ours:>6.2f}", flush=True)
    if worst != float("inf"):
        print(f"uniform boxes, medians: helpers is {worst:.2f}x torchvision's speed at worst (>= 1: no slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
