"""A tiny FCOS and a tiny DETR in torch, on TinySSD's backbone, trained from scratch (notebook 06).

Both use :func:`helpers.ssd.tiny_backbone`, the 6-layer CNN of notebook 02's small SSD, so the
three detectors of notebook 06's race differ only in what comes after it:

- :class:`TinyFCOS`: a small feature pyramid on the three maps (strides 8, 16, 32) and FCOS's
  shared head (class scores, ``(l, t, r, b)`` distances, centerness) at every point. Targets come
  from :mod:`helpers.fcos` (NumPy: no gradient flows through them); the loss is torchvision's
  FCOS loss: sigmoid focal loss, GIoU loss and centerness BCE, each divided by the number of
  positive points.
- :class:`TinyDETR`: the stride-16 map (plus the stride-32 map upsampled) as 36 tokens, a
  transformer encoder-decoder (DETR's layers) and a handful of learned queries, each
  predicting ``C + 1`` class logits and one normalised ``cxcywh`` box. Loss: Hungarian matching
  (:func:`helpers.detr.hungarian_match`, NumPy/SciPy on detached outputs) then DETR's set loss.
  With DETR's auxiliary losses (the set loss after every decoder layer), and DETR's placement of
  the positional information (added in every attention layer; ``positions="input"``: the common
  shortcut of adding it once, as DETR's own minimal demo and this course's first tiny DETR did).

:func:`helpers.ssd.train_model` trains all three; ``detect`` functions return per-image dicts
``{"boxes" xyxy pixels, "scores", "labels" 1..C}``, with or without NMS.
"""

from __future__ import annotations

import math

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss  # noqa: E402

from helpers import detr as _detr  # noqa: E402
from helpers import fcos as _fcos  # noqa: E402
from helpers.nms import batched_nms  # noqa: E402
from helpers.ssd import tiny_backbone, to_tensor  # noqa: E402
from helpers.validate import real  # noqa: E402

STRIDES = (8, 16, 32)


def _postprocess(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, size: int, nms_threshold: float | None,
                 max_detections: int) -> dict:
    boxes = np.clip(boxes, 0, size)
    ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
    if nms_threshold is None:
        keep = np.argsort(-scores, kind="stable")[:max_detections]
    else:
        keep = batched_nms(boxes, scores, labels, nms_threshold)[:max_detections]
    return {"boxes": boxes[keep], "scores": scores[keep].astype(np.float64), "labels": labels[keep].astype(np.int64)}


# ------------------------------------------------------------------------------------------ FCOS


class TinyFCOS(nn.Module):
    """FCOS on TinySSD's backbone: a top-down pyramid (``head_width`` channels) and a shared head.

    For an ``image_size`` of 96 the points are 12x12 + 6x6 + 3x3 = 189. ``range_factors`` set
    each level's regression range in strides (:func:`helpers.fcos.level_ranges`); torchvision's
    (4, 8) are made for 800-pixel images, where objects reach hundreds of pixels: on notebook 02's
    96-pixel images (objects 12-40 px) they put every object on the stride-8 level, while (1.5, 3)
    (ranges 0-24, 24-48, 48-inf px) still gives every object a positive point and uses two levels.
    ``forward`` returns ``cls_logits (B, P, C)``, ``ltrb (B, P, 4)`` in pixels, ``centerness (B, P)`` logits.
    """

    def __init__(self, num_classes: int, image_size: int = 96, width: int = 32, head_width: int = 64,
                 range_factors=(1.5, 3.0), center_radius: float = 1.5, prior: float = 0.01):
        super().__init__()
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        self.num_classes, self.image_size, self.center_radius = num_classes, image_size, center_radius
        self.stem, self.down, channels = tiny_backbone(width)
        self.lateral = nn.ModuleList(nn.Conv2d(c, head_width, 1) for c in channels)

        def tower():
            return nn.Sequential(*[m for _ in range(2) for m in (nn.Conv2d(head_width, head_width, 3, padding=1),
                                                                 nn.GroupNorm(8, head_width), nn.ReLU(inplace=True))])

        self.cls_tower, self.reg_tower = tower(), tower()
        self.cls_logits = nn.Conv2d(head_width, num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(head_width, 4, 3, padding=1)
        self.ctr_pred = nn.Conv2d(head_width, 1, 3, padding=1)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior) / prior))  # RetinaNet's prior
        self.feature_sizes = tuple(image_size // s for s in STRIDES)
        self.points, self.point_strides, self.levels = _fcos.feature_points(self.feature_sizes, STRIDES)
        self.ranges = _fcos.level_ranges(STRIDES, range_factors)

    def forward(self, x: torch.Tensor):
        f = self.stem(x)
        maps = [f]
        for layer in self.down:
            f = layer(f)
            maps.append(f)
        pyramid = [lat(m) for lat, m in zip(self.lateral, maps, strict=True)]
        for k in range(len(pyramid) - 2, -1, -1):  # top-down: add the coarser level, upsampled
            pyramid[k] = pyramid[k] + F.interpolate(pyramid[k + 1], size=pyramid[k].shape[-2:], mode="nearest")
        cls, box, ctr = [], [], []
        for p, s in zip(pyramid, STRIDES, strict=True):
            c, r = self.cls_tower(p), self.reg_tower(p)
            cls.append(self.cls_logits(c).flatten(2).transpose(1, 2))
            box.append((F.relu(self.bbox_pred(r)) * s).flatten(2).transpose(1, 2))  # distances in pixels
            ctr.append(self.ctr_pred(r).flatten(1))
        return torch.cat(cls, 1), torch.cat(box, 1), torch.cat(ctr, 1)

    def targets(self, targets: list):
        """Per-point labels (0 background), assigned boxes and centerness of a batch (NumPy)."""
        out = [_fcos.fcos_targets(self.points, self.point_strides, self.levels, t["boxes"], t["labels"], self.ranges,
                                  self.center_radius) for t in targets]
        return (np.stack([o[0] for o in out]), np.stack([o[1] for o in out]).astype(np.float32),
                np.stack([o[3] for o in out]).astype(np.float32))

    def decode(self, ltrb: torch.Tensor) -> torch.Tensor:
        pts = torch.as_tensor(self.points, dtype=ltrb.dtype)
        return torch.cat([pts - ltrb[..., :2], pts + ltrb[..., 2:]], dim=-1)


def fcos_batch_loss(model: TinyFCOS, batch: torch.Tensor, targets: list) -> dict:
    """torchvision's FCOS loss: focal + GIoU + centerness BCE, each summed and divided by #positives."""
    labels, boxes, ctr = model.targets(targets)
    cls_logits, ltrb, ctr_logits = model(batch)
    labels, boxes, ctr = torch.from_numpy(labels), torch.from_numpy(boxes), torch.from_numpy(ctr)
    fg = labels > 0
    n = max(1, int(fg.sum()))
    onehot = F.one_hot(labels, model.num_classes + 1)[..., 1:].to(cls_logits.dtype)
    pred_boxes = model.decode(ltrb)
    return {"classification": sigmoid_focal_loss(cls_logits, onehot, reduction="sum") / n,
            "bbox_regression": generalized_box_iou_loss(pred_boxes[fg], boxes[fg], reduction="sum") / n,
            "centerness": F.binary_cross_entropy_with_logits(ctr_logits[fg], ctr[fg], reduction="sum") / n}


@torch.no_grad()
def fcos_detect(model: TinyFCOS, images: np.ndarray, score_threshold: float = 0.05, nms_threshold: float | None = 0.6,
                max_detections: int = 100, batch_size: int = 64) -> list[dict]:
    """FCOS's inference: score ``sqrt(sigmoid(class) * sigmoid(centerness))``, decode, per-class NMS.

    ``nms_threshold=None`` skips NMS (the best ``max_detections`` above the threshold are kept).
    """
    model.eval()
    out = []
    for s in range(0, len(images), batch_size):
        cls_logits, ltrb, ctr_logits = model(to_tensor(images[s:s + batch_size]))
        scores = torch.sqrt(cls_logits.sigmoid() * ctr_logits.sigmoid()[..., None]).numpy()
        boxes = model.decode(ltrb).numpy().astype(np.float64)
        for sc, b in zip(scores, boxes, strict=True):
            point, cls = np.nonzero(sc > score_threshold)
            out.append(_postprocess(b[point], sc[point, cls], cls + 1, model.image_size, nms_threshold, max_detections))
    return out


# ------------------------------------------------------------------------------------------ DETR


class DETREncoderLayer(nn.Module):
    """DETR's encoder layer (post-norm, as the paper's code): the positions are added to the
    queries and keys of the self-attention, not to its values. ``src, pos: (B, N, d)``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = src + pos
        src = self.norm1(src + self.self_attn(q, q, src, need_weights=False)[0])
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class DETRDecoderLayer(nn.Module):
    """DETR's decoder layer (post-norm): the query embeddings are added to the queries (and keys)
    of the self-attention and to the queries of the cross-attention, the token positions to its
    keys. ``tgt, query_pos: (B, Q, d)``; ``memory, pos: (B, N, d)``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, tgt, memory, query_pos, pos) -> torch.Tensor:
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.self_attn(q, q, tgt, need_weights=False)[0])
        tgt = self.norm2(tgt + self.multihead_attn(tgt + query_pos, memory + pos, memory, need_weights=False)[0])
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class TinyDETR(nn.Module):
    """DETR on TinySSD's backbone: 36 tokens (6x6 at stride 16), a transformer, ``num_queries`` queries.

    ``positions`` says where the positional information enters:

    - ``"every_layer"`` (DETR's design, the default): the learned token positions are added to the
      keys of every attention over the tokens (and to the queries of the encoder's), the decoder
      starts from zeros and the learned query embeddings are added to its queries in every layer
      (:class:`DETREncoderLayer`, :class:`DETRDecoderLayer`);
    - ``"input"``: a common shortcut (DETR's own minimal demo): positions added once to the tokens,
      query embeddings as the decoder's input, ``torch.nn.Transformer``'s layers.

    ``eos_coef`` is the weight of the "no object" class in its set loss (:func:`detr_batch_loss`):
    DETR's 0.1 was set for 100 queries and about 7 objects per COCO image, where unmatched queries
    outnumber objects 13 to 1; with 10 queries and about 2.5 objects per image the same weight
    gives the unmatched queries (duplicates among them) far less say in the loss.

    ``backbone_lr_factor`` multiplies the learning rate of the CNN part (:meth:`param_groups`,
    used by :func:`helpers.ssd.train_model`): DETR fine-tunes a pretrained backbone 10x *slower*
    than its transformer; trained from scratch, as here, the CNN may need the opposite.

    ``forward`` returns ``logits (B, Q, C + 1)`` (last column: no object) and ``boxes (B, Q, 4)``
    normalised ``cxcywh`` in (0, 1).
    """

    POSITIONS = ("every_layer", "input")

    def __init__(self, num_classes: int, image_size: int = 96, width: int = 32, d_model: int = 64,
                 num_queries: int = 10, nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 128, positions: str = "every_layer", backbone_lr_factor: float = 1.0,
                 eos_coef: float = _detr.EOS_COEF):
        super().__init__()
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        if positions not in self.POSITIONS:
            raise ValueError(f"positions must be one of {self.POSITIONS}, got {positions!r}")
        self.eos_coef = real(eos_coef, "eos_coef", low=0.0, low_open=True)
        self.num_classes, self.image_size, self.num_queries = num_classes, image_size, num_queries
        self.positions, self.backbone_lr_factor = positions, float(backbone_lr_factor)
        self.stem, self.down, channels = tiny_backbone(width)
        self.proj16 = nn.Conv2d(channels[1], d_model, 1)
        self.proj32 = nn.Conv2d(channels[2], d_model, 1)
        self.grid = image_size // 16
        self.row_embed = nn.Parameter(torch.rand(self.grid, d_model // 2))  # DETR's learned positions
        self.col_embed = nn.Parameter(torch.rand(self.grid, d_model - d_model // 2))
        self.query_embed = nn.Parameter(torch.randn(num_queries, d_model) * 0.1)
        if positions == "input":
            self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                              dropout=0.0, batch_first=True)
        else:
            self.encoder = nn.ModuleList(DETREncoderLayer(d_model, nhead, dim_feedforward)
                                         for _ in range(num_encoder_layers))
            self.decoder = nn.ModuleList(DETRDecoderLayer(d_model, nhead, dim_feedforward)
                                         for _ in range(num_decoder_layers))
            self.decoder_norm = nn.LayerNorm(d_model)
        self.class_head = nn.Linear(d_model, num_classes + 1)
        self.box_head = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(inplace=True), nn.Linear(d_model, d_model),
                                      nn.ReLU(inplace=True), nn.Linear(d_model, 4))

    def param_groups(self, lr: float) -> list[dict]:
        """AdamW's parameter groups: the CNN (backbone and its projections to tokens) at
        ``lr * backbone_lr_factor``, the transformer, queries and heads at ``lr``."""
        cnn = [p for m in (self.stem, self.down, self.proj16, self.proj32) for p in m.parameters()]
        ids = {id(p) for p in cnn}
        return [{"params": cnn, "lr": lr * self.backbone_lr_factor},
                {"params": [p for p in self.parameters() if id(p) not in ids], "lr": lr}]

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's tokens ``(B, grid * grid, d)`` (row by row) and their positions ``(grid * grid, d)``."""
        f16 = self.down[0](self.stem(x))
        f32 = self.down[1](f16)
        tokens = self.proj16(f16) + F.interpolate(self.proj32(f32), size=f16.shape[-2:], mode="nearest")
        pos = torch.cat([self.row_embed[:, None, :].expand(-1, self.grid, -1),
                         self.col_embed[None, :, :].expand(self.grid, -1, -1)], dim=-1).flatten(0, 1)
        return tokens.flatten(2).transpose(1, 2), pos

    def forward_all(self, x: torch.Tensor):
        """Predictions after every decoder layer: logits (L, B, Q, C + 1), boxes (L, B, Q, 4)."""
        tokens, pos = self.tokens(x)
        hs = []
        if self.positions == "input":
            memory = self.transformer.encoder(tokens + pos)
            out = self.query_embed.expand(x.shape[0], -1, -1)
            for layer in self.transformer.decoder.layers:  # nn.Transformer's decoder, one layer at a time
                out = layer(out, memory)
                hs.append(self.transformer.decoder.norm(out))
        else:
            pos = pos.expand(x.shape[0], -1, -1)
            memory = tokens
            for layer in self.encoder:
                memory = layer(memory, pos)
            query_pos = self.query_embed.expand(x.shape[0], -1, -1)
            out = torch.zeros_like(query_pos)
            for layer in self.decoder:
                out = layer(out, memory, query_pos, pos)
                hs.append(self.decoder_norm(out))
        hs = torch.stack(hs)
        return self.class_head(hs), self.box_head(hs).sigmoid()

    def forward(self, x: torch.Tensor):
        logits, boxes = self.forward_all(x)
        return logits[-1], boxes[-1]


def detr_targets(targets: list, image_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each image's labels as ``0..C-1`` and boxes as normalised cxcywh, as DETR wants them."""
    out = []
    for t in targets:
        b = np.asarray(t["boxes"], np.float64).reshape(-1, 4) / image_size
        cxcywh = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
        out.append((np.asarray(t["labels"], np.int64) - 1, cxcywh))
    return out


def _cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], dim=-1)


def detr_set_loss(logits: torch.Tensor, boxes: torch.Tensor, targets: list, eos_coef: float = _detr.EOS_COEF,
                  cost_class: float = 1.0, cost_bbox: float = 5.0, cost_giou: float = 2.0) -> dict:
    """DETR's set loss of a batch, in torch, with the matching of :func:`helpers.detr.hungarian_match`.

    Parameters
    ----------
    logits : (B, Q, C + 1); boxes : (B, Q, 4) normalised cxcywh
    targets : B pairs ``(labels (T,) in 0..C-1, boxes (T, 4) normalised cxcywh)`` (:func:`detr_targets`)

    Returns
    -------
    dict of the weighted terms ``classification`` (``cost_class`` x weighted CE over all queries,
    no-object weight ``eos_coef``), ``bbox`` (``cost_bbox`` x L1) and ``giou`` (``cost_giou`` x
    (1 - GIoU)), the box terms summed over matched pairs and divided by the batch's number of
    targets (at least 1), as DETR's ``SetCriterion``. For one image, the unweighted terms equal
    :func:`helpers.detr.set_loss`.
    """
    num_classes = logits.shape[-1] - 1
    classes = torch.full(logits.shape[:2], num_classes, dtype=torch.int64)
    src, tgt = [], []
    for i, (labels, tboxes) in enumerate(targets):
        qi, ti = _detr.hungarian_match(logits[i].detach().double().numpy(), boxes[i].detach().double().numpy(),
                                       labels, tboxes, cost_class, cost_bbox, cost_giou)
        classes[i, torch.from_numpy(qi)] = torch.from_numpy(labels[ti])
        src.append(boxes[i, torch.from_numpy(qi)])
        tgt.append(torch.as_tensor(tboxes[ti], dtype=boxes.dtype))
    weight = torch.ones(num_classes + 1, dtype=logits.dtype)
    weight[-1] = eos_coef
    ce = F.cross_entropy(logits.flatten(0, 1), classes.flatten(), weight)
    n = max(1, sum(len(t[0]) for t in targets))
    src, tgt = torch.cat(src), torch.cat(tgt)
    l1 = F.l1_loss(src, tgt, reduction="sum") / n
    giou = generalized_box_iou_loss(_cxcywh_to_xyxy(src), _cxcywh_to_xyxy(tgt), reduction="sum") / n
    return {"classification": cost_class * ce, "bbox": cost_bbox * l1, "giou": cost_giou * giou}


def detr_batch_loss(model: TinyDETR, batch: torch.Tensor, targets: list, aux: bool = True) -> dict:
    """DETR's loss of a batch: the set loss of the last decoder layer, plus (``aux``) DETR's auxiliary
    set losses of the earlier layers, each with its own matching, through the same heads; the
    no-object weight is the model's ``eos_coef``."""
    logits, boxes = model.forward_all(batch)
    t = detr_targets(targets, model.image_size)
    layers = range(len(logits)) if aux else [len(logits) - 1]
    total = {}
    for k in layers:
        for name, value in detr_set_loss(logits[k], boxes[k], t, eos_coef=model.eos_coef).items():
            total[name] = total.get(name, 0) + value
    return total


@torch.no_grad()
def detr_detect(model: TinyDETR, images: np.ndarray, nms_threshold: float | None = None, batch_size: int = 64,
                score_threshold: float = 0.0, layer: int = -1) -> list[dict]:
    """DETR's inference: each query's best object class and its probability, its box; no NMS by default.

    ``layer`` picks the decoder layer whose predictions are read (the heads are shared, as the
    auxiliary losses train them after every layer): -1, the last, is the model's output.
    """
    model.eval()
    out = []
    for s in range(0, len(images), batch_size):
        logits, boxes = (t[layer] for t in model.forward_all(to_tensor(images[s:s + batch_size])))
        prob = logits.softmax(-1)[..., :-1]
        scores, cls = prob.max(-1)
        xyxy = (_cxcywh_to_xyxy(boxes) * model.image_size).numpy().astype(np.float64)
        for sc, c, b in zip(scores.numpy(), cls.numpy(), xyxy, strict=True):
            keep = sc >= score_threshold
            out.append(_postprocess(b[keep], sc[keep], c[keep] + 1, model.image_size, nms_threshold, model.num_queries))
    return out


# ------------------------------------------------------------------------------------------ diagnostics


def count_duplicates(ground_truth: list, detections: list, score_threshold: float = 0.5,
                     iou_threshold: float = 0.5) -> dict:
    """How many confident detections are duplicates: a second hit on an object already found.

    A detection with ``score >= score_threshold`` is a true positive when it overlaps a same-class
    object with IoU >= ``iou_threshold`` not yet claimed by a higher-scoring detection (greedy, as
    VOC's matching); a *duplicate* when its best such object was already claimed.

    Returns
    -------
    dict ``detections`` (confident ones), ``true_positives``, ``duplicates``, ``objects``.
    """
    from helpers.boxes import box_iou

    counts = {"detections": 0, "true_positives": 0, "duplicates": 0, "objects": 0}
    for gt, det in zip(ground_truth, detections, strict=True):
        gb, gl = np.asarray(gt["boxes"], float).reshape(-1, 4), np.asarray(gt["labels"])
        counts["objects"] += len(gb)
        keep = np.asarray(det["scores"]) >= score_threshold
        order = np.argsort(-np.asarray(det["scores"])[keep], kind="stable")
        db, dl = np.asarray(det["boxes"], float).reshape(-1, 4)[keep][order], np.asarray(det["labels"])[keep][order]
        counts["detections"] += len(db)
        if not len(db) or not len(gb):
            continue
        iou = box_iou(db, gb) * (dl[:, None] == gl[None, :])
        claimed = np.zeros(len(gb), bool)
        for row in iou:
            j = int(np.argmax(row))
            if row[j] < iou_threshold:
                continue
            if claimed[j]:
                counts["duplicates"] += 1
            else:
                claimed[j] = True
                counts["true_positives"] += 1
    return counts


# ------------------------------------------------------------------------------------------ the race


def _ssd_detect(model, images, nms_threshold: float | None = 0.45):
    from helpers.ssd import detect

    return detect(model, images, iou_threshold=1.0 if nms_threshold is None else nms_threshold)  # IoU > 1: none


def _arms() -> dict:
    from helpers.ssd import TinySSD, ssd_batch_loss

    return {
        "SSD": {"build": TinySSD, "loss": ssd_batch_loss, "detect": _ssd_detect, "train": {}},
        "FCOS": {"build": TinyFCOS, "loss": fcos_batch_loss, "detect": fcos_detect, "train": {}},
        "DETR": {"build": TinyDETR, "loss": detr_batch_loss, "detect": detr_detect, "train": {"clip_grad": 0.1}},
    }


#: The detectors of notebook 06's race, all on :func:`helpers.ssd.tiny_backbone`.
ARM_NAMES = ("SSD", "FCOS", "DETR")


def copy_backbone(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy the shared CNN (:func:`helpers.ssd.tiny_backbone`'s ``stem`` and ``down``) of a trained
    race model into another (e.g. a trained SSD's into a DETR, as DETR starts from a pretrained
    backbone); returns ``target``. The two must have the same backbone width."""
    for part in ("stem", "down"):
        getattr(target, part).load_state_dict(getattr(source, part).state_dict())
    return target


def build_arm(name: str, num_classes: int, seed: int = 0) -> nn.Module:
    """``name``'s model (one of :data:`ARM_NAMES`), its random weights seeded by ``seed``."""
    arms = _arms()
    if name not in arms:
        raise ValueError(f"unknown detector {name!r}; choose one of {ARM_NAMES}")
    torch.manual_seed(seed)
    return arms[name]["build"](num_classes)


def detect_arm(name: str, model: nn.Module, images: np.ndarray, nms: bool = True) -> list[dict]:
    """Detections of a race model; ``nms=False`` returns them before NMS (SSD: 0.45 and FCOS: 0.6 as torchvision; DETR, which needs none: 0.5)."""
    threshold = {"SSD": 0.45, "FCOS": 0.6, "DETR": 0.5}[name]
    return _arms()[name]["detect"](model, images, nms_threshold=threshold if nms else None)


def evaluate_arm(name: str, model: nn.Module, images: np.ndarray, targets: list, classes, nms: bool = True) -> dict:
    """COCO mAP@[.5:.95] (``"AP"``) and mAP@0.5 (``"AP50"``) of a race model on a split."""
    from helpers.detection import evaluate_predictions

    coco = evaluate_predictions(detect_arm(name, model, images, nms), targets, classes)["coco"]
    return {"AP": coco["AP"], "AP50": coco["AP50"]}


def train_arm(name: str, seed: int, train: tuple, val: tuple, classes, *, iterations: int, lr: float,
              eval_every: int, batch_size: int = 32, progress: bool | str = True, model: nn.Module | None = None):
    """Train race model ``name`` from scratch with :func:`helpers.ssd.train_model`, scored on val as it goes.

    Parameters
    ----------
    train, val : ``(images, targets)`` splits
    eval_every : the val split is scored every ``eval_every`` iterations and at the end (off the clock)
    progress : show a bar (a string names it; default "<name>, seed <seed>")
    model : train this model of kind ``name`` instead of a fresh one (e.g. one given a trained
        backbone with :func:`copy_backbone`); ``seed`` still sets the batches

    Returns
    -------
    model, history (``checkpoints``: ``iteration``, ``seconds``, ``AP``, ``AP50``)
    """
    from helpers.ssd import train_model

    model = build_arm(name, len(classes), seed) if model is None else model
    arm = _arms()[name]
    eval_at = set(range(eval_every, iterations + 1, eval_every)) | {iterations}
    label = progress if isinstance(progress, str) else f"{name}, seed {seed}"
    history = train_model(model, *train, arm["loss"], iterations=iterations, batch_size=batch_size, lr=lr, seed=seed,
                          progress=label if progress else False,
                          evaluate=lambda m: evaluate_arm(name, m, *val, classes), eval_at=eval_at,
                          **arm["train"])
    return model, history


# ------------------------------------------------------------------------------------------ torchvision's FCOS


def torchvision_fcos_targets(boxes, image_size: int, strides=STRIDES, center_radius: float = 1.5):
    """What torchvision's ``FCOS`` computes for one image: its matching and its centerness targets.

    Runs ``FCOS.compute_loss`` (the matching) and ``FCOSHead.compute_loss`` (the targets) on zero
    head outputs, with anchors from torchvision's ``AnchorGenerator`` (one anchor of size ``s`` per
    cell, centred on the cell's corner), and reads the centerness targets where torchvision hands
    them to ``binary_cross_entropy_with_logits``.

    Returns
    -------
    matched : (P,) int64 box per anchor point (-1 background); centerness : (F,) float32 targets
    of the foreground points, in point order.
    """
    from unittest import mock

    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.fcos import FCOS, FCOSHead
    from torchvision.models.detection.image_list import ImageList

    gen = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
    feats = [torch.zeros(1, 1, image_size // s, image_size // s) for s in strides]
    anchors = gen(ImageList(torch.zeros(1, 3, image_size, image_size), [(image_size, image_size)]), feats)[0]
    b = torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4))
    targets = [{"boxes": b, "labels": torch.zeros(len(b), dtype=torch.int64)}]
    head = FCOSHead(32, 1, 1, num_convs=1)
    n = len(anchors)
    outputs = {"cls_logits": torch.zeros(1, n, 1), "bbox_regression": torch.zeros(1, n, 4),
               "bbox_ctrness": torch.zeros(1, n, 1)}
    seen = []
    bce = F.binary_cross_entropy_with_logits

    def spy(input, target, *args, **kwargs):
        seen.append(target.detach().numpy().copy())
        return bce(input, target, *args, **kwargs)

    def head_loss(targets, head_outputs, anchors, matched_idxs):
        seen.append(matched_idxs[0].numpy().copy())
        with mock.patch("torch.nn.functional.binary_cross_entropy_with_logits", spy):
            return head.compute_loss(targets, outputs, anchors, matched_idxs)

    fake = type("FakeFCOS", (), {"center_sampling_radius": center_radius, "head": None})()
    fake.head = type("Head", (), {"compute_loss": staticmethod(head_loss)})()
    FCOS.compute_loss(fake, targets, outputs, [anchors], [f.shape[2] * f.shape[3] for f in feats])
    return seen[0], seen[-1]  # the matching; the centerness targets (the last BCE call)


def load_torchvision_fcos(min_size: int = 800):
    """torchvision's ``fcos_resnet50_fpn`` with its COCO weights when they load, else a random stand-in.

    ``COURSE_OFFLINE=1`` skips the download; otherwise the weights are read from torch hub's cache
    or downloaded (online or ``COURSE_ONLINE=1``). What is used is decided by what actually loaded.

    Returns
    -------
    model (eval mode), ``"coco"`` or ``"random"``, and one line saying what was used and why.
    """
    from pathlib import Path

    from torchvision.models import detection

    from helpers.env import forced_network, is_online
    from helpers.zoo import build_detector

    weights = detection.FCOS_ResNet50_FPN_Weights.COCO_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    forced = forced_network()
    if forced == "offline":
        why = "COURSE_OFFLINE=1"
    elif forced == "online" or cached.is_file() or is_online():
        try:
            state = weights.get_state_dict(progress=False)
            model = detection.fcos_resnet50_fpn(weights=None, weights_backbone=None, min_size=min_size)
            model.load_state_dict(state)
            return model.eval(), "coco", f"torchvision's COCO weights loaded ({Path(weights.url).name})"
        except (OSError, RuntimeError, EOFError) as err:
            why = f"the weights did not load ({type(err).__name__}: {str(err)[:80]})"
    else:
        why = "the network is not reachable"
    model = build_detector("fcos_resnet50_fpn", min_size=min_size)
    return model, "random", (f"offline stand-in ({why}): fcos_resnet50_fpn with random weights; its size, points and "
                             "time are real, its detections would mean nothing, so none are shown")


def time_training_steps(names, images: np.ndarray, targets: list, num_classes: int, *, rounds: int = 3,
                        steps: int = 5, batch_size: int = 32, seed: int = 0) -> dict:
    """Seconds per training step of each race model, timed in interleaved rounds (same batches for all).

    Each round times ``steps`` optimiser steps of every model in turn, so a change in the machine's
    load hits every model alike. Returns ``{name: array of per-round seconds per step}``.
    """
    import time


    arms = _arms()
    models = {n: build_arm(n, num_classes, seed) for n in names}
    optims = {n: torch.optim.AdamW(m.parameters(), lr=1e-4) for n, m in models.items()}
    rng = np.random.default_rng(seed)
    out = {n: [] for n in names}
    for _ in range(rounds):
        idx = [rng.choice(len(images), min(batch_size, len(images)), replace=False) for _ in range(steps)]
        for n in names:
            start = time.perf_counter()
            for i in idx:
                losses = arms[n]["loss"](models[n], to_tensor(images[i]), [targets[j] for j in i])
                optims[n].zero_grad(set_to_none=True)
                sum(losses.values()).backward()
                optims[n].step()
            out[n].append((time.perf_counter() - start) / steps)
    return {n: np.array(v) for n, v in out.items()}


def coco_category_names() -> list[str]:
    """The COCO category names (index = label) of torchvision's FCOS ResNet-50-FPN weights; no download."""
    from torchvision.models.detection import FCOS_ResNet50_FPN_Weights

    return list(FCOS_ResNet50_FPN_Weights.COCO_V1.meta["categories"])
