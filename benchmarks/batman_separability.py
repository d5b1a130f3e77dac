"""Are the Batman classes learnable and distinguishable from their look-alikes? A crop check.

    python benchmarks/batman_separability.py

Generates 400 images (seed 11, "sketch" held out), cuts out every labelled object and every
look-alike (boxes from batman.json), resizes the crops to 48x48 and trains a small CNN from
scratch for 12 epochs on the train split (6 classes: the five plus "lookalike"). Prints the
accuracy on the val+test crops in the styles seen in training and in the held-out style, and the
confusion matrix of the seen styles. Takes a few minutes on 2 CPU cores.
"""

import json
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

from helpers.data import CLASSES, make_batman_dataset, read_split

NAMES = [*CLASSES, "lookalike"]


def crops(root):
    """48x48 crops of every labelled object and look-alike: (X, y, split, style)."""
    meta = {r["id"]: r for r in json.loads((root / "batman.json").read_text())["images"]}
    xs, ys, splits, styles = [], [], [], []
    for rec in read_split(root):
        image = Image.open(rec["image_path"]).convert("RGB")
        info = meta[rec["xml_path"].stem]
        items = [(b, CLASSES.index(n), s) for b, n, s in zip(rec["boxes"], rec["names"], info["styles"], strict=True)]
        items += [(d["box"], len(CLASSES), d["style"]) for d in info["distractors"]]
        for box, label, style in items:
            xs.append(np.asarray(image.crop(tuple(int(v) for v in box)).resize((48, 48))))
            ys.append(label)
            splits.append(info["split"])
            styles.append(style)
    x = torch.tensor(np.stack(xs)).permute(0, 3, 1, 2).float() / 255
    return x, torch.tensor(ys), np.array(splits), np.array(styles)


def main():
    torch.manual_seed(0)
    root = __import__("pathlib").Path(tempfile.mkdtemp()) / "batman"
    make_batman_dataset(root, 400, seed=11, holdout_style="sketch")
    x, y, splits, styles = crops(root)
    train = torch.tensor(splits == "train")
    xtr, ytr = x[train], y[train]
    print(f"train crops {len(xtr)} (per class {torch.bincount(ytr).tolist()}), evaluation crops {int((~train).sum())}")
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(96 * 36, 128), nn.ReLU(), nn.Linear(128, len(NAMES)),
    )
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    start = time.time()
    for _ in range(12):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = perm[i:i + 64]
            xb = xtr[idx]
            xb = torch.where((torch.rand(len(xb)) < 0.5)[:, None, None, None], xb.flip(3), xb)
            loss = nn.functional.cross_entropy(net(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(x[~train]).argmax(1)
    truth = y[~train]
    seen = torch.tensor(styles[~train.numpy()] != "sketch")
    acc_seen = (pred[seen] == truth[seen]).float().mean()
    acc_new = (pred[~seen] == truth[~seen]).float().mean()
    print(f"trained in {time.time() - start:.0f} s; accuracy on seen styles {acc_seen:.3f} (n={int(seen.sum())}), "
          f"on the held-out 'sketch' style {acc_new:.3f} (n={int((~seen).sum())})")
    cm = torch.zeros(len(NAMES), len(NAMES), dtype=torch.long)
    for a, b in zip(truth[seen].tolist(), pred[seen].tolist(), strict=True):
        cm[a, b] += 1
    print("confusion (rows: truth, columns: prediction), seen styles:", *NAMES)
    for name, row in zip(NAMES, cm.tolist(), strict=True):
        print(f"{name:>13}", row)


if __name__ == "__main__":
    main()
