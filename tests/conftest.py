"""Shared test set-up.

Import order matters: TensorFlow imported before torch/torchvision crashes the process
(DESIGN.md, Frameworks). Importing torch here, before any test module is collected, makes the
wrong order impossible in the test run: every later ``import tensorflow`` finds torch loaded.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of logs

try:  # torch (and torchvision, which registers its ops) first, always
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError:  # a helpers-only install: framework tests skip themselves
    pass

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator per test."""
    return np.random.default_rng(0)
