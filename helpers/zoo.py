"""torchvision's detector zoo, measured: parameters, multiply-adds and the CPU latency of each
architecture's weight-independent parts, next to the COCO box AP torchvision publishes for its
pretrained weights.

Models are built **without weights** (``weights=None, weights_backbone=None``), so nothing is
downloaded: parameters, multiply-adds and latency belong to the architecture and are the same
with random weights; the accuracy comes from the weight enums' metadata, which torchvision
ships offline (``FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta``; see
https://pytorch.org/vision/stable/models.html#object-detection).

Multiply-adds are counted with ``torch.utils.flop_counter.FlopCounterMode``: it counts
convolutions and matrix products as 2 FLOPs per multiply-accumulate, so ``MACs = FLOPs / 2``.
Element-wise work (activations, normalisation, box decoding, NMS) is not counted.

What a detector costs splits into parts that do not depend on the weights (the backbone with its
FPN, the dense heads, the second stage on a fixed number of proposals: :func:`architecture_cost`)
and post-processing (score threshold, box decoding, NMS) whose cost depends on how many boxes pass
the score threshold, i.e. on the weights: with random weights nearly every anchor passes
(:func:`ssd_nms_candidates`), so timing a random-weight detector end to end mostly times NMS.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping

import numpy as np

from helpers.env import check_torch_import_order

check_torch_import_order()

import torch  # noqa: E402
import torchvision  # noqa: E402  (also registers torchvision's ops)
from torchvision.models import detection  # noqa: E402

#: builder name -> (display name, weight enum, published weights use FrozenBatchNorm2d in the backbone).
#: With pretrained weights torchvision freezes the backbone's batch norm (its affine parameters
#: become buffers); built from scratch it keeps ``nn.BatchNorm2d``. ``build_detector`` restores
#: the published layout so parameter counts match ``meta["num_params"]``.
DETECTORS: dict[str, tuple[str, str, bool]] = {
    "ssd300_vgg16": ("SSD300 VGG16", "SSD300_VGG16_Weights", False),
    "ssdlite320_mobilenet_v3_large": ("SSDlite320 MobileNetV3-L", "SSDLite320_MobileNet_V3_Large_Weights", False),
    "fasterrcnn_resnet50_fpn": ("Faster R-CNN R50-FPN", "FasterRCNN_ResNet50_FPN_Weights", True),
    "fasterrcnn_mobilenet_v3_large_fpn": ("Faster R-CNN MobileNetV3-L FPN", "FasterRCNN_MobileNet_V3_Large_FPN_Weights", True),
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("Faster R-CNN MobileNetV3-L 320 FPN", "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights", True),
    "retinanet_resnet50_fpn": ("RetinaNet R50-FPN", "RetinaNet_ResNet50_FPN_Weights", True),
    "fcos_resnet50_fpn": ("FCOS R50-FPN", "FCOS_ResNet50_FPN_Weights", True),
}


def _check_name(name: str) -> None:
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def published(name: str) -> dict:
    """What torchvision publishes for ``name``'s COCO weights (read offline from the weight enum).

    Returns
    -------
    dict with ``box_ap`` (COCO val2017 box mAP@[.5:.95], %), ``gflops`` (torchvision's ``_ops``
    column, which it labels GFLOPS), ``num_params`` and ``weights`` (the enum member's name).
    """
    _check_name(name)
    weights = getattr(detection, DETECTORS[name][1]).COCO_V1
    meta = weights.meta
    return {"box_ap": meta["_metrics"]["COCO-val2017"]["box_map"], "gflops": meta["_ops"],
            "num_params": meta["num_params"], "weights": f"{type(weights).__name__}.COCO_V1"}


def freeze_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """Replace every ``nn.BatchNorm2d`` under ``module`` by ``torchvision.ops.FrozenBatchNorm2d``, in place.

    Statistics and affine values are copied, so eval-mode outputs do not change; the affine
    weights become buffers, as in torchvision's pretrained detectors.
    """
    from torchvision.ops import FrozenBatchNorm2d

    for child_name, child in module.named_children():
        if isinstance(child, torch.nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            with torch.no_grad():
                frozen.weight.copy_(child.weight.detach() if child.affine else torch.ones(child.num_features))
                frozen.bias.copy_(child.bias.detach() if child.affine else torch.zeros(child.num_features))
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
            setattr(module, child_name, frozen)
        else:
            freeze_batchnorm(child)
    return module


def build_detector(name: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    """A torchvision detector with random weights (nothing downloaded), in eval mode.

    Parameters
    ----------
    name : a key of :data:`DETECTORS`, e.g. ``"fasterrcnn_resnet50_fpn"``
    seed : seeds ``torch.manual_seed`` before building, so the random weights repeat
    kwargs : passed to the torchvision builder (e.g. ``min_size=320``)

    The backbone's batch norm is frozen where torchvision's pretrained model freezes it, so the
    parameter count equals the published one.
    """
    _check_name(name)
    torch.manual_seed(seed)
    model = getattr(detection, name)(weights=None, weights_backbone=None, **kwargs)
    if DETECTORS[name][2]:
        freeze_batchnorm(model.backbone.body)
    return model.eval()


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (buffers such as batch-norm statistics are not parameters)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: torch.nn.Module | Callable, *inputs) -> int:
    """Multiply-accumulates of one forward pass ``model(*inputs)``, under ``torch.inference_mode``.

    ``model`` may be any callable (e.g. a function running part of a detector).

    Counted by ``FlopCounterMode`` (convolutions, linear layers, matrix products: 2 FLOPs per
    MAC), returned as ``FLOPs // 2``. For a detector whose second stage runs per proposal
    (Faster R-CNN), the count depends on how many proposals the RPN keeps for this input.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2


def time_interleaved(fns: Mapping[str, Callable[[], object]], repeat: int = 20, warmup: int = 2) -> dict[str, np.ndarray]:
    """Time several functions in alternating rounds, so machine load hits all of them alike.

    Each round calls every function once, in the given order on even rounds and reversed on odd
    ones, under ``torch.inference_mode``. Comparing functions timed this way (e.g. the per-round
    ratio ``times["b"] / times["a"]``) cancels most of the noise of a shared machine, which
    timing one function's repeats after the other's does not.

    Parameters
    ----------
    fns : name -> function of no argument (its inputs prepared beforehand)
    repeat : int >= 1, timed rounds
    warmup : int >= 0, untimed rounds first

    Returns
    -------
    dict name -> (repeat,) float array of wall-clock milliseconds, round by round.
    """
    if not fns or not all(callable(f) for f in fns.values()):
        raise ValueError("fns must map names to callables (at least one)")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    names = list(fns)
    times = {name: np.zeros(repeat) for name in names}
    with torch.inference_mode():
        for _ in range(warmup):
            for name in names:
                fns[name]()
        for r in range(repeat):
            for name in (names if r % 2 == 0 else names[::-1]):
                start = _time.perf_counter()
                fns[name]()
                times[name][r] = (_time.perf_counter() - start) * 1000.0
    return times


def _random_proposals(n: int, image_size, seed: int = 0) -> torch.Tensor:
    """(n, 4) xyxy boxes inside an (H, W) image, sides between 16 px and half the image's."""
    h, w = image_size
    g = torch.Generator().manual_seed(seed)
    size = torch.rand(n, 2, generator=g) * (torch.tensor([w, h]) / 2 - 16) + 16
    centre = torch.rand(n, 2, generator=g) * torch.tensor([w, h])
    x1y1 = (centre - size / 2).clamp(min=0)
    x2y2 = torch.minimum(centre + size / 2, torch.tensor([w, h], dtype=torch.float32))
    return torch.cat([x1y1, x2y2], 1)


def detector_parts(model: torch.nn.Module, image: torch.Tensor, seed: int = 0) -> dict:
    """Split a torchvision detector into the parts whose cost does not depend on its weights.

    Parameters
    ----------
    model : a torchvision SSD, RetinaNet, FCOS or Faster R-CNN (eval mode)
    image : (3, H, W) float tensor in [0, 1]; the model's own transform resizes it first

    Returns
    -------
    dict with ``input_size`` ((h, w) after the model's resize, before padding), ``features``
    (function: backbone + FPN on the resized batch), ``heads`` (function of the features: the
    dense heads; for Faster R-CNN the RPN head plus RoIAlign, box head and predictor on
    ``proposals`` fixed boxes, as many as the RPN keeps at test time) and ``proposals``
    (that number, or None for one-stage detectors). Not included: the resize, anchor
    generation, box decoding, score thresholds and NMS.
    """
    is_two_stage = isinstance(model, detection.FasterRCNN)
    if not is_two_stage and not isinstance(getattr(model, "head", None), torch.nn.Module):
        raise TypeError(f"unsupported detector type {type(model).__name__}: need an SSD, RetinaNet, FCOS or Faster R-CNN")
    with torch.inference_mode():
        images, _ = model.transform([image])
    x = images.tensors

    def features():
        out = model.backbone(x)
        return out if isinstance(out, dict) else {"0": out}

    if is_two_stage:
        n = int(model.rpn._post_nms_top_n["testing"])  # post_nms_top_n() would read the training value in train mode
        boxes = _random_proposals(n, images.image_sizes[0], seed)

        def heads(feats):
            model.rpn.head(list(feats.values()))
            pooled = model.roi_heads.box_roi_pool(feats, [boxes], images.image_sizes)
            return model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
    else:
        n = None

        def heads(feats):
            return model.head(list(feats.values()))
    return {"input_size": tuple(images.image_sizes[0]), "features": features, "heads": heads, "proposals": n}


def architecture_cost(name: str, image: torch.Tensor, repeat: int = 5, warmup: int = 1, count: bool = True,
                      seed: int = 0) -> dict:
    """Multiply-adds and CPU latency of a detector's weight-independent parts, timed interleaved.

    Builds ``name`` with random weights (:func:`build_detector`), splits it with
    :func:`detector_parts` and times backbone+FPN and heads with :func:`time_interleaved`.

    Returns
    -------
    dict: ``name``, ``model``, ``input`` ("WxH", width x height after the model's resize, as photo sizes are written in the course), ``proposals``,
    ``params_M``, ``features_gmacs``, ``heads_gmacs`` (if counted), ``features_ms``, ``heads_ms``
    (medians), ``total_ms`` (median of the per-round sums), ``total_min_ms`` (the fastest round's
    sum, the least disturbed by other load), ``fps`` (1000 / total_ms),
    ``coco_box_ap`` (published).
    """
    model = build_detector(name, seed=seed)
    parts = detector_parts(model, image, seed=seed)
    with torch.inference_mode():
        feats = parts["features"]()
    h, w = parts["input_size"]
    row = {"name": name, "model": DETECTORS[name][0], "input": f"{w}x{h}", "proposals": parts["proposals"],
           "params_M": count_parameters(model) / 1e6}
    if count:
        row["features_gmacs"] = count_macs(parts["features"]) / 1e9
        row["heads_gmacs"] = count_macs(parts["heads"], feats) / 1e9
    times = time_interleaved({"features": parts["features"], "heads": lambda: parts["heads"](feats)},
                             repeat=repeat, warmup=warmup)
    total = times["features"] + times["heads"]
    row.update(features_ms=float(np.median(times["features"])), heads_ms=float(np.median(times["heads"])),
               total_ms=float(np.median(total)), total_min_ms=float(total.min()))
    row["fps"] = 1000.0 / row["total_ms"]
    row["coco_box_ap"] = published(name)["box_ap"]
    return row


def ssd_nms_candidates(model: torch.nn.Module, image: torch.Tensor):
    """The (box, class) candidates a torchvision SSD/SSDlite sends to NMS for ``image``.

    Mirrors ``SSD.postprocess_detections``: boxes decoded and clipped to the resized image; per
    class, the default boxes whose softmax score is above ``model.score_thresh``, at most
    ``model.topk_candidates`` of them. ``batched_nms`` over them, cut to
    ``model.detections_per_img``, gives the model's detections (before resizing back).

    Returns
    -------
    (boxes (K, 4) xyxy decoded, scores (K,), labels (K,)) tensors, K = the number of candidates.
    """
    if not isinstance(model, detection.ssd.SSD):
        raise TypeError(f"model must be a torchvision SSD, got {type(model).__name__}")
    with torch.inference_mode():
        images, _ = model.transform([image])
        feats = list(model.backbone(images.tensors).values())
        head = model.head(feats)
        anchors = model.anchor_generator(images, feats)[0]
        boxes = model.box_coder.decode_single(head["bbox_regression"][0], anchors)
        boxes = torchvision.ops.clip_boxes_to_image(boxes, images.image_sizes[0])
        scores = torch.softmax(head["cls_logits"][0], -1)
        out_boxes, out_scores, out_labels = [], [], []
        for label in range(1, scores.shape[1]):
            score = scores[:, label]
            keep = score > model.score_thresh
            score, idx = score[keep].topk(min(model.topk_candidates, int(keep.sum())))
            out_boxes.append(boxes[keep][idx])
            out_scores.append(score)
            out_labels.append(torch.full_like(score, label, dtype=torch.int64))
    return torch.cat(out_boxes), torch.cat(out_scores), torch.cat(out_labels)
