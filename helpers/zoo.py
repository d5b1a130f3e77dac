"""torchvision's detector zoo, measured: parameters, multiply-adds and CPU latency of each
architecture, joined with the COCO box AP torchvision publishes for its pretrained weights.

Models are built **without weights** (``weights=None, weights_backbone=None``), so nothing is
downloaded: parameters, multiply-adds and latency belong to the architecture and are the same
with random weights; the accuracy comes from the weight enums' metadata, which torchvision
ships offline (``FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta``; see
https://pytorch.org/vision/stable/models.html#object-detection).

Multiply-adds are counted with ``torch.utils.flop_counter.FlopCounterMode``: it counts
convolutions and matrix products as 2 FLOPs per multiply-accumulate, so ``MACs = FLOPs / 2``.
Element-wise work (activations, normalisation, box decoding, NMS) is not counted.
"""

from __future__ import annotations

from helpers.env import check_torch_import_order

check_torch_import_order()

import torch  # noqa: E402
import torchvision  # noqa: E402,F401  (registers torchvision's ops)
from torchvision.models import detection  # noqa: E402

from helpers.bench import BenchmarkResult, benchmark  # noqa: E402

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


def count_macs(model: torch.nn.Module, *inputs) -> int:
    """Multiply-accumulates of one forward pass ``model(*inputs)``, under ``torch.inference_mode``.

    Counted by ``FlopCounterMode`` (convolutions, linear layers, matrix products: 2 FLOPs per
    MAC), returned as ``FLOPs // 2``. For a detector whose second stage runs per proposal
    (Faster R-CNN), the count depends on how many proposals the RPN keeps for this input.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2


def time_model(model: torch.nn.Module, *inputs, warmup: int = 1, repeat: int = 5) -> BenchmarkResult:
    """Latency of ``model(*inputs)`` with :func:`helpers.bench.benchmark`, under ``torch.inference_mode``."""

    def forward():
        with torch.inference_mode():
            return model(*inputs)

    return benchmark(forward, warmup=warmup, repeat=repeat)


def detector_table(names=None, image_size=(480, 640), count=True, time=True, warmup: int = 1, repeat: int = 5,
                   seed: int = 0, progress: bool = True, **build_kwargs) -> list[dict]:
    """Build each detector, measure it on one random image and join torchvision's published numbers.

    Parameters
    ----------
    names : detector names (default: all of :data:`DETECTORS`)
    image_size : (height, width) of the random input image; each model's own transform then
        resizes it (SSD300 to 300x300, SSDlite to 320x320, the FPN models to a shorter side of 800)
    count, time : measure multiply-adds / CPU latency (both need forward passes)
    build_kwargs : passed to every builder (e.g. ``min_size=320, max_size=320`` to time small)

    Returns
    -------
    list of dicts, one per detector: ``name``, ``model``, ``params_M``, ``published_params_M``,
    ``gmacs`` (if counted), ``published_gflops``, ``latency_ms`` and ``fps`` (median, if timed),
    ``coco_box_ap``.
    """
    names = list(DETECTORS) if names is None else list(names)
    for name in names:
        _check_name(name)
    h, w = image_size
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(3, h, w, generator=generator)
    rows = []
    iterator = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc="detectors")
    for name in iterator:
        model = build_detector(name, seed=seed, **build_kwargs)
        meta = published(name)
        row = {"name": name, "model": DETECTORS[name][0], "params_M": count_parameters(model) / 1e6,
               "published_params_M": meta["num_params"] / 1e6}
        if count:
            row["gmacs"] = count_macs(model, [image]) / 1e9
        row["published_gflops"] = meta["gflops"]
        if time:
            result = time_model(model, [image], warmup=warmup, repeat=repeat)
            row["latency_ms"], row["fps"] = result.median_ms, result.fps
        row["coco_box_ap"] = meta["box_ap"]
        rows.append(row)
        del model
    return rows
