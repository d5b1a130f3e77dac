"""Argument checks shared by the NumPy core (metrics, boxes, losses, anchors).

Each raises ``TypeError`` (not a number) or ``ValueError`` (NaN, out of range) with a message that
names the argument, so a bad call fails at the call, not as a NumPy ``UFuncTypeError``, a bare
``ZeroDivisionError`` or a silent NaN further down.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def real(value, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
         finite: bool = True) -> float:
    """``value`` as a float: a real number (not a bool or a string), not NaN, in the given range.

    Parameters
    ----------
    low, high : bounds, inclusive (``low_open=True``: ``value > low``)
    finite : refuse +-inf as well as NaN
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    out = float(value)
    if math.isnan(out) or (finite and math.isinf(out)):
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number, got {value!r}")
    if low is not None and (out <= low if low_open else out < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and out > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value!r}")
    return out


def integer(value, name: str, *, low: int | None = None) -> int:
    """``value`` as an int: an integer (``int`` or NumPy integer, not a bool), at least ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)
