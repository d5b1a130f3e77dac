"""Box-aware augmentation for an unseen look: style randomisation, and the pitfalls to avoid.

All transforms are ``torchvision.transforms.v2`` transforms called as ``t(image, target)`` with
a ``tv_tensors.Image`` (uint8, (3, H, W)) and a target whose ``boxes`` are
``tv_tensors.BoundingBoxes`` (xyxy pixels), as :class:`helpers.voc_dataset.VOCDetectionDataset`
passes them, so boxes follow every geometric step and photometric steps leave them alone.

* :class:`RandomSketch` - turn the image into a pencil-sketch-like edge drawing (dark Sobel
  edges of the greyscale image on white): a cheap stand-in for a drawing style the training
  set lacks.
* :func:`style_transforms` - random greyscale, sketch and colour jitter, then box clean-up.
* :class:`RandomHorizontalFlipUnless` - a flip that skips images holding classes a mirror
  changes (Robin's "R" mirrored is no longer Robin's symbol).
* :func:`rotation_box_inflation` - how much an axis-aligned box grows when the image rotates
  (the box of a rotated box encloses background: a pitfall of rotation augmentation).

This module imports torch and torchvision; ``import helpers`` does not load it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

__all__ = ["RandomHorizontalFlipUnless", "RandomSketch", "rotation_box_inflation", "sketch", "style_transforms"]

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _check_probability(p, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def sketch(image: torch.Tensor, strength: float = 4.0) -> torch.Tensor:
    """Pencil-sketch look of an image: dark Sobel edges of its greyscale on white.

    Parameters
    ----------
    image : (3, H, W) uint8 tensor
    strength : float
        Edge gain: gradient magnitude (of intensities in [0, 1]) times ``strength`` is the ink.

    Returns
    -------
    (3, H, W) uint8 tensor, the same grey in all three channels.
    """
    if image.ndim != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
        raise ValueError(f"image must be a (3, H, W) uint8 tensor, got {tuple(image.shape)} {image.dtype}")
    grey = (image.float() / 255.0 * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0)[None, None]
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, _SOBEL_X[None, None])
    gy = F.conv2d(padded, _SOBEL_X.T.contiguous()[None, None])
    ink = (torch.sqrt(gx**2 + gy**2) * strength).clamp(0, 1)[0, 0]
    return ((1.0 - ink) * 255).round().to(torch.uint8).expand(3, -1, -1).clone()


class RandomSketch(v2.Transform):
    """With probability ``p``, replace the image by :func:`sketch` of it; boxes and labels unchanged."""

    def __init__(self, p: float = 0.3, strength: float = 4.0):
        super().__init__()
        self.p = _check_probability(p)
        self.strength = float(strength)

    def make_params(self, flat_inputs):
        return {"apply": bool(torch.rand(()) < self.p)}

    def transform(self, inpt, params):
        if params["apply"] and isinstance(inpt, tv_tensors.Image):
            return tv_tensors.wrap(sketch(inpt.as_subclass(torch.Tensor), self.strength), like=inpt)
        return inpt


class RandomHorizontalFlipUnless(v2.Transform):
    """``RandomHorizontalFlip(p)`` that leaves a sample alone when its ``labels`` hold any of
    ``protected`` (classes whose mirror image is another thing, such as a letter)."""

    def __init__(self, protected: Iterable[int], p: float = 0.5):
        super().__init__()
        self.protected = {int(c) for c in protected}
        self.p = _check_probability(p)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        target = sample[1] if isinstance(sample, tuple) and len(sample) == 2 else None
        labels = target.get("labels") if isinstance(target, dict) else None
        if labels is not None and self.protected & {int(c) for c in torch.as_tensor(labels).reshape(-1)}:
            return sample
        if torch.rand(()) >= self.p:
            return sample
        return v2.RandomHorizontalFlip(p=1.0)(sample)


def style_transforms(grey: float = 0.2, sketch_p: float = 0.2, color_jitter: float = 0.3):
    """Photometric style randomisation: random greyscale (p=``grey``), :class:`RandomSketch`
    (p=``sketch_p``), colour jitter of ``+-color_jitter``; then box clamp/sanitise. Boxes are
    untouched by every photometric step; compose it after geometric ones."""
    steps = []
    if _check_probability(grey, "grey") > 0:
        steps.append(v2.RandomGrayscale(p=grey))
    if _check_probability(sketch_p, "sketch_p") > 0:
        steps.append(RandomSketch(p=sketch_p))
    if color_jitter:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    steps += [v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1.0)]
    return v2.Compose(steps)


def rotation_box_inflation(width: float, height: float, angle_degrees: float) -> float:
    """Area of the axis-aligned box around a ``width`` x ``height`` box rotated by the angle,
    over the box's own area: what the label of an object grows to under rotation augmentation
    (2.0 for a square at 45 degrees: half of the new box is background)."""
    if not (width > 0 and height > 0) or not math.isfinite(angle_degrees):
        raise ValueError(f"need width, height > 0 and a finite angle, got {width}, {height}, {angle_degrees}")
    a = math.radians(angle_degrees)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    return (width * c + height * s) * (width * s + height * c) / (width * height)
