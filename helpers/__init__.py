"""helpers: the tested code behind the object-detection course notebooks.

Submodules are imported lazily (PEP 562), so ``import helpers`` is fast and imports neither
torch nor tensorflow; ``helpers.losses`` (for example) is loaded on first access.

NumPy core (framework-free): ``losses``, ``boxes``, ``anchors``, ``nms``, ``metrics``,
``classic`` and ``viola_jones`` (notebook 03's reference code).
Data: ``data`` (one import for ``batman``/``batman_art``, the synthetic dataset, and ``voc``,
Pascal VOC/LabelImg and COCO I/O), ``samples`` (sample photos), ``boxgen`` (synthetic box sets), ``shapes`` (a synthetic
shapes-detection task).
Utilities: ``env``, ``viz``, ``bench``, ``tables``.
Framework code, imported only when used: ``tfhub`` and ``small_objects`` (TensorFlow);
``voc_dataset``, ``zoo``, ``detection`` and its companions, ``ssd`` (a small SSD trained from
scratch) (torch/torchvision).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The repository this package lives in; notebooks' Colab cells install from here.
REPO_URL = "https://github.com/od-course/object-detection-course"


def _submodule_names() -> list[str]:
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


__all__ = ["REPO_URL", "__version__"]


def __getattr__(name: str):
    if not name.startswith("_") and name in _submodule_names():
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__():
    return sorted([*__all__, *_submodule_names()])
