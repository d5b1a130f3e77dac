"""A small SSD in torch, trained from scratch: targets, the SSD loss, training and detection.

The pieces are the course's own: default boxes (:func:`helpers.anchors.ssd_default_boxes`),
matching (:func:`helpers.anchors.ssd_match`), encoding (:func:`helpers.boxes.encode_boxes`),
decoding (:func:`helpers.boxes.decode_boxes`) and NMS (:func:`helpers.nms.batched_nms`) are
NumPy; they produce targets and post-process outputs, where no gradient flows. The loss itself
(:func:`ssd_loss`) is torch, because training needs its gradient: it is notebook 01's softmax
cross-entropy and smooth L1 (there checked against ``torch.nn.functional``), plus SSD's 3:1
hard-negative mining, and it equals torchvision's ``SSD.compute_loss`` on the same inputs.

Boxes are ``xyxy`` float pixels; class 0 is background, objects are ``1..num_classes``.
"""

from __future__ import annotations

import time

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from helpers import anchors as _anchors  # noqa: E402
from helpers.boxes import box_iou, decode_boxes, encode_boxes  # noqa: E402
from helpers.nms import batched_nms  # noqa: E402

#: SSD's box-coder weights: its "variances" (0.1, 0.1, 0.2, 0.2) as torchvision writes them.
SSD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def ssd_targets(anchors, targets, iou_threshold: float = 0.5, weights=SSD_WEIGHTS, dtype=np.float32):
    """Per-anchor training targets of a batch: class labels and encoded box offsets.

    Parameters
    ----------
    anchors : (A, 4) xyxy default boxes
    targets : list of B dicts ``{"boxes": (K, 4) xyxy, "labels": (K,) int in 1..C}``
    iou_threshold : SSD's matching threshold (:func:`helpers.anchors.ssd_match`)
    weights : box-coder weights (:func:`helpers.boxes.encode_boxes`)
    dtype : dtype of ``offsets`` (float32 for training; encoding is done in float64)

    Returns
    -------
    labels : (B, A) int64, 0 for background
    offsets : (B, A, 4) ``dtype`` encoded ``(dx, dy, dw, dh)``, zero where the label is 0
    matched : (B, A) int64 matched ground-truth index, -1 for background
    """
    anchors = np.asarray(anchors, np.float64)
    n = len(targets)
    labels = np.zeros((n, len(anchors)), np.int64)
    offsets = np.zeros((n, len(anchors), 4), dtype)
    matched = np.full((n, len(anchors)), -1, np.int64)
    for i, t in enumerate(targets):
        gt = np.asarray(t["boxes"], np.float64).reshape(-1, 4)
        if len(gt) == 0:
            continue
        m = _anchors.ssd_match(box_iou(gt, anchors), iou_threshold)
        fg = np.flatnonzero(m >= 0)
        matched[i] = m
        labels[i, fg] = np.asarray(t["labels"])[m[fg]]
        offsets[i, fg] = encode_boxes(gt[m[fg]], anchors[fg], weights)
    return labels, offsets, matched


def hard_negative_mask(cls_loss: torch.Tensor, labels: torch.Tensor, neg_to_pos_ratio: float = 3.0) -> torch.Tensor:
    """SSD's hard-negative mining: per image, the ``ratio x #positives`` background anchors of highest loss.

    Parameters
    ----------
    cls_loss : (B, A) per-anchor classification loss
    labels : (B, A) int, 0 for background
    neg_to_pos_ratio : negatives kept per positive (SSD: 3)

    Returns
    -------
    (B, A) bool mask of the selected negatives (never a positive; none in an image without positives).
    When an image has fewer than ``ratio x #positives`` negatives, all of them are taken; torchvision's
    ``SSD.compute_loss`` would then count some positives a second time (they sort last, after the
    negatives), which never happens with SSD's thousands of default boxes and is avoided here.
    """
    positive = labels > 0
    num_neg = (neg_to_pos_ratio * positive.sum(1, keepdim=True)).clamp(max=(~positive).sum(1, keepdim=True))
    loss = cls_loss.detach().masked_fill(positive, -float("inf"))
    rank = loss.argsort(1, descending=True).argsort(1)  # rank of each anchor's loss within its image
    return (rank < num_neg) & ~positive


def ssd_loss(cls_logits: torch.Tensor, bbox_regression: torch.Tensor, labels, offsets,
             neg_to_pos_ratio: float = 3.0, beta: float = 1.0) -> dict:
    """The SSD loss: (softmax CE on positives + mined negatives + smooth L1 on positives) / #positives.

    Parameters
    ----------
    cls_logits : (B, A, C + 1) class scores (column 0: background)
    bbox_regression : (B, A, 4) predicted encoded offsets
    labels, offsets : targets from :func:`ssd_targets` (arrays or tensors)
    neg_to_pos_ratio : hard negatives per positive (SSD: 3:1)
    beta : smooth L1's switch point (SSD and torchvision: 1)

    Returns
    -------
    dict with ``"classification"`` and ``"bbox_regression"`` (scalars, each divided by the
    number of positives in the batch, at least 1), as torchvision's ``SSD.compute_loss``.
    """
    labels = torch.as_tensor(labels, device=cls_logits.device)
    offsets = torch.as_tensor(offsets, device=cls_logits.device, dtype=bbox_regression.dtype)
    if cls_logits.shape[:2] != labels.shape or bbox_regression.shape != (*labels.shape, 4):
        raise ValueError(f"shapes disagree: cls_logits {tuple(cls_logits.shape)}, bbox_regression "
                         f"{tuple(bbox_regression.shape)}, labels {tuple(labels.shape)}")
    positive = labels > 0
    n = max(1, int(positive.sum()))
    cls_loss = F.cross_entropy(cls_logits.flatten(0, 1), labels.flatten(), reduction="none").view(labels.shape)
    negative = hard_negative_mask(cls_loss, labels, neg_to_pos_ratio)
    box_loss = F.smooth_l1_loss(bbox_regression[positive], offsets[positive], beta=beta, reduction="sum")
    return {"bbox_regression": box_loss / n,
            "classification": (cls_loss[positive].sum() + cls_loss[negative].sum()) / n}


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def tiny_backbone(width: int = 32) -> tuple[nn.Sequential, nn.ModuleList, tuple[int, int, int]]:
    """TinySSD's 6-layer CNN: ``stem`` (stride 8) and two ``down`` layers (strides 16, 32).

    Returns
    -------
    stem, down, channels: the modules, and the channels of the three maps ``(2 w, 4 w, 4 w)``.
    Notebook 06 builds its tiny FCOS and DETR on the same layers.
    """
    w = width
    stem = nn.Sequential(_block(3, w // 2, 2), _block(w // 2, w, 2), _block(w, 2 * w, 2), _block(2 * w, 2 * w, 1))
    down = nn.ModuleList([_block(2 * w, 4 * w, 2), _block(4 * w, 4 * w, 2)])
    return stem, down, (2 * w, 4 * w, 4 * w)


class TinySSD(nn.Module):
    """A small SSD: a 6-layer CNN and a 3x3 prediction head on each of three feature maps.

    For an ``image_size`` of 96 the maps are 12x12 (stride 8), 6x6 (16) and 3x3 (32), with 4
    default boxes per cell (:func:`helpers.anchors.ssd_default_boxes`, ratios 1 and 2, scales
    ``scales``): 756 anchors. Each head predicts, per default box, C + 1 class logits and 4
    offsets. ``forward`` returns ``(cls_logits (B, A, C + 1), bbox_regression (B, A, 4))`` in
    the anchors' order (map by map, cell by cell, box by box).
    """

    def __init__(self, num_classes: int, image_size: int = 96, width: int = 32,
                 scales=(0.15, 0.3, 0.5, 0.75), aspect_ratios=((2,), (2,), (2,))):
        super().__init__()
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        self.num_classes = num_classes
        self.stem, self.down, channels = tiny_backbone(width)
        self.feature_sizes = tuple(image_size // s for s in (8, 16, 32))
        per_cell = _anchors.ssd_boxes_per_location(aspect_ratios)
        self.cls_heads = nn.ModuleList(nn.Conv2d(c, k * (num_classes + 1), 3, padding=1) for c, k in zip(channels, per_cell, strict=True))
        self.box_heads = nn.ModuleList(nn.Conv2d(c, k * 4, 3, padding=1) for c, k in zip(channels, per_cell, strict=True))
        self.anchors = _anchors.ssd_default_boxes(self.feature_sizes, aspect_ratios, scales=scales, image_size=image_size)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.stem(x)
        maps = [f]
        for layer in self.down:
            f = layer(f)
            maps.append(f)
        return maps

    def forward(self, x: torch.Tensor):
        cls, box = [], []
        for f, ch, bh in zip(self.feature_maps(x), self.cls_heads, self.box_heads, strict=True):
            b = x.shape[0]
            cls.append(ch(f).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes + 1))
            box.append(bh(f).permute(0, 2, 3, 1).reshape(b, -1, 4))
        return torch.cat(cls, 1), torch.cat(box, 1)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def _flip(images: np.ndarray, targets: list, flip: np.ndarray):
    """Horizontal flips of the images marked in ``flip`` (and of their boxes)."""
    images = images.copy()
    images[flip] = images[flip, :, ::-1]
    width = images.shape[2]
    out = []
    for t, f in zip(targets, flip, strict=True):
        b = np.asarray(t["boxes"], float).reshape(-1, 4).copy()
        if f:
            b[:, [0, 2]] = width - b[:, [2, 0]]
        out.append({"boxes": b, "labels": t["labels"]})
    return images, out


def ssd_batch_loss(model: TinySSD, batch: torch.Tensor, targets: list) -> dict:
    """:func:`ssd_loss` of ``model`` on a batch: targets from its default boxes, then the forward pass."""
    labels, offsets, _ = ssd_targets(model.anchors, targets)
    cls_logits, bbox_regression = model(batch)
    return ssd_loss(cls_logits, bbox_regression, labels, offsets)


def train_ssd(model: TinySSD, images: np.ndarray, targets: list, *, iterations: int, batch_size: int = 32,
              lr: float = 3e-3, weight_decay: float = 5e-4, warmup: int = 50, seed: int = 0,
              flip: bool = True, progress: bool = True) -> dict:
    """Train ``model`` with AdamW, linear warm-up then cosine decay, on random batches.

    Parameters
    ----------
    images : (N, H, W, 3) uint8 training images
    targets : N dicts ``{"boxes": (K, 4) xyxy, "labels": (K,) int in 1..C}``
    iterations : optimiser steps
    batch_size, lr, weight_decay, warmup : the usual
    seed : seeds the batch order and the flips (the initial weights come from ``torch.manual_seed``
        before the model is built)
    flip : random horizontal flips
    progress : a tqdm bar

    Returns
    -------
    dict of per-iteration lists ``loss``, ``classification``, ``bbox_regression``, and
    ``seconds`` (total training wall time) and ``iterations``.
    """
    return train_model(model, images, targets, ssd_batch_loss, iterations=iterations, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, warmup=warmup, seed=seed, flip=flip, progress=progress)


def train_model(model: nn.Module, images: np.ndarray, targets: list, batch_loss, *, iterations: int,
                batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 5e-4, warmup: int = 50,
                seed: int = 0, flip: bool = True, progress: bool | str = True, clip_grad: float | None = None,
                evaluate=None, eval_at=()) -> dict:
    """The training loop of :func:`train_ssd` for any detector: AdamW, warm-up + cosine, random batches.

    Parameters
    ----------
    batch_loss : ``batch_loss(model, batch (B, 3, H, W) tensor, targets) -> dict of scalar losses``,
        summed for the gradient
    clip_grad : clip the gradient's norm to this (DETR: 0.1), or None
    lr : the learning rate; a model with a ``param_groups(lr)`` method (the tiny DETR) sets its parts'
        own rates from it
    progress : a tqdm bar; a string names it (default "training")
    evaluate : ``evaluate(model) -> dict``, called after each iteration listed in ``eval_at``
        (outside the training clock; the model is put back in training mode after it)
    Other parameters as :func:`train_ssd`.

    Returns
    -------
    dict of per-iteration lists ``loss`` and one per loss term, ``seconds`` (training wall time,
    evaluations excluded), ``iterations``, and ``checkpoints``: a list of
    ``{"iteration", "seconds", **evaluate(model)}``.
    """
    from helpers.train import warmup_cosine

    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    if len(images) != len(targets) or len(images) < 1:
        raise ValueError(f"need as many targets as images (and at least one), got {len(images)} and {len(targets)}")
    rng = np.random.default_rng(seed)
    groups = model.param_groups(lr) if hasattr(model, "param_groups") else model.parameters()  # per-part rates
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(iterations, warmup))
    history = {"loss": [], "checkpoints": []}
    eval_at = set(eval_at)
    steps = range(iterations)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=progress if isinstance(progress, str) else "training", mininterval=2.0)
    model.train()
    seconds = 0.0
    for it in steps:
        start = time.perf_counter()
        idx = rng.choice(len(images), min(batch_size, len(images)), replace=False)
        batch, batch_targets = images[idx], [targets[i] for i in idx]
        if flip:
            batch, batch_targets = _flip(batch, batch_targets, rng.random(len(idx)) < 0.5)
        losses = batch_loss(model, to_tensor(batch), batch_targets)
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        optimizer.step()
        schedule.step()
        history["loss"].append(loss.item())
        for k, v in losses.items():
            history.setdefault(k, []).append(v.item())
        seconds += time.perf_counter() - start
        if evaluate is not None and it + 1 in eval_at:
            history["checkpoints"].append({"iteration": it + 1, "seconds": seconds, **evaluate(model)})
            model.train()
    history["seconds"] = seconds
    history["iterations"] = iterations
    return history


@torch.no_grad()
def detect(model: TinySSD, images: np.ndarray, score_threshold: float = 0.05, iou_threshold: float = 0.45,
           max_detections: int = 100, batch_size: int = 64) -> list[dict]:
    """Detections of ``model`` on ``images``: softmax, decode, per-class NMS, best ``max_detections``.

    Parameters
    ----------
    images : (N, H, W, 3) uint8
    score_threshold : drop (box, class) pairs scoring below it
    iou_threshold : NMS threshold (:func:`helpers.nms.batched_nms`, suppresses IoU > threshold)

    Returns
    -------
    list of N dicts ``{"boxes": (D, 4) xyxy clipped to the image, "scores": (D,), "labels": (D,) in 1..C}``
    """
    model.eval()
    out = []
    size = images.shape[1]
    for s in range(0, len(images), batch_size):
        cls_logits, bbox_regression = model(to_tensor(images[s:s + batch_size]))
        probs = cls_logits.softmax(-1)[..., 1:].numpy()
        deltas = bbox_regression.numpy().astype(np.float64)
        for p, d in zip(probs, deltas, strict=True):
            decoded = np.clip(decode_boxes(d, model.anchors, SSD_WEIGHTS), 0, size)
            anchor_idx, cls = np.nonzero(p > score_threshold)
            b, sc, lab = decoded[anchor_idx], p[anchor_idx, cls], cls + 1
            ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
            b, sc, lab = b[ok], sc[ok], lab[ok]
            keep = batched_nms(b, sc, lab, iou_threshold)[:max_detections]
            out.append({"boxes": b[keep], "scores": sc[keep].astype(np.float64), "labels": lab[keep].astype(np.int64)})
    return out
