"""helpers: the tested code behind the object-detection course notebooks.

Submodules are imported lazily (PEP 562), so ``import helpers`` is fast and imports neither
torch nor tensorflow; ``helpers.losses`` (for example) is loaded on first access.

NumPy core (framework-free): ``losses``, ``boxes``, ``anchors``, ``nms``, ``metrics``.
Utilities: ``env``, ``viz``, ``bench``, ``data``.
Framework code, imported only when used: ``tfhub`` (TensorFlow), ``detection`` (torchvision).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The repository this package lives in; notebooks' Colab cells install from here.
REPO_URL = "https://github.com/od-course/object-detection-course"

_SUBMODULES = (
    "anchors",
    "bench",
    "boxes",
    "classic",
    "data",
    "detection",
    "env",
    "losses",
    "metrics",
    "nms",
    "samples",
    "tfhub",
    "viz",
    "zoo",
)

__all__ = ["REPO_URL", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
