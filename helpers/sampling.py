"""Class-aware resampling for imbalanced detection data: LVIS's repeat-factor sampling.

Gupta, Dollár and Girshick, "LVIS: A Dataset for Large Vocabulary Instance Segmentation",
CVPR 2019 (section 5.1 and appendix): with ``f_c`` the fraction of training images that contain
class ``c``, the class's repeat factor is ``r_c = max(1, sqrt(t / f_c))``; an image is repeated
``r_i = max over its classes of r_c`` times per epoch (1 for an image without objects). A
fractional ``r_i`` is honoured on average by stochastic rounding (``floor(r_i)`` copies, plus one
more with probability ``r_i - floor(r_i)``), as detectron2's ``RepeatFactorTrainingSampler``.

NumPy only; the index list feeds ``torch.utils.data.Subset`` or a ``DataLoader`` sampler.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.validate import real

__all__ = ["class_frequencies", "repeat_factor_indices", "repeat_factors"]


def _labels_per_image(image_labels: Sequence) -> list[set[int]]:
    if isinstance(image_labels, (str, bytes)) or not isinstance(image_labels, Sequence):
        raise TypeError(f"image_labels must be a sequence of per-image label arrays, got {type(image_labels).__name__}")
    out = []
    for i, labels in enumerate(image_labels):
        arr = np.asarray(labels).reshape(-1)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"image_labels[{i}] must hold integer class labels, got dtype {arr.dtype}")
        out.append({int(c) for c in arr})
    return out


def class_frequencies(image_labels: Sequence) -> dict[int, float]:
    """``{class: fraction of images that contain it}`` (an image counts once per class).

    Parameters
    ----------
    image_labels : sequence of (N_i,) int arrays
        The object labels of each training image (repeats allowed, empty allowed).
    """
    per_image = _labels_per_image(image_labels)
    if not per_image:
        raise ValueError("image_labels is empty: no images to sample from")
    counts: dict[int, int] = {}
    for labels in per_image:
        for c in labels:
            counts[c] = counts.get(c, 0) + 1
    return {c: counts[c] / len(per_image) for c in sorted(counts)}


def repeat_factors(image_labels: Sequence, threshold: float = 0.001) -> np.ndarray:
    """Per-image repeat factors ``r_i`` of LVIS's repeat-factor sampling, shape (num_images,).

    ``threshold`` is LVIS's ``t``: classes present in at least that fraction of the images are
    not oversampled (LVIS uses 0.001 for its 1,203 classes; a five-class toy set needs a much
    larger one, e.g. 0.3, for anything to happen).
    """
    threshold = real(threshold, "threshold", low=0, low_open=True, high=1)
    per_image = _labels_per_image(image_labels)
    freq = class_frequencies(image_labels)
    class_factor = {c: max(1.0, float(np.sqrt(threshold / f))) for c, f in freq.items()}
    return np.array([max((class_factor[c] for c in labels), default=1.0) for labels in per_image])


def repeat_factor_indices(factors, rng: np.random.Generator) -> np.ndarray:
    """One epoch's image indices: image ``i`` appears ``floor(r_i)`` times, plus once more with
    probability ``r_i - floor(r_i)``; shuffled. ``rng`` draws both (pass a seeded generator).

    Parameters
    ----------
    factors : (num_images,) array_like of float >= 1
        From :func:`repeat_factors`.
    rng : numpy.random.Generator
    """
    factors = np.asarray(factors, dtype=float)
    if factors.ndim != 1 or not np.all(np.isfinite(factors)) or (factors.size and factors.min() < 1):
        raise ValueError("factors must be a 1-D array of finite repeat factors >= 1")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    whole = np.floor(factors)
    copies = (whole + (rng.random(factors.size) < factors - whole)).astype(np.int64)
    indices = np.repeat(np.arange(factors.size), copies)
    rng.shuffle(indices)
    return indices
