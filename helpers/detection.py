"""Torchvision detectors with a new head for your classes, predictions and COCO-format output.

* :func:`build_detector` - Faster R-CNN MobileNetV3-Large-FPN (the 320 px "mobile" variant or the
  full-size one) or SSDlite320-MobileNetV3 (one-stage), with a fresh box classifier for
  ``num_classes`` foreground classes plus background. Initial weights: torchvision's COCO
  weights (needs the network), a backbone checkpoint of our own (``"shapes"``, made offline by
  ``tools/pretrain_backbone.py``), or random (``None``).
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
from torchvision.models.detection.ssd import SSD  # noqa: E402
from torchvision.ops import misc as misc_nn_ops  # noqa: E402

#: The detectors :func:`build_detector` knows, with what they are.
MODELS: dict[str, str] = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": "two-stage Faster R-CNN, MobileNetV3-Large + FPN, mobile settings",
    "fasterrcnn_mobilenet_v3_large_fpn": "two-stage Faster R-CNN, MobileNetV3-Large + FPN, full-size settings",
    "ssdlite320_mobilenet_v3_large": "one-stage SSDlite, MobileNetV3-Large, 320x320 input",
}

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

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    num_classes : int
        Foreground classes; the head predicts ``num_classes + 1`` (label 0 is the background).
    weights : {"coco", "shapes", None} or path
        ``"coco"``: torchvision's COCO-trained detector (downloaded), whose class-specific layer is
        replaced by a fresh one (transfer learning). ``"shapes"`` or a ``.pt`` path: the
        Faster R-CNN parts pretrained by ``tools/pretrain_backbone.py`` (backbone, and FPN and RPN
        when the checkpoint has them; Faster R-CNN only), with frozen BatchNorm statistics as
        torchvision does for pretrained backbones; the box head starts random. ``None``: everything random (BatchNorm trains).
    trainable_backbone_layers : int, optional
        How many of the backbone's 6 stages train (from the top) when it is pretrained;
        default 3, torchvision's. Ignored (all train) when nothing is pretrained.
    image_size : int
        Images are resized so their shorter side is ``image_size`` (Faster R-CNN; longer side at
        most twice that); SSDlite always works at 320x320.
    box_head_size : int, optional
        Faster R-CNN only: replace the box head's two 1024-wide fully connected layers (fed by
        256x7x7 RoI features, the costliest part of a CPU training step) by ``box_head_size``-wide
        ones, randomly initialised. ``None`` keeps torchvision's head.
    **kwargs
        Passed to the torchvision model (e.g. ``box_score_thresh``, ``box_detections_per_img``).

    Returns
    -------
    nn.Module in train mode, with ``model.build_recipe`` (the arguments, for checkpoints).
    """
    _check_build_args(name, num_classes, image_size, trainable_backbone_layers, box_head_size)
    weights = _check_weights(weights)
    recipe = {"name": name, "num_classes": num_classes, "weights": None if weights is None else str(weights),
              "trainable_backbone_layers": trainable_backbone_layers, "image_size": image_size,
              "box_head_size": box_head_size, "kwargs": dict(kwargs)}
    if name.startswith("fasterrcnn"):
        model = _build_faster_rcnn(name, num_classes, weights, trainable_backbone_layers, image_size, kwargs)
        _resize_box_head(model, box_head_size, num_classes)
    else:
        if box_head_size is not None:
            raise ValueError("box_head_size is a Faster R-CNN option; SSDlite has no box head to resize")
        model = _build_ssdlite(num_classes, weights, trainable_backbone_layers, kwargs)
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


def _load_state(module: nn.Module, state, path, what: str) -> None:
    """``module.load_state_dict(state)``, a mismatch reported as which weights do not fit, naming the file."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()] or [str(err)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise CheckpointError(f"{path}: its weights do not fit {what}: {lines[0]}{more}") from None


def _faster_rcnn_layout(name, num_classes, frozen_bn, trainable_layers, image_size, kwargs) -> FasterRCNN:
    """Faster R-CNN MobileNetV3-Large-FPN with random weights, laid out as torchvision builds it.

    ``frozen_bn``: the layout of a pretrained build (FrozenBatchNorm2d, only the top
    ``trainable_layers`` of 6 backbone stages train); otherwise BatchNorm trains and so does
    every stage.
    """
    settings = {"min_size": image_size, "max_size": 2 * image_size, **_FRCNN_FAST_TRAIN}
    if name.endswith("_320_fpn"):  # torchvision's mobile defaults: few proposals at test time
        settings.update({"rpn_pre_nms_top_n_test": 150, "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05})
    settings.update(kwargs)
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    backbone = torchvision.models.mobilenet_v3_large(weights=None, norm_layer=norm_layer)
    layers = (3 if trainable_layers is None else trainable_layers) if frozen_bn else 6
    extractor = _mobilenet_extractor(backbone, True, layers)
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3  # as torchvision's MobileNetV3 Faster R-CNN
    anchors = AnchorGenerator(anchor_sizes, ((0.5, 1.0, 2.0),) * len(anchor_sizes))
    return FasterRCNN(extractor, num_classes + 1, rpn_anchor_generator=anchors, **settings)


def _build_faster_rcnn(name, num_classes, weights, trainable_layers, image_size, kwargs) -> FasterRCNN:
    from torchvision.models.detection import faster_rcnn

    model = _faster_rcnn_layout(name, num_classes, weights is not None, trainable_layers, image_size, kwargs)
    if weights == "coco":  # torchvision's COCO detector: its weights, except the class-specific layer
        coco = _coco_model(name, lambda: getattr(torchvision.models.detection, name)(weights="DEFAULT"))
        state = {k: v for k, v in coco.state_dict().items() if not k.startswith("roi_heads.box_predictor.")}
        missing, _ = model.load_state_dict(state, strict=False)
        assert all(k.startswith("roi_heads.box_predictor.") for k in missing), missing
        model.roi_heads.box_predictor = faster_rcnn.FastRCNNPredictor(
            model.roi_heads.box_predictor.cls_score.in_features, num_classes + 1)
    elif weights is not None:
        path = SHAPES_BACKBONE if weights == "shapes" else weights
        parts, _ = load_backbone_state(path)
        _load_state(model.backbone.body, parts["features"], path, "the MobileNetV3-Large backbone")
        if "fpn" in parts:  # a detector-pretrained checkpoint: the pyramid and proposals transfer too
            _load_state(model.backbone.fpn, parts["fpn"], path, "the feature pyramid")
        if "rpn" in parts:
            _load_state(model.rpn, parts["rpn"], path, "the region proposal network")
    return model


def _resize_box_head(model: FasterRCNN, size: int | None, num_classes: int) -> None:
    if size is None:
        return
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

    resolution = model.roi_heads.box_roi_pool.output_size[0]
    model.roi_heads.box_head = TwoMLPHead(model.backbone.out_channels * resolution**2, size)
    model.roi_heads.box_predictor = FastRCNNPredictor(size, num_classes + 1)


def _build_ssdlite(num_classes, weights, trainable_layers, kwargs) -> SSD:
    from functools import partial

    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.ssdlite import SSDLiteClassificationHead

    if isinstance(weights, Path) or weights == "shapes":
        raise ValueError("the offline backbone checkpoint is for Faster R-CNN; use weights='coco' or None for SSDlite")
    builder = torchvision.models.detection.ssdlite320_mobilenet_v3_large
    if weights == "coco":
        model = _coco_model("ssdlite320_mobilenet_v3_large",
                            lambda: builder(weights="DEFAULT", trainable_backbone_layers=trainable_layers, **kwargs))
        channels = det_utils.retrieve_out_channels(model.backbone, (320, 320))
        anchors = model.anchor_generator.num_anchors_per_location()
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
        model.head.classification_head = SSDLiteClassificationHead(channels, anchors, num_classes + 1, norm)
        return model
    return builder(weights=None, weights_backbone=None, num_classes=num_classes + 1, **kwargs)


def _coco_model(name: str, build):
    """``build()`` (a torchvision constructor with ``weights="DEFAULT"``), a failed download or a
    broken cached file reported in the user's terms instead of urllib's or torch's message."""
    try:
        return build()
    except (OSError, RuntimeError, EOFError) as err:  # URLError is an OSError; a torn cache file a RuntimeError
        url = torchvision.models.get_model_weights(name).DEFAULT.url
        raise RuntimeError(f"torchvision's COCO weights for {name} could not be loaded from {url} or torch hub's "
                           f"cache ({type(err).__name__}: {err}); without them use weights='shapes' "
                           "(Faster R-CNN) or weights=None") from err


def coco_weights_reachable(name: str = "fasterrcnn_mobilenet_v3_large_320_fpn") -> tuple[bool, str]:
    """Fetch torchvision's COCO checkpoint for ``name`` into torch hub's cache (once; later calls read
    the cache) and say whether it loaded: ``(True, url)`` or ``(False, "what went wrong")``."""
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
def _to_tensor_image(image) -> torch.Tensor:
    """(C, H, W) float tensor in [0, 1] from a tensor, a NumPy (H, W, 3) uint8/float array or a PIL image."""
    if isinstance(image, torch.Tensor):
        t = image
    else:
        arr = np.asarray(image)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"an image must be (H, W, 3) RGB, got shape {arr.shape}")
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"an image tensor must be (3, H, W), got shape {tuple(t.shape)}")
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
        # SSDlite's COCO build has the same layout as the random one
        return _build_ssdlite(recipe["num_classes"], None, None, kwargs)
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
        ``(image, target)`` with ``records`` holding ``boxes``/``labels``/``width``/``height``)

    Returns
    -------
    :func:`evaluate_predictions`'s dict plus ``"predictions"`` (per image, see :func:`predict`)
    and ``"ground_truth"`` (per image ``boxes``/``labels``), in dataset order.
    """
    images = [dataset[i][0] for i in range(len(dataset))]
    preds = predict(model, images, batch_size=batch_size, progress=progress)
    gts = [{"boxes": np.asarray(r["boxes"], dtype=np.float32).reshape(-1, 4), "labels": np.asarray(r["labels"], dtype=np.int64)}
           for r in dataset.records]
    classes = getattr(dataset, "classes", None) or [str(k) for k in range(1, model.build_recipe["num_classes"] + 1)]
    out = evaluate_predictions(preds, gts, classes, sizes=[(r["width"], r["height"]) for r in dataset.records])
    return {"predictions": preds, "ground_truth": gts, **out}
