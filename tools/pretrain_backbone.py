"""Pretrain a detector offline on a generic synthetic task - finding geometric shapes - for transfer learning.

    python tools/pretrain_backbone.py [--minutes 40] [--iterations 3000] [--seed 0]

Where torchvision's COCO weights cannot be downloaded (CI, this project's machine), notebook 05
still shows transfer learning the way COCO pretraining works: a Faster R-CNN MobileNetV3-FPN
(the notebook's architecture and settings) first learns to *find objects* on a task that has
nothing to do with Batman - 8 geometric shapes (circle, square, triangle, star, hexagon, cross,
ring, diamond) in random colours, sizes and rotations, filled or outlined, on noisy, striped or
graded backgrounds cluttered with lines and blobs. Scenes are drawn on the fly from the seed, so
the run is reproducible (up to floating-point non-determinism and, with a time budget, where
the budget stops it).

Writes ``helpers/weights/mobilenet_v3_large_shapes.pt`` (inside the package, so a pip install
ships it): the parts that transfer - backbone (``features``), feature pyramid (``fpn``) and region
proposal network (``rpn``) - in float16 (about 10 MB), and how they were made; and its SHA-256 in
``mobilenet_v3_large_shapes.pt.sha256`` beside it, which ``helpers.detection`` checks on every
load. The box head, which names the 8 shapes, is left behind, as a COCO head is.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.detection import SHAPES_BACKBONE as SHAPES_CHECKPOINT  # noqa: E402
from helpers.detection import digest_path, write_digest  # noqa: E402

#: The detector pretrained here, in the same CPU-friendly configuration notebook 05 fine-tunes.
MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
MODEL_CONFIG = {"image_size": 256, "box_head_size": 256, "box_batch_size_per_image": 64}

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


def _background(rng, size: int) -> Image.Image:
    """Noise on a flat colour, a gradient, or stripes, cluttered with lines and blobs that are not shapes."""
    kind = int(rng.integers(3))
    base = rng.integers(0, 256, 3).astype(float)
    if kind == 0:
        arr = base + rng.normal(0, rng.uniform(5, 40), (size, size, 3))
    elif kind == 1:
        other = rng.integers(0, 256, 3).astype(float)
        t = np.linspace(0, 1, size)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, size)[None, :, None]
        arr = base * (1 - t) + other * t + rng.normal(0, 8, (size, size, 3))
    else:
        period = int(rng.integers(6, 30))
        stripes = (np.add.outer(np.arange(size), np.arange(size) * rng.choice([0, 1])) // period) % 2
        arr = np.where(stripes[..., None] == 1, base, rng.integers(0, 256, 3)) + rng.normal(0, 5, (size, size, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 15))):
        p = rng.uniform(0, size, 4)
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.6:
            draw.line(list(p), fill=col, width=int(rng.integers(1, 5)))
        else:
            draw.ellipse([p[0], p[1], p[0] + rng.uniform(3, 12), p[1] + rng.uniform(3, 12)], fill=col)
    return img


def shapes_scene(seed: int, index: int, size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene: (size, size, 3) uint8, boxes (N, 4) xyxy float, labels (N,) int64 in 1..8.

    2-6 shapes in random colours, sizes (8-35 % of the side), rotations, filled or outlined,
    over :func:`_background`; deterministic in ``(seed, index)``. Boxes are the drawn pixels'
    extent (a shape partly covered by a later one keeps its full box, as a labeller would draw).
    """
    rng = np.random.default_rng([seed, index])
    img = _background(rng, size)
    draw = ImageDraw.Draw(img)
    boxes, labels = [], []
    for _ in range(int(rng.integers(2, 7))):
        k = int(rng.integers(len(SHAPES)))
        r = rng.uniform(0.04, 0.175) * size
        cx, cy = rng.uniform(r, size - r, 2)
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        fill = bool(rng.random() < 0.6)
        mask = Image.new("L", (size, size), 0)
        _draw_shape(ImageDraw.Draw(mask), np.random.default_rng([seed, index, len(boxes)]), SHAPES[k], cx, cy, r, 255, fill)
        ys, xs = np.nonzero(np.asarray(mask))
        if xs.size < 20:
            continue
        _draw_shape(draw, np.random.default_rng([seed, index, len(boxes)]), SHAPES[k], cx, cy, r, col, fill)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        labels.append(k + 1)
    return np.asarray(img), np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)


class ShapesDetection(torch.utils.data.Dataset):
    """``n`` scenes of :func:`shapes_scene` as a torchvision detection dataset (drawn on access)."""

    def __init__(self, n: int, seed: int = 0, size: int = 256):
        self.n, self.seed, self.size = n, seed, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        img, boxes, labels = shapes_scene(self.seed, i, self.size)
        return (torch.from_numpy(img).permute(2, 0, 1).float() / 255.0,
                {"boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels)})


def main(argv=None) -> int:
    from helpers.detection import build_detector
    from helpers.train import cpu_threads, train_detector

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=40.0, help="wall-clock budget (stops earlier)")
    parser.add_argument("--images", type=int, default=20000, help="distinct scenes (drawn on the fly)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(SHAPES_CHECKPOINT))
    args = parser.parse_args(argv)
    torch.set_num_threads(cpu_threads())
    torch.manual_seed(args.seed)
    model = build_detector(MODEL, len(SHAPES), weights=None, **MODEL_CONFIG)
    data = ShapesDetection(args.images, seed=args.seed, size=256)
    hist = train_detector(model, data, iterations=args.iterations, batch_size=4, lr=0.02, warmup=50,
                          time_budget_s=60 * args.minutes, seed=args.seed, desc="pretraining on shapes")
    # a quick check on scenes never drawn in training (another seed)
    from helpers.detection import evaluate_predictions, predict

    scenes = [shapes_scene(args.seed + 1, i, 256) for i in range(50)]
    preds = predict(model, [img for img, _, _ in scenes])
    check = evaluate_predictions(preds, [{"boxes": b, "labels": lab} for _, b, lab in scenes], SHAPES)["coco"]
    meta = {"task": f"detect {len(SHAPES)} shapes ({', '.join(SHAPES)}) on random cluttered backgrounds",
            "model": MODEL, "config": MODEL_CONFIG, "iterations": len(hist["iteration"]), "batch_size": 4,
            "minutes": round(float(np.sum(hist["seconds"])) / 60, 1), "seed": args.seed, "images": args.images,
            "final_loss": float(np.mean(hist["loss"][-50:])), "held_out_AP50": round(check["AP50"], 3),
            "held_out_AP": round(check["AP"], 3), "threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    out = save_backbone(model, meta, args.out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB) and its SHA-256 "
          f"({digest_path(out).name}): {meta}")
    return 0


def save_backbone(model: torch.nn.Module, meta: dict, out) -> Path:
    """Write the parts of ``model`` that transfer (float16) with ``meta`` to ``out``, and its SHA-256
    beside it (``<out>.sha256``, which :func:`helpers.detection.load_backbone_state` checks)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    state = {part: {k.removeprefix(prefix): v for k, v in half.items() if k.startswith(prefix)}
             for part, prefix in (("features", "backbone.body."), ("fpn", "backbone.fpn."), ("rpn", "rpn."))}
    torch.save({**state, "meta": meta}, out)
    write_digest(out)
    return out


if __name__ == "__main__":
    sys.exit(main())
