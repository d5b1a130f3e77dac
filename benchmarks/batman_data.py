"""Time the Batman dataset: generating it, and loading it through the torch Dataset.

    python benchmarks/batman_data.py [--n-images 500] [--image-size 320]

Single process. Prints CPU seconds (this process only, so other jobs on the machine do not count)
and wall seconds for: generating ``n_images`` scenes; the reference, decoding the same JPEGs with
PIL (one pass over the files); one pass of ``VOCDetectionDataset`` without and with
``train_transforms()``. Ratios are against the reference measured in the same run.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch  # noqa: F401  (torch before anything else that might import TensorFlow)
from PIL import Image

from helpers.data import VOCDetectionDataset, make_batman_dataset, train_transforms


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=320)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "batman"
        _, gen_cpu, gen_wall = timed(lambda: make_batman_dataset(root, args.n_images, seed=0, image_size=args.image_size))
        files = sorted((root / "JPEGImages").glob("*.jpg"))
        _, ref_cpu, ref_wall = timed(lambda: [Image.open(f).convert("RGB").load() for f in files])
        plain = VOCDetectionDataset(root)
        _, ds_cpu, ds_wall = timed(lambda: [plain[i] for i in range(len(plain))])
        augmented = VOCDetectionDataset(root, transforms=train_transforms())
        _, aug_cpu, aug_wall = timed(lambda: [augmented[i] for i in range(len(augmented))])
        mib = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
    n = args.n_images
    print(f"{n} images of {args.image_size}x{args.image_size}, {mib:.1f} MiB on disk")
    print(f"{'step':<40} {'CPU s':>7} {'wall s':>7} {'CPU ms/img':>11} {'x reference':>12}")
    for name, cpu, wall in (("generate (make_batman_dataset)", gen_cpu, gen_wall),
                            ("reference: PIL decode of the JPEGs", ref_cpu, ref_wall),
                            ("VOCDetectionDataset, no transform", ds_cpu, ds_wall),
                            ("VOCDetectionDataset + train_transforms", aug_cpu, aug_wall)):
        print(f"{name:<40} {cpu:7.2f} {wall:7.2f} {1000 * cpu / n:11.1f} {cpu / ref_cpu:12.1f}")


if __name__ == "__main__":
    main()
