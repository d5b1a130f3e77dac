"""Ship a torchvision detector: export to ONNX, run it with onnxruntime, check it agrees with PyTorch.

The exported graph takes one image ``(3, H, W)`` float32 in [0, 1] (any H, W) and returns
``boxes`` (D, 4) xyxy pixels, ``labels`` (D,) int64 and ``scores`` (D,) float32: the same
post-processing (resize, NMS, score threshold) as the PyTorch model, inside the graph.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

OUTPUT_NAMES = ("boxes", "labels", "scores")


class _FixedOutputs(nn.Module):
    """One image's detections as the tuple :data:`OUTPUT_NAMES`, whatever order the model's dict has
    (Faster R-CNN returns boxes, labels, scores; SSD and RetinaNet boxes, scores, labels)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images):
        out = self.model(images)[0]
        return tuple(out[name] for name in OUTPUT_NAMES)


def export_onnx(model: nn.Module, path, image_size: int | tuple[int, int] = 320, opset: int = 17,
                example: torch.Tensor | None = None) -> Path:
    """Export ``model`` (eval mode) to an ONNX file with a dynamic image height and width.

    ``example`` is the (3, H, W) image the graph is traced with; pass a real image from the data
    set when you have one (a random-noise image can send a barely trained model down an
    untypical path, e.g. few or no proposals, which the trace then bakes in). Without it a
    seeded random image of ``image_size`` is used.

    Uses the TorchScript-based exporter (``dynamo=False``), the one torchvision's detection
    models are tested with (their data-dependent NMS and per-image loops trace into ONNX
    ``NonMaxSuppression``/``Loop`` ops). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    was_training = model.training
    model.eval()
    if example is None:
        example = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))
    elif example.ndim != 3 or example.shape[0] != 3:
        raise ValueError(f"example must be one (3, H, W) image, got shape {tuple(example.shape)}")
    try:
        with warnings.catch_warnings():  # tracer warnings about Python control flow are expected here
            warnings.simplefilter("ignore")
            torch.onnx.export(_FixedOutputs(model), ([example],), str(path), opset_version=opset, dynamo=False,
                              input_names=["image"], output_names=list(OUTPUT_NAMES),
                              dynamic_axes={"image": {1: "height", 2: "width"}, "boxes": {0: "detections"},
                                            "labels": {0: "detections"}, "scores": {0: "detections"}})
    finally:
        model.train(was_training)
    return path


def onnx_session(path, threads: int | None = None):
    """An onnxruntime CPU ``InferenceSession`` for ``path`` (``threads`` intra-op threads if given)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_input(image) -> np.ndarray:
    """One image as the ONNX graph takes it: float32 ``(3, H, W)`` in [0, 1].

    Scaled exactly as :func:`helpers.detection.predict` scales its inputs: a uint8 image (tensor,
    array or PIL image) is divided by 255; a float image is kept as it is, and refused when its
    values are clearly not in [0, 1] (:func:`helpers.detection.check_image_values`). Tensors and
    ``(3, H, W)`` arrays are channels-first; an ``(H, W, 3)`` array or a PIL image is
    channels-last, as in ``predict``.
    """
    if isinstance(image, torch.Tensor):
        x = image.detach().cpu().numpy()
    else:
        x = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)
        if x.ndim == 3 and x.shape[0] != 3 and x.shape[2] == 3:
            x = x.transpose(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"the ONNX detector takes one (3, H, W) image, got shape {x.shape}")
    from helpers.detection import check_image_values

    check_image_values(x)  # the same rule as predict: uint8 0..255 or float 0..1, nothing ambiguous
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x, dtype=np.float32)


def onnx_predict(session, image) -> dict:
    """Detections for one image from an ONNX session, scaled as :func:`helpers.detection.predict`
    scales it (see :func:`onnx_input`: uint8 divided by 255, float kept)."""
    boxes, labels, scores = session.run(list(OUTPUT_NAMES), {"image": onnx_input(image)})
    return {"boxes": boxes, "labels": labels, "scores": scores}


def compare_outputs(torch_pred: dict, onnx_pred: dict, score_threshold: float = 0.3) -> dict:
    """How far ONNX detections are from PyTorch's for one image (those with score >= threshold).

    Order-insensitive (equal scores may come out in another order): each PyTorch detection is
    paired with the ONNX detection of the same label and closest box among those whose score
    is within 1e-4 of it. Returns ``{"n_torch", "n_onnx", "matched", "max_box_diff",
    "max_score_diff"}`` (pixels, score units; ``matched`` is True when every detection found its
    partner and the counts agree).
    """
    def confident(p):
        keep = np.asarray(p["scores"]) >= score_threshold
        return (np.asarray(p["boxes"], dtype=float).reshape(-1, 4)[keep], np.asarray(p["labels"])[keep],
                np.asarray(p["scores"], dtype=float)[keep])

    tb, tl, ts = confident(torch_pred)
    ob, ol, os_ = confident(onnx_pred)
    box_diff, score_diff, matched = 0.0, 0.0, len(tb) == len(ob)
    for box, label, score in zip(tb, tl, ts, strict=True):
        cand = np.flatnonzero((ol == label) & (np.abs(os_ - score) <= 1e-4))
        if cand.size == 0:
            matched = False
            continue
        dist = np.abs(ob[cand] - box).max(axis=1)
        j = cand[int(np.argmin(dist))]
        box_diff = max(box_diff, float(dist.min()))
        score_diff = max(score_diff, float(abs(os_[j] - score)))
    return {"n_torch": len(tb), "n_onnx": len(ob), "matched": matched,
            "max_box_diff": box_diff, "max_score_diff": score_diff}
