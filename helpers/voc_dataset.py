"""A torch ``Dataset`` over a Pascal VOC / LabelImg folder, with box-aware augmentation.

``VOCDetectionDataset(root, split)`` returns what torchvision's detection models take::

    image  : float32 tensor (3, H, W) in [0, 1]
    target : {"boxes": float32 (N, 4) xyxy pixel edges, "labels": int64 (N,) in 1..len(classes),
              "image_id": int}

Label 0 is the background, so class ``classes[k]`` has label ``k + 1``. ``image_id`` is the
item's position + 1, the id :func:`helpers.voc.voc_to_coco` gives the same image, so detections
can be scored against that COCO ground truth directly.

Every annotation is read and validated when the dataset is built (bad files raise
``VOCFormatError`` naming the file then, not deep inside a training loop; image paths must stay
inside the dataset folder); images are read lazily, as LabelImg shows them (EXIF orientation
applied, 16-bit images scaled; :func:`helpers.voc.load_rgb`), and one that cannot be decoded
(truncated, not an image) raises ``VOCFormatError`` naming the image and its annotation file, with
Pillow's error chained. Augmentation uses ``torchvision.transforms.v2`` with ``tv_tensors.BoundingBoxes`` so
the boxes follow every flip, resize and crop. This module imports torch: ``import helpers``
and ``import helpers.data`` do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from helpers.voc import CLASSES, load_rgb, read_split, resolve_classes  # noqa: E402


class VOCDetectionDataset(torch.utils.data.Dataset):
    """Images and boxes of a VOC folder (``Annotations/`` + ``JPEGImages/`` [+ ``ImageSets/Main/``])
    or of a LabelImg folder (images and XML files side by side).

    Parameters
    ----------
    root : str or Path
        The dataset folder.
    split : str or None
        ``"train"``, ``"val"``, ``"test"`` (or any ``ImageSets/Main/<split>.txt``). ``None``: every
        XML file (the only choice for a LabelImg folder without ``ImageSets``).
    transforms : callable, optional
        Called as ``transforms(image, target)`` with a uint8 ``tv_tensors.Image`` and a target whose
        ``boxes`` are ``tv_tensors.BoundingBoxes``, e.g. :func:`train_transforms`. The result is
        converted to float in [0, 1] afterwards.
    classes : sequence of str or None
        Class names (label ``k + 1`` is ``classes[k]``); an XML object with another name raises.
        ``None``: the sorted class names found in the whole folder (every split, so train and
        val number them alike), printed; see :func:`helpers.voc.folder_classes`.
    """

    def __init__(self, root, split: str | None = None, transforms=None, classes: Sequence[str] | None = CLASSES):
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        self.classes = resolve_classes(self.root, classes)
        self.records = read_split(self.root, split, self.classes)

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of item ``index`` as LabelImg displays it (EXIF orientation applied,
        16-bit scaled to 8-bit; see :func:`helpers.voc.load_rgb`), checked against the XML's size."""
        rec = self.records[index]
        return load_rgb(rec["image_path"], (rec["width"], rec["height"]), rec["xml_path"])[0]

    def __getitem__(self, index: int):
        rec = self.records[index]
        image = tv_tensors.Image(torch.from_numpy(np.asarray(self.load_image(index)).copy()).permute(2, 0, 1))
        target = {
            "boxes": tv_tensors.BoundingBoxes(torch.as_tensor(rec["boxes"], dtype=torch.float32).reshape(-1, 4),
                                              format="XYXY", canvas_size=(rec["height"], rec["width"])),
            "labels": torch.as_tensor(rec["labels"], dtype=torch.int64),
            "image_id": index + 1,
        }
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        image = v2.functional.to_dtype(image, torch.float32, scale=True).as_subclass(torch.Tensor)
        target["boxes"] = target["boxes"].as_subclass(torch.Tensor).to(torch.float32).reshape(-1, 4)
        return image, target

    def __repr__(self) -> str:
        return f"VOCDetectionDataset(root={str(self.root)!r}, split={self.split!r}, images={len(self)}, classes={len(self.classes)})"


def train_transforms(scale_range=(0.7, 1.3), hflip: float = 0.5, color_jitter: float = 0.3, hue: float = 0.0):
    """Box-aware training augmentation (``torchvision.transforms.v2``).

    Random horizontal flip (``hflip`` probability; note it mirrors the "R" of ``robin_symbol``,
    a letter no artist draws mirrored, so set ``hflip=0`` if that matters to you), a zoom by a
    random factor in ``scale_range`` that keeps the image's size (:class:`RandomZoom`: zoom out
    onto a grey canvas, or crop and enlarge), brightness/contrast/saturation jitter of
    ``+-color_jitter``, a hue shift of ``+-hue`` (off by default: colour is what tells the
    Joker's green hair from a clown's, and it triples the cost), then ``ClampBoundingBoxes`` and
    ``SanitizeBoundingBoxes`` (drops boxes that became degenerate, with their labels).
    Pass ``None``/0 to switch a step off. The result is callable as ``t(image, target)``.

    Why a zoom and not a resize: every detector here resizes its input to a fixed size
    (``image_size``), so resizing the whole image first changes nothing the model sees; a zoom
    changes the size of the objects *relative to the image*, which survives the model's resize.
    """
    steps = []
    if hflip > 0:
        steps.append(v2.RandomHorizontalFlip(p=hflip))
    if scale_range is not None:
        steps.append(RandomZoom(scale_range))
    if color_jitter > 0:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter, hue=hue or None))
    steps.append(v2.ClampBoundingBoxes())
    steps.append(v2.SanitizeBoundingBoxes(min_size=1.0))
    return v2.Compose(steps)


class RandomZoom(v2.Transform):
    """Scale the content by a random factor ``s`` in ``scale_range``, keeping the image's size.

    ``s < 1`` zooms out: the image shrinks by ``s`` and is pasted at a random place on a grey
    canvas of the original size (SSD's "zoom out"). ``s > 1`` zooms in: a random window of
    ``1/s`` of each side is cropped and enlarged to the original size (boxes are clipped to it;
    a box left with under half its area is dropped: SanitizeBoundingBoxes after
    ``train_transforms``' clamp removes the degenerate ones, and this transform shrinks boxes
    mostly outside the window to nothing). Objects' sizes relative to the image change by ``s``,
    which a detector's own fixed-size resize keeps.
    """

    def __init__(self, scale_range=(0.7, 1.3), fill: int = 124):
        super().__init__()
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be (lo, hi) with 0 < lo <= hi, got {scale_range}")
        self.scale_range = (float(lo), float(hi))
        self.fill = int(fill)

    def make_params(self, flat_inputs):
        height, width = v2.query_size(flat_inputs)
        s = float(torch.empty(1).uniform_(*self.scale_range))
        if s <= 1:
            h, w = max(1, round(height * s)), max(1, round(width * s))
            top, left = int(torch.randint(0, height - h + 1, ())), int(torch.randint(0, width - w + 1, ()))
            return {"s": s, "size": [h, w], "pad": [left, top, width - w - left, height - h - top]}
        h, w = max(1, round(height / s)), max(1, round(width / s))
        top, left = int(torch.randint(0, height - h + 1, ())), int(torch.randint(0, width - w + 1, ()))
        return {"s": s, "crop": (top, left, h, w), "out": [height, width]}

    def transform(self, inpt, params):
        if "pad" in params:
            out = self._call_kernel(v2.functional.resize, inpt, size=params["size"], antialias=True)
            return self._call_kernel(v2.functional.pad, out, padding=params["pad"], fill=self.fill)
        top, left, h, w = params["crop"]
        if isinstance(inpt, tv_tensors.BoundingBoxes):
            inpt = _drop_mostly_outside(inpt, top, left, h, w)
        return self._call_kernel(v2.functional.resized_crop, inpt, top=top, left=left, height=h, width=w,
                                 size=params["out"], antialias=True)


def _drop_mostly_outside(boxes, top: int, left: int, h: int, w: int):
    """Boxes (xyxy) with under half their area inside the window collapse to a point (which
    SanitizeBoundingBoxes then removes with its label)."""
    b = boxes.as_subclass(torch.Tensor)
    ix = (b[:, 2].clamp(max=left + w) - b[:, 0].clamp(min=left)).clamp(min=0)
    iy = (b[:, 3].clamp(max=top + h) - b[:, 1].clamp(min=top)).clamp(min=0)
    area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clamp(min=1e-9)
    gone = ix * iy < 0.5 * area
    if not bool(gone.any()):
        return boxes
    b = b.clone()
    b[gone] = b[gone][:, :2].repeat(1, 2)
    return tv_tensors.wrap(b, like=boxes)


def collate_fn(batch):
    """Keep images and targets as tuples (detection models take lists of differently sized images)."""
    return tuple(zip(*batch, strict=True))
