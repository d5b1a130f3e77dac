"""Torchvision detectors with a new head for your classes, predictions and COCO-format output.

* :func:`build_detector` - Faster R-CNN MobileNetV3-Large-FPN (the 320 px "mobile" variant or the
  full-size one), RetinaNet on the same MobileNetV3-Large-FPN, or SSDlite-MobileNetV3 (both
  one-stage), with a fresh classifier for ``num_classes`` foreground classes plus background.
  Initial weights: torchvision's COCO weights (needs the network; not for RetinaNet), a backbone
  checkpoint of our own (``"shapes"``, made offline by ``tools/pretrain_backbone.py``; all three),
  or random (``None``).
* :func:`fit_anchors` - the ``build_detector`` arguments whose anchors reach the objects of a
  training set at the input size used (:mod:`helpers.anchor_fit`; :func:`anchor_coverage` measures it).
* :func:`predict` - batched inference, results as NumPy arrays.
* :func:`detections_to_coco` - predictions -> the detections list ``helpers.metrics`` reads.
* :func:`save_checkpoint` / :func:`load_checkpoint` - model (and optimiser) state with the build
  recipe, so a checkpoint rebuilds its own model.

Checkpoints are untrusted input (a learner resumes from, or shares, any ``.pt`` file): every
file is read with ``torch.load(weights_only=True)``, which unpickles only tensors, numbers,
strings and containers and never runs code from the file, and a file that is unreadable, not a
checkpoint, or made for another model raises :class:`CheckpointError` naming the path. The
committed shapes checkpoint is checked against the SHA-256 recorded beside it.

Boxes are ``xyxy`` float pixels of the input image; labels are ``1..num_classes`` (0 is the
background, never predicted). Training lives in :mod:`helpers.train`, ONNX in
:mod:`helpers.export`.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from collections.abc import Sequence
from pathlib import Path

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.models.detection import FasterRCNN  # noqa: E402
from torchvision.models.detection.anchor_utils import AnchorGenerator  # noqa: E402
from torchvision.models.detection.backbone_utils import _mobilenet_extractor  # noqa: E402
from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead  # noqa: E402
from torchvision.models.detection.ssd import SSD  # noqa: E402
from torchvision.ops import misc as misc_nn_ops  # noqa: E402

#: The detectors :func:`build_detector` knows, with what they are.
MODELS: dict[str, str] = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": "two-stage Faster R-CNN, MobileNetV3-Large + FPN, mobile settings",
    "fasterrcnn_mobilenet_v3_large_fpn": "two-stage Faster R-CNN, MobileNetV3-Large + FPN, full-size settings",
    "retinanet_mobilenet_v3_large_fpn": "one-stage RetinaNet (focal loss), the Faster R-CNN's MobileNetV3-Large + FPN "
                                        "and anchors",
    "ssdlite320_mobilenet_v3_large": "one-stage SSDlite, MobileNetV3-Large, image_size x image_size input (320 by "
                                     "default, its name's)",
}

#: The detectors torchvision publishes COCO weights for (``weights="coco"``); its COCO RetinaNets
#: are ResNet-50-FPN only, so RetinaNet here starts from ``"shapes"`` or random weights.
COCO_MODELS: tuple[str, ...] = ("fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn",
                                "ssdlite320_mobilenet_v3_large")

#: The offline backbone (MobileNetV3-Large features, FPN, RPN) written by
#: ``tools/pretrain_backbone.py``; shipped inside the package (package data), so a pip install
#: (Colab) has it too. Its SHA-256 is recorded beside it in ``<name>.sha256``.
SHAPES_BACKBONE = Path(__file__).resolve().parent / "weights" / "mobilenet_v3_large_shapes.pt"

#: The command that rebuilds :data:`SHAPES_BACKBONE` and its digest (from a clone of the repository).
REBUILD_SHAPES = "python tools/pretrain_backbone.py --minutes 35 --seed 0"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (unreadable, unsafe, corrupted, or for another model);
    the message names the file and says what is wrong."""


# Faster R-CNN settings that make CPU training affordable: the box head sees 128 sampled
# proposals per image instead of 512 (its 12544x1024 FC layer dominates a CPU training step),
# from 500 RPN proposals instead of 2000. Detection quality on small datasets is not hurt by it.
_FRCNN_FAST_TRAIN = {"rpn_pre_nms_top_n_train": 1000, "rpn_post_nms_top_n_train": 500,
                     "box_batch_size_per_image": 128, "box_score_thresh": 0.01}


def _check_weights(weights):
    if weights is None or weights in ("coco", "shapes"):
        return weights
    if isinstance(weights, (str, Path)) and Path(weights).suffix in (".pt", ".pth"):
        return Path(weights)
    raise ValueError(f"weights must be 'coco', 'shapes', None or a .pt backbone checkpoint path, got {weights!r}")


def digest_path(path) -> Path:
    """Where the SHA-256 of checkpoint ``path`` is recorded: ``<path>.sha256`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def write_digest(path) -> Path:
    """Record the SHA-256 of ``path`` in :func:`digest_path` (``sha256sum`` format); returns that file."""
    path = Path(path)
    out = digest_path(path)
    out.write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    return out


def _check_digest(path: Path, data: bytes) -> None:
    """Compare ``data`` (the bytes of ``path``) with the SHA-256 recorded beside it, if any.

    The committed :data:`SHAPES_BACKBONE` must have its record; another checkpoint is checked
    when one exists (``tools/pretrain_backbone.py`` writes it).
    """
    record = digest_path(path)
    committed = path.resolve() == SHAPES_BACKBONE.resolve()
    if not record.is_file():
        if committed:
            raise CheckpointError(f"{path}: its SHA-256 record {record.name} is missing, so the file cannot be "
                                  f"verified; reinstall helpers, or rebuild both with `{REBUILD_SHAPES}`")
        return
    fields = record.read_text().split()
    expected = fields[0].lower() if fields else ""
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise CheckpointError(f"{record}: not a SHA-256 record (expected 64 hex digits and the file name)")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        fix = f"reinstall helpers (in a clone: `git checkout -- helpers/weights`), or rebuild it with `{REBUILD_SHAPES}`"
        raise CheckpointError(f"{path}: SHA-256 mismatch, the file is corrupted or was modified "
                              f"(recorded {expected[:16]}..., file {actual[:16]}...); "
                              + (fix if committed else "rebuild it, or delete the stale record " + record.name))


def _torch_load(path: Path, what: str, map_location="cpu", *, verify: bool = False):
    """``torch.load(weights_only=True)`` of ``path`` with errors in user terms naming the file.

    The file is read once: the same bytes are hashed (``verify``) and unpickled. ``weights_only``
    unpickles only tensors, numbers, strings and containers: an object whose unpickling would
    call a function (the way a malicious pickle runs code) is refused before anything runs.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    if verify:
        _check_digest(path, data)
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        if "Weights only load failed" not in text:
            raise CheckpointError(f"{path}: not a readable PyTorch {what}: the file is truncated, corrupted or not a "
                                  "checkpoint at all (torch.load raised UnpicklingError)") from None
        found = re.search(r"WeightsUnpickler error: (.*?)(?: was not an allowed| Please|\n|$)", text)
        detail = f" ({found.group(1).strip()})" if found else ""
        raise CheckpointError(
            f"{path}: refused to load this {what}: besides weights it holds Python objects{detail} whose "
            "unpickling could run code. helpers loads checkpoints with torch.load(weights_only=True) "
            "(tensors, numbers, strings, lists and dicts only), so nothing in the file was run; save "
            "checkpoints with helpers.detection.save_checkpoint, and do not load files you do not trust "
            "with weights_only=False") from None
    except Exception as err:  # torch reports truncation/garbage as RuntimeError, EOFError, KeyError, ...
        raise CheckpointError(f"{path}: not a readable PyTorch {what}: the file is truncated, corrupted or not a "
                              f"checkpoint at all (torch.load raised {type(err).__name__}); save it again, or "
                              "copy it again if it was downloaded") from None


def load_backbone_state(path=SHAPES_BACKBONE) -> tuple[dict, dict]:
    """Read a pretrained checkpoint written by ``tools/pretrain_backbone.py``.

    Returns ``(parts, meta)``: ``parts["features"]`` holds the ``mobilenet_v3_large().features``
    weights, and, when present, ``parts["fpn"]`` and ``parts["rpn"]`` the feature pyramid and
    region proposal network of the Faster R-CNN they came from (float32 tensors); ``meta`` says
    how the checkpoint was made.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        The SHA-256 recorded beside the file (``<path>.sha256``; required for
        :data:`SHAPES_BACKBONE`) does not match; the file is unreadable, unsafe (anything but
        weights) or not a backbone checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no backbone checkpoint at {path}; make it with `{REBUILD_SHAPES}`")
    ckpt = _torch_load(path, "backbone checkpoint", verify=True)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("features"), dict):
        raise CheckpointError(f"{path}: not a backbone checkpoint (no 'features' entry); make one with "
                              "tools/pretrain_backbone.py")
    parts = {}
    for part in ("features", "fpn", "rpn"):
        if part in ckpt:
            state = ckpt[part]
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise CheckpointError(f"{path}: entry {part!r} is not a state dict of tensors")
            parts[part] = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    meta = ckpt.get("meta", {})
    return parts, meta if isinstance(meta, dict) else {}


def build_detector(name: str = "fasterrcnn_mobilenet_v3_large_320_fpn", num_classes: int = 5, *,
                   weights=None, trainable_backbone_layers: int | None = None, image_size: int = 320,
                   box_head_size: int | None = None, **kwargs) -> nn.Module:
    """A torchvision detector with a new head for ``num_classes`` foreground classes.

    All three families share one MobileNetV3-Large backbone layout, so they can start from the
    same weights (``"shapes"``) and see the same input size (``image_size``).

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    num_classes : int
        Foreground classes; the classifier has ``num_classes + 1`` columns (label 0 is the
        background) and predicted labels are ``1..num_classes`` for every model.
    weights : {"coco", "shapes", None} or path
        ``"coco"``: torchvision's COCO-trained detector (downloaded), whose class-specific layer is
        replaced by a fresh one (transfer learning); Faster R-CNN and SSDlite only
        (:data:`COCO_MODELS`: torchvision's COCO RetinaNets are ResNet-50-FPN). ``"shapes"`` or a
        ``.pt`` path: the parts pretrained by ``tools/pretrain_backbone.py``: the backbone for
        every model, and the FPN (Faster R-CNN, RetinaNet) and RPN (Faster R-CNN) when the
        checkpoint has them; every head starts random. Faster R-CNN and RetinaNet freeze the
        pretrained BatchNorm statistics (FrozenBatchNorm2d, as torchvision does for pretrained
        backbones); SSDlite keeps torchvision's trainable BatchNorm (momentum 0.03) with the
        checkpoint's epsilon, and normalises images with the ImageNet mean/std the checkpoint
        was pretrained with. ``None``: everything random (BatchNorm trains).
    trainable_backbone_layers : int, optional
        How many of the backbone's 6 stages train (from the top) when it is pretrained; default
        torchvision's: 3 for Faster R-CNN and RetinaNet, 6 (all) for SSDlite. Ignored (all
        train) when nothing is pretrained.
    image_size : int
        Faster R-CNN and RetinaNet: images are resized so their shorter side is ``image_size``
        (longer side at most twice that). SSDlite: images are resized to ``image_size x
        image_size`` (default 320, the size in its name; its default boxes are fractions of the
        image, so they follow). With ``weights="coco"`` SSDlite runs torchvision's 320x320-trained
        weights at that size: the network is convolutional, but objects then meet its learned
        boxes at another scale until fine-tuning adapts them.
    box_head_size : int, optional
        Faster R-CNN only: replace the box head's two 1024-wide fully connected layers (fed by
        256x7x7 RoI features, the costliest part of a CPU training step) by ``box_head_size``-wide
        ones, randomly initialised. ``None`` keeps torchvision's head.
    **kwargs
        Anchors (what :func:`fit_anchors` returns): ``fpn_levels`` (Faster R-CNN, RetinaNet:
        ``"C4-C5"``, torchvision's MobileNetV3 pyramid at strides 32, 32, 64, the default, or
        ``"C3-C5"``, strides 8, 16, 32, 64; with it only the backbone is loaded from a shapes
        checkpoint, whose pyramid and RPN are C4-C5's), ``anchor_sizes`` (one tuple of sizes in
        pixels per level, aspect ratios 0.5, 1, 2) and ``box_scales`` (SSDlite: 7 increasing
        fractions of the image side, torchvision's ``DefaultBoxGenerator(scales=...)``).
        Everything else is passed to the torchvision model (e.g. Faster R-CNN's
        ``box_score_thresh``, RetinaNet's and SSD's ``score_thresh`` and ``detections_per_img``).

    Returns
    -------
    nn.Module in train mode, with ``model.build_recipe`` (the arguments, for checkpoints).

    Raises
    ------
    ValueError
        An unknown name or invalid argument; ``weights="coco"`` for RetinaNet; ``box_head_size``
        for a model without a box head.
    """
    _check_build_args(name, num_classes, image_size, trainable_backbone_layers, box_head_size)
    weights = _check_weights(weights)
    if weights == "coco" and name not in COCO_MODELS:
        raise ValueError(f"torchvision publishes no COCO weights for {name}: its COCO RetinaNets are ResNet-50-FPN "
                         "only (retinanet_resnet50_fpn / retinanet_resnet50_fpn_v2); use weights='shapes' (the "
                         "same start as the Faster R-CNN and SSDlite) or None")
    recipe = {"name": name, "num_classes": num_classes, "weights": None if weights is None else str(weights),
              "trainable_backbone_layers": trainable_backbone_layers, "image_size": image_size,
              "box_head_size": box_head_size, "kwargs": dict(kwargs)}
    if name.startswith("fasterrcnn"):
        model = _build_faster_rcnn(name, num_classes, weights, trainable_backbone_layers, image_size, kwargs)
        _resize_box_head(model, box_head_size, num_classes)
    elif name.startswith("retinanet"):
        model = _build_retinanet(num_classes, weights, trainable_backbone_layers, image_size, kwargs)
    else:
        model = _build_ssdlite(num_classes, weights, trainable_backbone_layers, image_size, kwargs)
    model.build_recipe = recipe
    return model.train()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_build_args(name, num_classes, image_size, trainable_backbone_layers, box_head_size) -> None:
    """The checks :func:`build_detector` and a checkpoint's build recipe share (``ValueError``)."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    if not _is_int(num_classes) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int (foreground classes), got {num_classes!r}")
    if not _is_int(image_size) or image_size < 64:
        raise ValueError(f"image_size must be an int >= 64, got {image_size!r}")
    if trainable_backbone_layers is not None and not (_is_int(trainable_backbone_layers)
                                                      and 0 <= trainable_backbone_layers <= 6):
        raise ValueError(f"trainable_backbone_layers must be an int in 0..6, got {trainable_backbone_layers!r}")
    if box_head_size is not None and not (_is_int(box_head_size) and box_head_size >= 8):
        raise ValueError(f"box_head_size must be an int >= 8, got {box_head_size!r}")
    if box_head_size is not None and not name.startswith("fasterrcnn"):
        family, why = (("RetinaNet", "its classification and box heads are convolutional, shared by every anchor")
                       if name.startswith("retinanet") else ("SSDlite", "its heads are convolutional"))
        raise ValueError(f"box_head_size is a Faster R-CNN option; {family} has no box head to resize ({why}): "
                         "leave it None")


def _load_state(module: nn.Module, state, path, what: str) -> None:
    """``module.load_state_dict(state)``, a mismatch reported as which weights do not fit, naming the file."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()] or [str(err)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise CheckpointError(f"{path}: its weights do not fit {what}: {lines[0]}{more}") from None


#: The anchors of torchvision's MobileNetV3 Faster R-CNN, one size set per FPN level ("0", "1", "pool").
_MOBILENET_ANCHOR_SIZES = ((32, 64, 128, 256, 512),) * 3
_MOBILENET_ANCHOR_RATIOS = ((0.5, 1.0, 2.0),) * 3


def _mobilenet_fpn(frozen_bn: bool, trainable_layers, levels: str = "C4-C5") -> nn.Module:
    """MobileNetV3-Large + FPN (256 channels), random weights.

    ``levels="C4-C5"``: laid out as torchvision's MobileNetV3 Faster R-CNN builds it (3 maps: the
    outputs of blocks 13 and 16, both at stride 32, and a max-pooled level at 64; the backbone
    ``body`` holds ``mobilenet_v3_large().features``, the pyramid is ``fpn``). ``"C3-C5"``: the
    pyramid of the FPN and RetinaNet papers, on the last block of each stage: C3 (block 6,
    stride 8), C4 (block 12, stride 16), C5 (block 16, stride 32), and a max-pooled level at 64,
    so objects of 16-128 px each have a level whose stride suits them.

    ``frozen_bn``: the layout of a pretrained build (FrozenBatchNorm2d, only the top
    ``trainable_layers`` of 6 backbone stages train, default 3); otherwise BatchNorm trains and so
    does every stage.
    """
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    backbone = torchvision.models.mobilenet_v3_large(weights=None, norm_layer=norm_layer)
    layers = (3 if trainable_layers is None else trainable_layers) if frozen_bn else 6
    if levels == "C4-C5":
        return _mobilenet_extractor(backbone, True, layers)
    if levels != "C3-C5":
        raise ValueError(f"fpn_levels must be 'C4-C5' (torchvision's) or 'C3-C5', got {levels!r}")
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    features = backbone.features
    stage_starts = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    freeze_before = len(features) if layers == 0 else stage_starts[len(stage_starts) - layers]
    for block in features[:freeze_before]:
        block.requires_grad_(False)
    return BackboneWithFPN(features, {"6": "0", "12": "1", "16": "2"}, [40, 112, 960], 256,
                           extra_blocks=LastLevelMaxPool())


def _mobilenet_anchors(sizes=None) -> AnchorGenerator:
    """Anchors per FPN level x aspect ratios 0.5, 1, 2. Default: torchvision's MobileNetV3 sizes
    32..512 px on each of the 3 levels (15 per location); ``sizes``: one tuple per level."""
    if sizes is None:
        return AnchorGenerator(_MOBILENET_ANCHOR_SIZES, _MOBILENET_ANCHOR_RATIOS)
    sizes = tuple(tuple(float(v) for v in level) for level in sizes)
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _pyramid_options(kwargs: dict) -> tuple[str, tuple | None]:
    """Pop ``fpn_levels`` and ``anchor_sizes`` from a build's keyword arguments and check them."""
    levels = kwargs.pop("fpn_levels", "C4-C5")
    sizes = kwargs.pop("anchor_sizes", None)
    if sizes is not None:
        expected = 4 if levels == "C3-C5" else 3
        ok = (isinstance(sizes, (list, tuple)) and len(sizes) == expected
              and all(isinstance(lv, (list, tuple)) and lv and all(float(v) > 0 for v in lv) for lv in sizes)
              and len({len(lv) for lv in sizes}) == 1)
        if not ok:
            raise ValueError(f"anchor_sizes must be {expected} tuples (one per FPN level of {levels}) of the same "
                             f"number of positive sizes in pixels, got {sizes!r}")
    return levels, sizes


def _faster_rcnn_layout(name, num_classes, frozen_bn, trainable_layers, image_size, kwargs) -> FasterRCNN:
    """Faster R-CNN MobileNetV3-Large-FPN with random weights, laid out as torchvision builds it
    (``frozen_bn``, ``trainable_layers``: see :func:`_mobilenet_fpn`)."""
    settings = {"min_size": image_size, "max_size": 2 * image_size, **_FRCNN_FAST_TRAIN}
    if name.endswith("_320_fpn"):  # torchvision's mobile defaults: few proposals at test time
        settings.update({"rpn_pre_nms_top_n_test": 150, "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05})
    kwargs = dict(kwargs)
    levels, sizes = _pyramid_options(kwargs)
    settings.update(kwargs)
    return FasterRCNN(_mobilenet_fpn(frozen_bn, trainable_layers, levels), num_classes + 1,
                      rpn_anchor_generator=_mobilenet_anchors(sizes), **settings)


def _load_pretrained_parts(model: nn.Module, weights, parts_wanted: Sequence[str]) -> None:
    """Load a ``tools/pretrain_backbone.py`` checkpoint (``"shapes"`` or a path) into ``model``:
    ``features`` into ``model.backbone.body``, then those of ``parts_wanted`` (``"fpn"``,
    ``"rpn"``) that the checkpoint has; a mismatch raises :class:`CheckpointError`."""
    path = SHAPES_BACKBONE if weights == "shapes" else weights
    parts, _ = load_backbone_state(path)
    _load_state(model.backbone.body, parts["features"], path, "the MobileNetV3-Large backbone")
    targets = {"fpn": (lambda: model.backbone.fpn, "the feature pyramid"),
               "rpn": (lambda: model.rpn, "the region proposal network")}
    for part in parts_wanted:
        if part in parts:  # a detector-pretrained checkpoint: the pyramid (and proposals) transfer too
            module, what = targets[part]
            _load_state(module(), parts[part], path, what)


def _build_faster_rcnn(name, num_classes, weights, trainable_layers, image_size, kwargs) -> FasterRCNN:
    from torchvision.models.detection import faster_rcnn

    model = _faster_rcnn_layout(name, num_classes, weights is not None, trainable_layers, image_size, kwargs)
    if weights == "coco":  # torchvision's COCO detector: its weights, except the class-specific layer
        coco = _coco_model(name, lambda: getattr(torchvision.models.detection, name)(weights="DEFAULT"))
        state = {k: v for k, v in coco.state_dict().items() if not k.startswith("roi_heads.box_predictor.")}
        new_parts = ()
        if _levels(kwargs) != "C4-C5":  # COCO's pyramid and RPN are C4-C5's: only its backbone and box head fit
            state = {k: v for k, v in state.items() if not k.startswith(("backbone.fpn.", "rpn."))}
            new_parts = ("backbone.fpn.", "rpn.")
        missing, _ = model.load_state_dict(state, strict=False)
        assert all(k.startswith(("roi_heads.box_predictor.", *new_parts)) for k in missing), missing
        model.roi_heads.box_predictor = faster_rcnn.FastRCNNPredictor(
            model.roi_heads.box_predictor.cls_score.in_features, num_classes + 1)
    elif weights is not None:  # a C3-C5 pyramid (and its RPN) does not fit the checkpoint's: backbone only
        _load_pretrained_parts(model, weights, ("fpn", "rpn") if _levels(kwargs) == "C4-C5" else ())
    return model


class _ForegroundRetinaNet(RetinaNet):
    """torchvision's :class:`~torchvision.models.detection.RetinaNet`, unchanged but for one thing:
    detections never come from class column 0.

    RetinaNet scores every class with its own sigmoid and uses a target's label as its column,
    so labels ``1..K`` need ``K + 1`` columns (torchvision's COCO RetinaNet has 91, column 0 the
    background). Column 0 is never a positive, so training pushes it down, but torchvision still
    turns any of its scores above ``score_thresh`` into a "label 0" detection, which no other
    model here predicts; its logits are set to -inf before torchvision's post-processing.
    """

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        # head_outputs["cls_logits"]: per FPN level, (N, H*W*A, K + 1) logits
        logits = [level.clone() for level in head_outputs["cls_logits"]]
        for level in logits:
            level[..., 0] = float("-inf")  # sigmoid 0: never above score_thresh (>= 0)
        return super().postprocess_detections({**head_outputs, "cls_logits": logits}, anchors, image_shapes)


def _retinanet_layout(num_classes, frozen_bn, trainable_layers, image_size, kwargs) -> RetinaNet:
    """RetinaNet with random weights on exactly the Faster R-CNN's backbone + FPN
    (:func:`_mobilenet_fpn`) and anchors (:func:`_mobilenet_anchors`): torchvision's
    :class:`RetinaNetHead` (4 conv layers per branch, focal loss) for ``num_classes + 1`` columns
    over the 15 anchors per location of each of the 3 FPN levels."""
    kwargs = dict(kwargs)
    levels, sizes = _pyramid_options(kwargs)
    anchors = _mobilenet_anchors(sizes)
    backbone = _mobilenet_fpn(frozen_bn, trainable_layers, levels)
    head = RetinaNetHead(backbone.out_channels, anchors.num_anchors_per_location()[0], num_classes + 1)
    settings = {"min_size": image_size, "max_size": 2 * image_size, **kwargs}
    return _ForegroundRetinaNet(backbone, num_classes + 1, anchor_generator=anchors, head=head, **settings)


def _build_retinanet(num_classes, weights, trainable_layers, image_size, kwargs) -> RetinaNet:
    model = _retinanet_layout(num_classes, weights is not None, trainable_layers, image_size, kwargs)
    if weights is not None:  # "coco" was refused by build_detector; the RPN has no place in RetinaNet
        _load_pretrained_parts(model, weights, ("fpn",) if _levels(kwargs) == "C4-C5" else ())
    return model


def _levels(kwargs: dict) -> str:
    return kwargs.get("fpn_levels", "C4-C5")


def _resize_box_head(model: FasterRCNN, size: int | None, num_classes: int) -> None:
    if size is None:
        return
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

    resolution = model.roi_heads.box_roi_pool.output_size[0]
    model.roi_heads.box_head = TwoMLPHead(model.backbone.out_channels * resolution**2, size)
    model.roi_heads.box_predictor = FastRCNNPredictor(size, num_classes + 1)


def _ssdlite_layout(num_classes, start, trainable_layers, image_size, kwargs, load_features=None) -> SSD:
    """SSDlite-MobileNetV3-Large built step by step as torchvision's ``ssdlite320_mobilenet_v3_large``
    builds it, but at ``image_size x image_size`` (torchvision fixes ``size=(320, 320)``); random
    weights, except that ``load_features(mobilenet_v3_large().features)``, when given, loads the
    backbone before the SSD regroups its blocks (at C4's expansion layer).

    ``start`` is what the weights will be:

    * ``None`` or ``"coco"``: torchvision's own layouts (with ``weights=None, weights_backbone=None``
      and with ``weights="DEFAULT"``): the reduced tail (last stage halved, MobileNetV3 paper,
      Table 6), ``BatchNorm2d(eps=0.001, momentum=0.03)``, inputs scaled to [-1, 1] (mean/std 0.5).
    * ``"own"`` (``"shapes"`` or a path): the full tail the checkpoint has (torchvision too reduces
      the tail only without a pretrained backbone); BatchNorm with the checkpoint's epsilon
      (1e-5: ``tools/pretrain_backbone.py`` trained ``nn.BatchNorm2d`` defaults; torchvision's
      0.001 is its ImageNet weights' epsilon, and 0.001 here would change the pretrained C5
      features by about 35 %) and torchvision's fine-tuning momentum 0.03; and the ImageNet
      mean/std the checkpoint was pretrained with (it was trained inside a Faster R-CNN, whose
      ``GeneralizedRCNNTransform`` normalises with torchvision's defaults, mean 0.485, 0.456,
      0.406, std 0.229, 0.224, 0.225), so the backbone sees its inputs as in pretraining.

    ``trainable_layers``: of 6 backbone stages, from the top; torchvision's default for a
    pretrained start is 6 (all), and a random start trains all. As in torchvision, freezing only
    stops gradients (``requires_grad``): BatchNorm statistics keep updating in train mode.
    """
    from functools import partial

    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.ssdlite import SSDLiteHead, _normal_init
    from torchvision.models.detection.ssdlite import _mobilenet_extractor as _ssdlite_extractor

    own = start not in (None, "coco")
    norm_layer = partial(nn.BatchNorm2d, eps=1e-5 if own else 0.001, momentum=0.03)
    backbone = torchvision.models.mobilenet_v3_large(weights=None, norm_layer=norm_layer, reduced_tail=not own)
    if not own:  # torchvision's init for a backbone without ImageNet weights (the COCO ones overwrite it)
        _normal_init(backbone)
    if load_features is not None:
        load_features(backbone.features)
    layers = 6 if start is None or trainable_layers is None else trainable_layers
    backbone = _ssdlite_extractor(backbone, layers, norm_layer)
    size = (image_size, image_size)
    kwargs = dict(kwargs)
    scales = kwargs.pop("box_scales", None)
    if scales is not None:
        if not (isinstance(scales, (list, tuple)) and len(scales) == 7 and all(0 < float(v) <= 1 for v in scales)
                and list(scales) == sorted(scales)):
            raise ValueError(f"box_scales must be 7 increasing fractions of the image side in (0, 1] (one per "
                             f"SSDlite map and a last one for the extra box), got {scales!r}")
        scales = [float(v) for v in scales]
    anchor_generator = _ssdlite_boxes(scales)
    out_channels = det_utils.retrieve_out_channels(backbone, size)
    num_anchors = anchor_generator.num_anchors_per_location()
    mean, std = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]) if own else ([0.5] * 3, [0.5] * 3)
    defaults = {"score_thresh": 0.001, "nms_thresh": 0.55, "detections_per_img": 300, "topk_candidates": 300,
                "image_mean": mean, "image_std": std}  # torchvision's defaults, but for the normalisation
    return SSD(backbone, anchor_generator, size, num_classes + 1,
               head=SSDLiteHead(out_channels, num_anchors, num_classes + 1, norm_layer), **{**defaults, **kwargs})


def _ssdlite_boxes(scales=None):
    """SSDlite's default boxes: torchvision's (scales 0.2 .. 0.95 of the image side, linearly spaced
    over the 6 maps) or ``scales`` (7 fractions), aspect ratios 2 and 3 on every map."""
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator

    scales = None if scales is None else [float(v) for v in scales]
    return DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95, scales=scales)


def _ssdlite_start(weights) -> str | None:
    """What an SSDlite's weights are, for :func:`_ssdlite_layout`: ``None``, ``"coco"`` or ``"own"``."""
    return weights if weights in (None, "coco") else "own"


def _build_ssdlite(num_classes, weights, trainable_layers, image_size, kwargs) -> SSD:
    load_features = None
    if weights is not None and weights != "coco":
        path = SHAPES_BACKBONE if weights == "shapes" else weights
        state = load_backbone_state(path)[0]["features"]

        def load_features(features):
            _load_state(features, state, path, "the MobileNetV3-Large backbone")

    model = _ssdlite_layout(num_classes, _ssdlite_start(weights), trainable_layers, image_size, kwargs,
                            load_features)
    if weights == "coco":  # torchvision's COCO detector: its weights, except the class-specific layer
        name = "ssdlite320_mobilenet_v3_large"
        coco = _coco_model(name, lambda: getattr(torchvision.models.detection, name)(weights="DEFAULT"))
        state = {k: v for k, v in coco.state_dict().items() if not k.startswith("head.classification_head.")}
        missing, _ = model.load_state_dict(state, strict=False)
        assert all(k.startswith("head.classification_head.") for k in missing), missing
    return model


def _coco_model(name: str, build):
    """``build()`` (a torchvision constructor with ``weights="DEFAULT"``), a failed download or a
    broken cached file reported in the user's terms instead of urllib's or torch's message."""
    try:
        return build()
    except (OSError, RuntimeError, EOFError) as err:  # URLError is an OSError; a torn cache file a RuntimeError
        url = torchvision.models.get_model_weights(name).DEFAULT.url
        raise RuntimeError(f"torchvision's COCO weights for {name} could not be loaded from {url} or torch hub's "
                           f"cache ({type(err).__name__}: {err}); without them use weights='shapes' "
                           "or weights=None") from err


def coco_weights_reachable(name: str = "fasterrcnn_mobilenet_v3_large_320_fpn") -> tuple[bool, str]:
    """Fetch torchvision's COCO checkpoint for ``name`` into torch hub's cache (once; later calls read
    the cache) and say whether it loaded: ``(True, url)`` or ``(False, "what went wrong")``; a model
    torchvision has no COCO weights for (not in :data:`COCO_MODELS`) is ``(False, why)``."""
    if name not in COCO_MODELS:
        return False, f"torchvision publishes no COCO weights for {name}"
    weights = torchvision.models.get_model_weights(name).DEFAULT
    try:
        weights.get_state_dict(progress=False)
    except (OSError, RuntimeError, EOFError) as err:
        return False, f"{type(err).__name__}: {err}"
    return True, weights.url


def default_weights(online: bool | None = None, name: str = "fasterrcnn_mobilenet_v3_large_320_fpn"
                    ) -> tuple[str | None, str]:
    """What a notebook should start from here, and one line saying why.

    Online: ``"coco"`` (torchvision's COCO weights for ``name``) once they actually loaded into
    torch hub's cache (:func:`coco_weights_reachable`); a network that answers but a download that
    fails falls back like being offline, and the line says what failed. Offline: ``"shapes"`` when
    the package's backbone checkpoint exists, else ``None`` (random).
    """
    from helpers.env import is_online

    online = is_online() if online is None else online
    failure, none_left = "offline: torchvision's COCO weights are not reachable", "offline and no backbone checkpoint"
    if online:
        loaded, detail = coco_weights_reachable(name)
        if loaded:
            return "coco", f"online: starting from torchvision's COCO-trained {name} ({detail}), new 5-class head"
        failure = f"online, but torchvision's COCO weights for {name} could not be loaded ({detail})"
        none_left = f"{failure}, and no backbone checkpoint"
    if SHAPES_BACKBONE.is_file():
        return "shapes", (f"{failure}; starting from the MobileNetV3 backbone this repository pretrained on random "
                          "shapes (tools/pretrain_backbone.py). Numbers below are for that backbone, not for COCO "
                          "pretraining.")
    return None, f"{none_left}: training from random weights"


# ---------------------------------------------------------------------------------------------
# inference and COCO output
# ---------------------------------------------------------------------------------------------
def check_image_values(image) -> None:
    """Refuse an image whose values a detector would misread: uint8 is 0..255, float is 0..1.

    ``image``: a NumPy array or a torch tensor, any layout. Raises ValueError for another integer
    type or bool (is it 0..255 or 0..1?), NaN or infinity, and a float image whose values lie
    clearly outside [0, 1] (below -0.5 or above 1.5: a 0..255 photo stored as float, which the
    detector would take as a glaringly overexposed one; a resize's small overshoot is allowed).
    """
    x = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if x.dtype == np.uint8:
        return
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"an image must be uint8 (0..255) or float (0..1), got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"an image of dtype {x.dtype} is ambiguous: pass uint8 for 0..255 values "
                         f"(image.astype(np.uint8)) or float for 0..1 values")
    if x.size and not np.isfinite(x).all():
        raise ValueError("the image contains NaN or infinite values")
    if x.size and (x.min() < -0.5 or x.max() > 1.5):
        raise ValueError(f"float image values must lie in [0, 1], got {x.min():.4g}..{x.max():.4g}: divide a 0..255 "
                         "image by 255 (or pass it as uint8)")


def _to_tensor_image(image) -> torch.Tensor:
    """(C, H, W) float tensor in [0, 1] from a tensor, a NumPy (H, W, 3) uint8/float array or a PIL image."""
    if isinstance(image, torch.Tensor):
        t = image
    else:
        arr = np.array(image)  # a copy: a PIL image's buffer is read-only
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"an image must be (H, W, 3) RGB, got shape {arr.shape}")
        t = torch.from_numpy(arr).permute(2, 0, 1)
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"an image tensor must be (3, H, W), got shape {tuple(t.shape)}")
    check_image_values(t)
    if t.dtype == torch.uint8:
        t = t.float() / 255.0
    return t.float()


@torch.inference_mode()
def predict(model: nn.Module, images: Sequence, *, batch_size: int = 8, device=None,
            score_threshold: float = 0.0, progress: bool = False) -> list[dict]:
    """Run a detector on images, in eval mode.

    Parameters
    ----------
    images : sequence of (3, H, W) float tensors in [0, 1], (H, W, 3) arrays or PIL images
    score_threshold : detections below it are dropped

    Returns
    -------
    list of dict, one per image: ``boxes`` (D, 4) float32 xyxy pixels, ``labels`` (D,) int64,
    ``scores`` (D,) float32, sorted by descending score.
    """
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    starts = range(0, len(images), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="predicting", unit="batch")
    try:
        for start in starts:
            batch = [_to_tensor_image(im).to(device) for im in images[start:start + batch_size]]
            for res in model(batch):
                keep = res["scores"] >= score_threshold
                order = torch.argsort(res["scores"][keep], descending=True)
                out.append({k: res[k][keep][order].cpu().numpy() for k in ("boxes", "labels", "scores")})
    finally:
        model.train(was_training)
    return out


def detections_to_coco(predictions: Sequence[dict], image_ids: Sequence[int] | None = None) -> list[dict]:
    """Predictions (xyxy) -> COCO detections ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.

    ``image_ids[i]`` is the id of ``predictions[i]`` (default ``i + 1``, the ids of
    ``helpers.data.voc_to_coco``). Labels are used as category ids (both ``1..K``).
    """
    if image_ids is None:
        image_ids = range(1, len(predictions) + 1)
    if len(image_ids) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions but {len(image_ids)} image ids")
    dets = []
    for image_id, pred in zip(image_ids, predictions, strict=True):
        boxes = np.asarray(pred["boxes"], dtype=float).reshape(-1, 4)
        for (x1, y1, x2, y2), label, score in zip(boxes, pred["labels"], pred["scores"], strict=True):
            dets.append({"image_id": int(image_id), "category_id": int(label),
                         "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)], "score": float(score)})
    return dets


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
def save_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, **extra) -> Path:
    """Save the model's weights and build recipe (and optimiser/scheduler state, ``extra`` items).

    Written to a temporary file and renamed, so an interrupted save never leaves a broken file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "recipe": getattr(model, "build_recipe", None), **extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path, model: nn.Module | None = None, optimizer=None, scheduler=None,
                    map_location="cpu") -> tuple[nn.Module, dict]:
    """Load a checkpoint from :func:`save_checkpoint`.

    The file is read with ``torch.load(weights_only=True)``: nothing in it runs. With
    ``model=None`` the model is rebuilt from the saved recipe (no pretrained weights are
    fetched: the checkpoint holds them all). Returns ``(model, checkpoint dict)``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        The file is truncated or not a checkpoint; it holds more than weights (refused before
        anything in it runs); its recipe is invalid (e.g. an unknown model name); it was saved
        for another model than ``model`` (e.g. another number of classes); its optimiser state
        does not fit ``optimizer``. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = _torch_load(path, "checkpoint", map_location)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise CheckpointError(f"{path}: not a detector checkpoint (no 'model' entry); "
                              "write checkpoints with helpers.detection.save_checkpoint")
    recipe = ckpt.get("recipe")
    if recipe is not None:
        _check_recipe(recipe, path)
    if model is None:
        if not recipe:
            raise CheckpointError(f"{path}: has no build recipe: pass the model to load it into")
        model = _rebuild(recipe, path)
        model.build_recipe = recipe
    else:
        _check_same_model(recipe, getattr(model, "build_recipe", None), path)
    _load_state(model, ckpt["model"], path, "this model")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and name in ckpt:
            try:
                obj.load_state_dict(ckpt[name])
            except (ValueError, KeyError, TypeError, RuntimeError) as err:
                raise CheckpointError(f"{path}: its {name} state does not fit the {name} given "
                                      f"({type(err).__name__}: {err})") from None
    return model, ckpt


def _check_recipe(recipe, path) -> None:
    """A checkpoint's build recipe, checked as :func:`build_detector` checks its arguments."""
    if not isinstance(recipe, dict):
        raise CheckpointError(f"{path}: its build recipe is not a dict but {type(recipe).__name__}")
    try:
        _check_build_args(recipe.get("name"), recipe.get("num_classes"), recipe.get("image_size", 320),
                          recipe.get("trainable_backbone_layers"), recipe.get("box_head_size"))
        if not isinstance(recipe.get("kwargs") or {}, dict):
            raise ValueError(f"kwargs must be a dict, got {recipe['kwargs']!r}")
        if recipe.get("weights") is not None and not isinstance(recipe["weights"], str):
            raise ValueError(f"weights must be a string or None, got {recipe['weights']!r}")
    except ValueError as err:
        raise CheckpointError(f"{path}: invalid build recipe: {err}") from None


def _check_same_model(saved, current, path) -> None:
    """A checkpoint saved for one detector loaded into another: say which in the user's terms."""
    if not saved or not current:
        return  # no recipe on one side: load_state_dict's shape check is all there is
    if saved["name"] != current.get("name"):
        raise CheckpointError(f"{path}: this checkpoint is a {saved['name']} model, the model given is a "
                              f"{current.get('name')}")
    if saved["num_classes"] != current.get("num_classes"):
        raise CheckpointError(f"{path}: this checkpoint has {saved['num_classes']} classes, the model "
                              f"{current.get('num_classes')}; build the model with "
                              f"num_classes={saved['num_classes']} (or load with model=None)")


def _rebuild(recipe: dict, path="checkpoint") -> nn.Module:
    """The recipe's model with random weights in the same layout (nothing is downloaded)."""
    name, kwargs = recipe["name"], dict(recipe.get("kwargs") or {})
    try:
        if name.startswith("fasterrcnn"):
            model = _faster_rcnn_layout(name, recipe["num_classes"], recipe.get("weights") is not None,
                                        recipe.get("trainable_backbone_layers"), recipe.get("image_size", 320),
                                        kwargs)
            _resize_box_head(model, recipe.get("box_head_size"), recipe["num_classes"])
            return model
        if name.startswith("retinanet"):
            return _retinanet_layout(recipe["num_classes"], recipe.get("weights") is not None,
                                     recipe.get("trainable_backbone_layers"), recipe.get("image_size", 320), kwargs)
        # SSDlite: COCO's layout is the random one; a "shapes" (or path) start has the full tail
        return _ssdlite_layout(recipe["num_classes"], _ssdlite_start(recipe.get("weights")),
                               recipe.get("trainable_backbone_layers"), recipe.get("image_size", 320), kwargs)
    except (TypeError, ValueError) as err:  # e.g. an option torchvision does not know in kwargs
        raise CheckpointError(f"{path}: its build recipe does not build a {name}: {err}") from None


# ---------------------------------------------------------------------------------------------
# evaluation with helpers.metrics
# ---------------------------------------------------------------------------------------------
def evaluate_predictions(predictions: Sequence[dict], ground_truth: Sequence[dict], classes: Sequence[str],
                         sizes: Sequence[tuple[int, int]] | None = None) -> dict:
    """Score per-image predictions against per-image ground truth with ``helpers.metrics.coco_evaluate``.

    Parameters
    ----------
    predictions : per image ``{"boxes": (D, 4) xyxy, "labels": (D,), "scores": (D,)}``
    ground_truth : per image ``{"boxes": (G, 4) xyxy, "labels": (G,)}``, labels ``1..len(classes)``
    classes : class names (category ``k + 1`` is ``classes[k]``)
    sizes : per image ``(width, height)``, stored in the COCO images (not used by the metric)

    Returns
    -------
    dict with ``"coco_gt"`` and ``"detections"`` (COCO format), ``"coco"`` (the
    :func:`~helpers.metrics.coco_evaluate` result: ``AP`` = mAP@[.5:.95], ``AP50``, ...),
    ``"AP50_per_class"`` ({label: AP@0.5, COCO 101-point; NaN without ground truth}) and
    ``"AP_per_class"`` ({label: AP@[.5:.95]}).
    """
    from helpers.metrics import coco_evaluate, coco_pr_curve
    from helpers.voc import check_classes

    classes = check_classes(classes)
    if len(predictions) != len(ground_truth):
        raise ValueError(f"{len(predictions)} prediction images but {len(ground_truth)} ground-truth images")
    sizes = sizes or [(0, 0)] * len(ground_truth)
    coco_gt = {"images": [{"id": i + 1, "width": int(w), "height": int(h)} for i, (w, h) in enumerate(sizes)],
               "annotations": [], "categories": [{"id": k + 1, "name": n} for k, n in enumerate(classes)]}
    for i, g in enumerate(ground_truth):
        boxes = np.asarray(g["boxes"], dtype=float).reshape(-1, 4)
        for (x1, y1, x2, y2), label in zip(boxes.tolist(), np.asarray(g["labels"]).tolist(), strict=True):
            coco_gt["annotations"].append({"id": len(coco_gt["annotations"]) + 1, "image_id": i + 1,
                                           "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                                           "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    dets = detections_to_coco(predictions)
    result = coco_evaluate(coco_gt, dets)
    ap50 = {}
    for cid in result["category_ids"]:
        try:
            ap50[cid] = float(coco_pr_curve(result, 0.5, cid)[1].mean())
        except ValueError:  # a class without ground truth in this set
            ap50[cid] = float("nan")
    return {"coco_gt": coco_gt, "detections": dets, "coco": result, "AP50_per_class": ap50,
            "AP_per_class": dict(result["per_class_AP"])}


def evaluate_detector(model: nn.Module, dataset, *, batch_size: int = 8, progress: bool = False) -> dict:
    """Predict on every image of ``dataset`` and score it with :func:`evaluate_predictions`.

    Parameters
    ----------
    dataset : ``helpers.data.VOCDetectionDataset`` without augmentation (anything indexable as
        ``(image, target)`` with ``records`` holding ``boxes``/``labels``/``width``/``height``),
        or a ``torch.utils.data.Subset`` of one (e.g. a fixed part of val, cheaper to score often)

    Returns
    -------
    :func:`evaluate_predictions`'s dict plus ``"predictions"`` (per image, see :func:`predict`)
    and ``"ground_truth"`` (per image ``boxes``/``labels``), in dataset order.
    """
    images = [dataset[i][0] for i in range(len(dataset))]
    preds = predict(model, images, batch_size=batch_size, progress=progress)
    if isinstance(dataset, torch.utils.data.Subset):
        records, classes = [dataset.dataset.records[i] for i in dataset.indices], getattr(dataset.dataset, "classes", None)
    else:
        records, classes = dataset.records, getattr(dataset, "classes", None)
    gts = [{"boxes": np.asarray(r["boxes"], dtype=np.float32).reshape(-1, 4), "labels": np.asarray(r["labels"], dtype=np.int64)}
           for r in records]
    classes = classes or [str(k) for k in range(1, model.build_recipe["num_classes"] + 1)]
    out = evaluate_predictions(preds, gts, classes, sizes=[(r["width"], r["height"]) for r in records])
    return {"predictions": preds, "ground_truth": gts, **out}


# Anchors fitted to a dataset (helpers.anchor_fit): build_detector(name, **fit_anchors(name, train_set, size)).
from helpers.anchor_fit import anchor_coverage, fit_anchors  # noqa: E402, F401
