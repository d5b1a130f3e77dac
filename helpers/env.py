"""Where is this notebook running? Platform, GPU, network, fast mode and seeding.

Nothing here imports torch or tensorflow unless asked about them, and then only the one that
is already installed (``has_gpu``) or already imported (``seed_everything``).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import random
import socket
import sys
import time

import numpy as np

#: Hosts tried by :func:`is_online`, in order: the ones the notebooks actually download from.
ONLINE_PROBES: tuple[tuple[str, int], ...] = (
    ("tfhub.dev", 443),
    ("download.pytorch.org", 443),
    ("github.com", 443),
)

#: The longest :func:`is_online` waits, whatever ``timeout`` asks (a larger one is clamped to it).
MAX_PROBE_TIMEOUT = 30.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def in_colab() -> bool:
    """True inside Google Colab (its ``google.colab`` package is importable there only).

    False on a minimal install without any ``google`` package (``find_spec("google.colab")``
    raises ``ModuleNotFoundError`` there instead of returning None), and when ``google`` is a
    plain module or a broken namespace.
    """
    if "google.colab" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError, AttributeError):  # no `google`, or a `google` that is not a package
        return False


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):  # a parent package missing or broken
        return False


def has_gpu(framework: str | None = None) -> bool:
    """True when a GPU is usable by ``framework``.

    Parameters
    ----------
    framework : {"torch", "tensorflow", None}
        ``None`` asks whichever framework is already imported (torch first), else whichever is
        installed, importing at most one of them (importing both in the wrong order aborts the
        process, see DESIGN.md).
    """
    if framework not in (None, "torch", "tensorflow"):
        raise ValueError(f"framework must be 'torch', 'tensorflow' or None, got {framework!r}")
    if framework is None:
        if "torch" in sys.modules or ("tensorflow" not in sys.modules and _installed("torch")):
            framework = "torch"
        elif "tensorflow" in sys.modules or _installed("tensorflow"):
            framework = "tensorflow"
        else:
            return False
    if framework == "torch":
        if not _installed("torch"):
            return False
        import torch

        return bool(torch.cuda.is_available())
    if not _installed("tensorflow"):
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # only read at import: keeps C++ warnings out of cells
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _can_connect(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:  # DNS failure, refused, unreachable, timed out
        return False


def is_online(timeout: float = 2.0, hosts: tuple[tuple[str, int], ...] = ONLINE_PROBES) -> bool:
    """True when one of ``hosts`` accepts a TCP connection within ``timeout`` seconds.

    Never hangs: the hosts are tried in parallel daemon threads and the answer comes after at
    most ``timeout`` seconds in total (clamped to :data:`MAX_PROBE_TIMEOUT`, so ``inf`` is fine), even when name resolution itself stalls (a plain
    ``socket.create_connection`` timeout does not cover DNS). ``COURSE_OFFLINE=1`` forces ``False``
    and ``COURSE_ONLINE=1`` forces ``True``, both without probing (see :func:`forced_network`).
    """
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    timeout = min(float(timeout), MAX_PROBE_TIMEOUT)  # inf or 1e300 would overflow the socket's timeout
    if not hosts:
        raise ValueError("hosts must name at least one (host, port) pair")
    forced = forced_network()
    if forced is not None:
        return forced == "online"
    import queue
    import threading

    answers: queue.Queue[bool] = queue.Queue()
    for host, port in hosts:
        threading.Thread(target=lambda h=host, p=port: answers.put(_can_connect(h, p, timeout)), daemon=True).start()
    deadline = time.monotonic() + timeout
    for _ in hosts:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            if answers.get(timeout=remaining):
                return True
        except queue.Empty:
            return False
    return False


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={raw!r}: use 1/0, true/false, yes/no or on/off")


def forced_network() -> str | None:
    """``"online"``, ``"offline"`` or ``None``: what ``COURSE_ONLINE`` / ``COURSE_OFFLINE`` force.

    ``COURSE_OFFLINE=1`` forces the offline branch (stand-ins, no download attempted);
    ``COURSE_ONLINE=1`` forces the online branch without probing the network, so the online code
    runs against pre-filled caches (the Colab rehearsal does this). Both true is a contradiction
    and raises ``ValueError``; a false value (0/false/no/off) forces nothing.
    """
    online = _env_flag("COURSE_ONLINE", default=False)
    offline = _env_flag("COURSE_OFFLINE", default=False)
    if online and offline:
        raise ValueError(
            f"COURSE_ONLINE={os.environ['COURSE_ONLINE']!r} and COURSE_OFFLINE={os.environ['COURSE_OFFLINE']!r} "
            "are both set: they force opposite branches. Unset one of them."
        )
    if online:
        return "online"
    if offline:
        return "offline"
    return None


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` is set to a true value (1/true/yes/on).

    The test run sets it, so notebooks shrink their long work (fewer steps, fewer images).
    An unrecognised value raises ``ValueError`` rather than silently picking a mode.
    """
    return _env_flag("COURSE_FAST", default=False)


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy and, if already imported, torch and TensorFlow.

    Frameworks are seeded only when the notebook has imported them, so calling this never
    imports a framework (and never triggers the TensorFlow/torch import-order abort).
    Returns the seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (learners and libraries still draw from the global stream)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.random.set_seed(seed)
    return seed


def check_torch_import_order() -> None:
    """Raise a clear ``RuntimeError`` if importing torch now would crash the process.

    TensorFlow imported before torch/torchvision makes the later torch import abort or segfault
    (DESIGN.md, Frameworks). Modules of ``helpers`` that need torch call this first, so a
    learner gets an explanation instead of a dead kernel.
    """
    if "tensorflow" in sys.modules and "torch" not in sys.modules:
        raise RuntimeError(
            "TensorFlow is already imported in this process and torch is not: importing torch now "
            "would crash the kernel. Restart the kernel and import torch (or the torch-based helpers) "
            "before tensorflow, or keep this notebook to one framework."
        )


def _version(name: str) -> str | None:
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__version__", "?")
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(name)
    except PackageNotFoundError:
        return None


def describe_environment(framework: str | None = None, check_network: bool = True) -> str:
    """Two lines for a notebook's first cell: Python and framework versions; GPU, network, platform,
    mode (each line within the 120 characters a notebook output line may take).

    Framework versions are read from package metadata, so this imports no framework; the GPU
    is asked of ``framework`` (see :func:`has_gpu`; pass ``"tensorflow"`` in a TF-only notebook).
    """
    parts = [f"Python {platform.python_version()}"]
    for dist, label in (("torch", "torch"), ("torchvision", "torchvision"), ("tensorflow", "tensorflow")):
        v = _version(dist)
        if v is not None:
            parts.append(f"{label} {v}")
    versions, parts = " | ".join(parts), []
    parts.append("GPU: yes" if has_gpu(framework) else "GPU: no (CPU only)")
    if check_network:
        forced = forced_network()
        if forced is not None:
            flag = "COURSE_ONLINE" if forced == "online" else "COURSE_OFFLINE"
            parts.append(f"network: {forced} ({flag}=1, not probed)")
        else:
            parts.append("network: online" if is_online() else "network: offline")
    if in_colab():  # the Colab rehearsal's stand-in google.colab says so (tools/colab_rehearsal.py)
        stand_in = getattr(sys.modules.get("google.colab"), "STAND_IN", False)
        parts.append("platform: Colab (simulated by the Colab rehearsal)" if stand_in else "platform: Colab")
    else:
        parts.append(f"platform: {platform.system()}")
    parts.append("mode: fast (COURSE_FAST=1)" if fast_mode() else "mode: full")
    return versions + "\n" + " | ".join(parts)
