"""Anchors (default boxes) fitted to a dataset's objects, at the input size a detector really sees.

02 showed why: an object no anchor overlaps with IoU >= 0.5 is never a positive, so it is never
learned. Torchvision's defaults are made for COCO at 800 px (Faster R-CNN, RetinaNet) or 320 px
(SSDlite); at another input size, or on other objects, they can miss many objects.

* :func:`object_boxes_at_input` - every ground-truth box as the model's resize will show it.
* :func:`anchor_coverage` - the share of objects that have an anchor with IoU >= 0.5 (and the
  best IoU of each object), computed with the model's own anchor generator and resize.
* :func:`fit_anchors` - a small search over anchor sizes for one of :mod:`helpers.detection`'s
  detectors: the ``build_detector`` keyword arguments that reach the most objects, with the
  same number of anchors per location as torchvision's layout.

Boxes are ``xyxy`` float pixels. The search is the course's own lesson of 02 applied (object
sizes -> anchor sizes), not a paper's recipe: sizes are geometric (``s0 * r**k``), as the
octave scales of RetinaNet (Lin et al., ICCV 2017) and the linearly spaced scales of SSD (Liu
et al., ECCV 2016) are, with ``s0`` and ``r`` chosen by coverage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: An object counts as reachable when some anchor overlaps it with at least this IoU (the
#: positive threshold of RetinaNet and SSD, and Faster R-CNN's RPN uses 0.7 or its best anchor).
REACH_IOU = 0.5


def _records(dataset, limit: int | None, seed: int = 0) -> list[dict]:
    """``{"width", "height", "boxes"}`` per image, from a VOCDetectionDataset (its ``records``,
    no image decoded) or from a sequence of such dicts; at most ``limit`` images (a fixed sample)."""
    records = getattr(dataset, "records", dataset)
    if isinstance(records, dict) or not isinstance(records, Sequence):
        raise TypeError("dataset must be a VOCDetectionDataset or a sequence of dicts with width, height and boxes")
    records = list(records)
    if not records:
        raise ValueError("the dataset has no images: nothing to fit anchors to")
    for i, rec in enumerate(records[:3]):
        if not all(k in rec for k in ("width", "height", "boxes")):
            raise ValueError(f"record {i} lacks width, height or boxes: {sorted(rec)}")
    if limit is not None and len(records) > limit:
        pick = np.random.default_rng(seed).choice(len(records), limit, replace=False)
        records = [records[i] for i in sorted(pick)]
    return records


def object_boxes_at_input(model, dataset, limit: int | None = 600) -> dict[tuple[int, int], np.ndarray]:
    """Ground-truth boxes as ``model``'s own transform resizes them.

    Parameters
    ----------
    model : a torchvision detector (its ``transform`` decides the input size)
    dataset : VOCDetectionDataset or sequence of ``{"width", "height", "boxes" (N, 4) xyxy}``
    limit : at most this many images (a fixed random sample), for speed

    Returns
    -------
    dict mapping the resized image size ``(height, width)`` to the (M, 4) xyxy boxes of every
    object of the images resized to it.
    """
    import torch

    out: dict[tuple[int, int], list[np.ndarray]] = {}
    sizes: dict[tuple[int, int], tuple[int, int]] = {}
    for rec in _records(dataset, limit):
        h, w = int(rec["height"]), int(rec["width"])
        if (h, w) not in sizes:
            with torch.no_grad():
                images, _ = model.transform([torch.zeros(3, h, w)])
            sizes[(h, w)] = tuple(int(v) for v in images.image_sizes[0])
        nh, nw = sizes[(h, w)]
        boxes = np.asarray(rec["boxes"], dtype=float).reshape(-1, 4) * np.array([nw / w, nh / h, nw / w, nh / h])
        out.setdefault((nh, nw), []).append(boxes)
    return {k: np.concatenate(v) for k, v in out.items()}


def _anchors_for(model, size: tuple[int, int], features_cache: dict | None = None) -> np.ndarray:
    """The (A, 4) xyxy anchors ``model`` lays on one resized image of ``size`` (height, width).

    ``features_cache``: reuse the backbone's feature maps for a size (only their shapes matter),
    when only the anchor generator changes between calls."""
    import torch
    from torchvision.models.detection.image_list import ImageList

    generator = getattr(model, "anchor_generator", None) or model.rpn.anchor_generator
    h, w = size
    stride = int(getattr(model.transform, "size_divisible", 32))
    ph, pw = -(-h // stride) * stride, -(-w // stride) * stride  # the padded batch the model builds
    with torch.no_grad():
        features = None if features_cache is None else features_cache.get((ph, pw))
        if features is None:
            out = model.backbone(torch.zeros(1, 3, ph, pw))
            features = list(out.values()) if isinstance(out, dict) else list(out)
            if features_cache is not None:
                features_cache[(ph, pw)] = features
        anchors = generator(ImageList(torch.zeros(1, 3, ph, pw), [(h, w)]), features)[0]
    return anchors.numpy().astype(float)


def anchor_coverage(model, dataset, limit: int | None = 600, iou: float = REACH_IOU, *,
                    _boxes: dict | None = None, _features: dict | None = None) -> dict:
    """How many objects ``model``'s anchors can reach, at the input size its transform makes.

    Returns
    -------
    dict: ``coverage`` (share of objects with an anchor of IoU >= ``iou``), ``objects``,
    ``best_iou`` (M,) per object, ``median_best_iou``, ``anchors_per_image``.
    """
    from helpers.boxes import box_iou

    was_training = model.training
    model.eval()
    best, n_anchors = [], 0
    try:
        by_size = _boxes if _boxes is not None else object_boxes_at_input(model, dataset, limit)
        for size, boxes in by_size.items():
            anchors = _anchors_for(model, size, _features)
            n_anchors = max(n_anchors, len(anchors))
            best.append(box_iou(boxes, anchors).max(axis=1) if len(boxes) else np.zeros(0))
    finally:
        model.train(was_training)
    best = np.concatenate(best) if best else np.zeros(0)
    return {"coverage": float(np.mean(best >= iou)) if len(best) else float("nan"), "objects": int(len(best)),
            "best_iou": best, "median_best_iou": float(np.median(best)) if len(best) else float("nan"),
            "anchors_per_image": n_anchors}


def _geometric(s0: float, ratio: float, n: int) -> list[float]:
    return [float(s0 * ratio**k) for k in range(n)]


def candidate_anchor_kwargs(name: str, object_sizes: np.ndarray, image_size: int) -> list[dict]:
    """The ``build_detector`` keyword arguments :func:`fit_anchors` chooses among.

    ``object_sizes``: sqrt(w * h) of the objects at the model's input, in pixels.
    Faster R-CNN and RetinaNet: the pyramid at strides 8, 16, 32, 64 (C3, C4, C5 and a pooled
    level), 3 sizes x 3 aspect ratios per location (RetinaNet's 9), sizes ``s0 * r**k`` for
    k = 0..11, smallest on the finest level. SSDlite: its 6 maps keep torchvision's aspect
    ratios (6 boxes per location); the scales (fractions of the image side) are ``s0 * r**k``,
    capped at 0.95, with a last scale of 1.
    """
    lo, hi = np.percentile(object_sizes, [1, 99])
    out = []
    if name.startswith(("fasterrcnn", "retinanet")):
        for s0 in lo * np.array([0.7, 0.85, 1.0]):
            for ratio in np.linspace(1.1, 1.4, 4):
                sizes = _geometric(s0, ratio, 12)
                if sizes[-1] < hi:  # the largest objects must have an anchor of their size
                    continue
                levels = tuple(tuple(round(s, 1) for s in sizes[3 * i: 3 * i + 3]) for i in range(4))
                out.append({"fpn_levels": "C3-C5", "anchor_sizes": levels})
    else:
        for s0 in lo / image_size * np.array([0.7, 0.85, 1.0, 1.2]):
            for ratio in np.linspace(1.4, 2.4, 6):
                scales = [min(0.95, s) for s in _geometric(s0, ratio, 6)] + [1.0]
                if scales[5] * image_size < hi:
                    continue
                out.append({"box_scales": tuple(round(s, 4) for s in scales)})
    return out


def fit_anchors(name: str, dataset, image_size: int, *, limit: int | None = 400, verbose: bool = True) -> dict:
    """The ``build_detector`` keyword arguments whose anchors reach the most objects of ``dataset``.

    Parameters
    ----------
    name : one of :data:`helpers.detection.MODELS`
    dataset : VOCDetectionDataset (or sequence of ``{"width", "height", "boxes"}``): the training set
    image_size : the ``image_size`` the detector will be built with
    limit : images sampled for the search (the coverage printed is on the same sample)

    Returns
    -------
    dict of keyword arguments for :func:`helpers.detection.build_detector`: ``fpn_levels`` and
    ``anchor_sizes`` for Faster R-CNN and RetinaNet, ``box_scales`` for SSDlite; ``{}`` when
    torchvision's layout at this size already reaches the most objects. With ``verbose`` one line
    says the coverage before and after; :func:`anchor_coverage` measures a built model's.
    """
    from helpers.detection import MODELS, build_detector

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    records = _records(dataset, limit)
    default = build_detector(name, 1, weights=None, image_size=image_size)
    base = anchor_coverage(default, records, limit=None)
    boxes = np.concatenate(list(object_boxes_at_input(default, records, limit=None).values()))
    sizes = np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))
    # the most objects reached; among equals (to 0.1 %), anchors that fit them best (mean best IoU)
    best_kwargs, best_cov = {}, base["coverage"]
    best_key = (round(base["coverage"], 3), float(np.mean(base["best_iou"])))
    candidates = candidate_anchor_kwargs(name, sizes[sizes > 0], image_size)
    layout = build_detector(name, 1, weights=None, image_size=image_size, **candidates[0]) if candidates else None
    by_size, features = (object_boxes_at_input(layout, records, limit=None), {}) if layout is not None else ({}, {})
    for kwargs in candidates:  # one model: only its anchor generator changes from candidate to candidate
        _set_anchors(layout, name, kwargs, image_size)
        found = anchor_coverage(layout, records, _boxes=by_size, _features=features)
        key = (round(found["coverage"], 3), float(np.mean(found["best_iou"])))
        if key > best_key:
            best_kwargs, best_cov, best_key = kwargs, found["coverage"], key
    if verbose:
        what = ", ".join(f"{k}={v}" for k, v in best_kwargs.items()) or "torchvision's defaults"
        print(f"{name} at {image_size} px: objects with an anchor of IoU >= {REACH_IOU}: "
              f"{base['coverage']:.1%} (defaults) -> {best_cov:.1%} ({what})")
    return best_kwargs


def _set_anchors(model, name: str, kwargs: dict, image_size: int) -> None:
    """Give ``model`` (built with a candidate of the same layout) the anchors of ``kwargs``, the way
    :func:`helpers.detection.build_detector` makes them (the feature maps do not change)."""
    from helpers import detection

    if name.startswith("fasterrcnn"):
        model.rpn.anchor_generator = detection._mobilenet_anchors(kwargs["anchor_sizes"])
    elif name.startswith("retinanet"):
        model.anchor_generator = detection._mobilenet_anchors(kwargs["anchor_sizes"])
    else:
        model.anchor_generator = detection._ssdlite_boxes(kwargs["box_scales"])
