"""Data for the Batman detector: one import for the generator, VOC/COCO I/O and the Dataset.

The work is done in small modules, re-exported here:

* :mod:`helpers.voc` - ``CLASSES``, ``read_voc_xml`` / ``write_voc_xml`` (LabelImg's Pascal VOC
  files, and the 1-based pixel convention), ``read_split``, ``class_counts``, ``voc_to_coco`` /
  ``write_coco_json``, ``VOCFormatError``;
* :mod:`helpers.batman` - ``make_batman_dataset`` (the synthetic dataset), ``render_scene``;
* :mod:`helpers.batman_art` - the drawings: ``STYLES``, ``DISTRACTORS``, ``render_sprite``;
* :mod:`helpers.voc_dataset` - ``VOCDetectionDataset``, ``train_transforms``, ``collate_fn``
  (torch; loaded on first use, so ``import helpers.data`` imports no framework).

Labels: ``CLASSES[k]`` is label ``k + 1`` for torchvision detectors and COCO category ``k + 1``;
label 0 is the background. Boxes are ``xyxy`` float pixel edges (no "+1") everywhere.

A learner's own photos: label them with LabelImg in Pascal VOC mode, then either keep LabelImg's
layout (images and XML files in one folder) and use ``split=None``, or arrange them as
``Annotations/`` + ``JPEGImages/`` with optional ``ImageSets/Main/{train,val,test}.txt`` (one
image id, the file name without extension, per line). Pass ``classes=(...)`` with your names
(or ``classes=None``: the sorted names found in the whole folder, printed). Paths in your files
must stay inside the folder, and a broken image or annotation raises an error naming the file.
"""

from __future__ import annotations

from helpers.batman import (
    GENERATOR_VERSION,
    JPEG_OPTIONS,
    make_background,
    make_batman_dataset,
    render_scene,
)
from helpers.batman_art import DISTRACTORS, STYLES, render_sprite
from helpers.voc import (
    CLASSES,
    SPLITS,
    VOCFormatError,
    annotation_files,
    check_classes,
    class_counts,
    exif_orientation,
    folder_classes,
    image_path_for,
    load_rgb,
    read_split,
    read_text_file,
    read_voc_xml,
    voc_to_coco,
    voc_xml_string,
    write_coco_json,
    write_voc_xml,
)

_TORCH_NAMES = ("VOCDetectionDataset", "train_transforms", "collate_fn")

__all__ = [
    "CLASSES", "DISTRACTORS", "GENERATOR_VERSION", "JPEG_OPTIONS", "SPLITS", "STYLES", "VOCFormatError",
    "annotation_files", "check_classes", "class_counts", "exif_orientation", "folder_classes", "image_path_for",
    "load_rgb", "make_background", "make_batman_dataset", "read_split", "read_text_file", "read_voc_xml", "render_scene", "render_sprite", "voc_to_coco", "voc_xml_string",
    "write_coco_json", "write_voc_xml", *_TORCH_NAMES,
]


def label_names(classes=CLASSES) -> dict[int, str]:
    """``{label: name}`` for a detector's outputs, with 0 as ``"background"``."""
    return {0: "background", **{k + 1: name for k, name in enumerate(check_classes(classes))}}


__all__.append("label_names")


def __getattr__(name: str):
    if name in _TORCH_NAMES:  # torch is imported only when the Dataset side is asked for
        from helpers import voc_dataset

        return getattr(voc_dataset, name)
    raise AttributeError(f"module 'helpers.data' has no attribute {name!r}")
