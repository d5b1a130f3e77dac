"""Pretrain a MobileNetV3-Large backbone offline on a generic synthetic task: which shapes are in the picture.

    python tools/pretrain_backbone.py [--steps 1500] [--batch-size 32] [--image-size 128] [--seed 0]

Where torchvision's ImageNet/COCO weights cannot be downloaded (CI, this project's machine),
notebook 05 still shows transfer learning: its detector starts from this backbone, trained
here on a task that has nothing to do with Batman - which of 8 geometric shapes (circle,
square, triangle, star, hexagon, cross, ring, diamond) is in the picture, in a random colour,
size, rotation, filled or outlined, over a noisy background cluttered with lines and blobs. Images are drawn on the fly from the
seed, so the run is reproducible (up to floating-point non-determinism of the CPU kernels).

Writes ``data/weights/mobilenet_v3_large_shapes.pt``: the ``features`` weights in float16
(about 6 MB) and how they were made (steps, seed, final loss and accuracy, time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross", "ring", "diamond")


def _polygon(cx, cy, r, n, angle, inner=None):
    pts = []
    for k in range(n * (2 if inner else 1)):
        rad = (inner if inner and k % 2 else 1.0) * r
        a = angle + k * np.pi / (n if inner else n / 2)
        pts.append((cx + rad * np.cos(a), cy + rad * np.sin(a)))
    return pts


def _draw_shape(draw: ImageDraw.ImageDraw, rng, shape: str, cx, cy, r, color, fill: bool):
    angle = rng.uniform(0, 2 * np.pi)
    kw = {"fill": color} if fill else {"outline": color, "width": max(2, int(r / 5))}
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], **kw)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=color, width=max(3, int(r / 3)))
    elif shape == "square":
        draw.polygon(_polygon(cx, cy, r, 4, angle), **kw)
    elif shape == "diamond":
        pts = _polygon(cx, cy, r, 4, angle)
        draw.polygon([((x - cx) * (0.55 if i % 2 else 1) + cx, (y - cy) * (0.55 if i % 2 else 1) + cy)
                      for i, (x, y) in enumerate(pts)], **kw)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy, r, 3, angle), **kw)
    elif shape == "hexagon":
        draw.polygon(_polygon(cx, cy, r, 6, angle), **kw)
    elif shape == "star":
        draw.polygon(_polygon(cx, cy, r, 5, angle, inner=0.45), **kw)
    elif shape == "cross":
        w = r / 3
        for a in (angle, angle + np.pi / 2):
            dx, dy = np.cos(a), np.sin(a)
            px, py = -dy * w, dx * w
            draw.polygon([(cx - r * dx + px, cy - r * dy + py), (cx + r * dx + px, cy + r * dy + py),
                          (cx + r * dx - px, cy + r * dy - py), (cx - r * dx - px, cy - r * dy - py)], fill=color)


def shapes_sample(seed: int, index: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """One picture (size, size, 3) uint8 and the index of the shape in it, deterministic in (seed, index)."""
    rng = np.random.default_rng([seed, index])
    base = rng.integers(0, 256, 3)
    noise = rng.normal(0, rng.uniform(5, 40), (size, size, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 12))):  # clutter: lines and blobs that are not shapes
        p = rng.uniform(0, size, 4)
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.6:
            draw.line(list(p), fill=col, width=int(rng.integers(1, 5)))
        else:
            draw.ellipse([p[0], p[1], p[0] + rng.uniform(3, 12), p[1] + rng.uniform(3, 12)], fill=col)
    k = int(rng.integers(len(SHAPES)))
    r = rng.uniform(0.15, 0.4) * size
    cx, cy = rng.uniform(r, size - r, 2)
    col = tuple(int(c) for c in rng.integers(0, 256, 3))
    _draw_shape(draw, rng, SHAPES[k], cx, cy, r, col, fill=bool(rng.random() < 0.6))
    return np.asarray(img), k


def batch(seed: int, start: int, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*(shapes_sample(seed, start + i, size) for i in range(n)), strict=True)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    # torchvision detectors normalise with ImageNet statistics: pretrain on the same input scale
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std, torch.tensor(ys)


def main(argv=None) -> int:
    from tqdm import tqdm

    from helpers.train import cpu_threads, warmup_cosine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "data" / "weights" / "mobilenet_v3_large_shapes.pt"))
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(cpu_threads())
    import torchvision

    model = torchvision.models.mobilenet_v3_large(num_classes=len(SHAPES))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(args.steps, min(100, args.steps // 10)))
    loss_fn = torch.nn.CrossEntropyLoss()
    losses, accs = [], []
    tic = time.perf_counter()
    bar = tqdm(range(args.steps), desc="pretraining on shapes", unit="step")
    model.train()
    for step in bar:
        x, y = batch(args.seed, step * args.batch_size, args.batch_size, args.image_size)
        logits = model(x)
        loss = loss_fn(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
        accs.append(float((logits.argmax(1) == y).float().mean()))
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", acc=f"{np.mean(accs[-50:]):.2f}")
    seconds = time.perf_counter() - tic
    # held-out check: images the training never drew (indices past the training stream)
    model.eval()
    with torch.no_grad():
        x, y = batch(args.seed + 1, 0, 256, args.image_size)
        held_out = float((model(x).argmax(1) == y).float().mean())
    meta = {"task": f"which of {len(SHAPES)} shapes is in the picture: {', '.join(SHAPES)}",
            "steps": args.steps, "batch_size": args.batch_size, "image_size": args.image_size, "lr": args.lr,
            "seed": args.seed, "final_loss": float(np.mean(losses[-50:])),
            "train_accuracy": float(np.mean(accs[-50:])), "held_out_accuracy": held_out,
            "seconds": round(seconds, 1), "threads": torch.get_num_threads(), "torch": torch.__version__}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.features.state_dict().items()}
    torch.save({"features": state, "meta": meta}, out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): {meta}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
