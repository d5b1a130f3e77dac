"""Timing and memory measurement done right: cold call apart, warm median/p90, GPU sync, peak RSS.

A single call that includes graph tracing or lazy initialisation is not the model's latency;
an increment reported by ``%memit`` after the model was already loaded is not its memory.
:func:`benchmark` reports the cold call separately from the warm statistics, and
:func:`peak_memory` reports both the peak and the increment, so a notebook can show why
they differ.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class BenchmarkResult:
    """Times in milliseconds. ``cold_ms`` is the first call (tracing, caches, allocation)."""

    cold_ms: float
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    fps: float
    repeat: int
    warmup: int
    device: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"cold {self.cold_ms:.1f} ms | warm median {self.median_ms:.2f} ms, p90 {self.p90_ms:.2f} ms "
                f"| {self.fps:.3g} FPS ({self.repeat} runs after {self.warmup} warm-up, {self.device})")


def _synchronizer(sync: str | Callable[[], None] | None) -> tuple[Callable[[], None], str]:
    """Pick the function that waits for queued GPU work, without importing any framework."""
    if callable(sync):
        return sync, "custom sync"
    if sync not in (None, "auto", "none", "torch", "tensorflow"):
        raise ValueError(f"sync must be None, 'auto', 'none', 'torch', 'tensorflow' or a callable, got {sync!r}")
    if sync == "none":
        return (lambda: None), "cpu"
    if sync in ("torch", None, "auto") and "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.synchronize, "cuda (torch, synchronised)"
    if sync in ("tensorflow", None, "auto") and "tensorflow" in sys.modules:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            # TF eager ops run asynchronously on GPU; pulling a value to the host waits for them.
            return (lambda: tf.constant(0.0).numpy()), "gpu (tensorflow, synchronised)"
    return (lambda: None), "cpu"


def _materialise(result) -> None:
    """Force lazy/async results: tensors are pulled to the host, containers walked."""
    if isinstance(result, dict):
        for value in result.values():
            _materialise(value)
    elif isinstance(result, (list, tuple)):
        for value in result:
            _materialise(value)
    elif hasattr(result, "numpy") and callable(result.numpy) and not isinstance(result, np.ndarray):
        try:
            result.numpy()
        except (TypeError, RuntimeError, ValueError):
            pass  # e.g. a torch tensor that requires grad: already computed eagerly on CPU


def benchmark(fn: Callable, *args, warmup: int = 3, repeat: int = 20, sync=None,
              materialise: bool = True, **kwargs) -> BenchmarkResult:
    """Time ``fn(*args, **kwargs)``: one cold call, ``warmup`` untimed calls, ``repeat`` timed calls.

    Parameters
    ----------
    fn : callable to time; its inputs must already be prepared (no download or decoding inside)
    warmup : int >= 0, untimed calls after the cold one
    repeat : int >= 1, timed calls; median, p90, mean, min and FPS (1000 / median) come from them
    sync : None/"auto" (sync the GPU of whichever framework is imported), "torch", "tensorflow",
        "none", or a callable run after each call before the clock stops
    materialise : pull tensor results to the host so asynchronous work is finished when timed
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
    wait, device = _synchronizer(sync)

    def timed_call() -> float:
        wait()
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        if materialise:
            _materialise(out)
        wait()
        return (time.perf_counter() - start) * 1000.0

    cold = timed_call()
    for _ in range(warmup):
        timed_call()
    times = np.array([timed_call() for _ in range(repeat)])
    median = float(np.median(times))
    return BenchmarkResult(
        cold_ms=cold, median_ms=median, p90_ms=float(np.percentile(times, 90)), mean_ms=float(times.mean()),
        min_ms=float(times.min()), fps=1000.0 / median if median > 0 else float("inf"), repeat=repeat,
        warmup=warmup, device=device,
    )


@dataclass(frozen=True)
class ThroughputResult:
    """A stream of inputs processed back to back: images per second over the whole stream."""

    images: int
    calls: int
    total_s: float
    fps: float
    ms_per_image: float
    device: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.images} images in {self.total_s:.2f} s ({self.calls} calls): {self.fps:.2f} images/s, "
                f"{self.ms_per_image:.1f} ms per image ({self.device})")


def throughput(fn: Callable, inputs, *, batch_size: int = 1, warmup: int = 1, sync=None,
               materialise: bool = True) -> ThroughputResult:
    """Images per second when ``fn(x)`` runs on every ``x`` in ``inputs``, one call after another.

    Unlike :func:`benchmark` (the same input again and again), this is a stream of different,
    already prepared inputs, the way a video or a folder of photos is processed. Each ``x`` holds
    ``batch_size`` images (a model that takes one image per call has ``batch_size=1``).
    ``warmup`` untimed calls on ``inputs[0]`` come first, so tracing is not counted.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs must hold at least one prepared input")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    wait, device = _synchronizer(sync)

    def call(x):
        out = fn(x)
        if materialise:
            _materialise(out)

    for _ in range(warmup):
        call(inputs[0])
    wait()
    start = time.perf_counter()
    for x in inputs:
        call(x)
    wait()
    total = time.perf_counter() - start
    images = len(inputs) * batch_size
    return ThroughputResult(images=images, calls=len(inputs), total_s=total,
                            fps=images / total if total > 0 else float("inf"),
                            ms_per_image=1000.0 * total / images, device=device)


@dataclass(frozen=True)
class MemoryResult:
    """Resident memory of this process in MiB, sampled by memory_profiler while ``fn`` ran."""

    baseline_mib: float
    peak_mib: float
    increment_mib: float

    def __str__(self) -> str:
        return f"peak memory {self.peak_mib:.1f} MiB, increment {self.increment_mib:.1f} MiB (baseline {self.baseline_mib:.1f} MiB)"


def peak_memory(fn: Callable, *args, interval: float = 0.01, **kwargs) -> tuple[MemoryResult, object]:
    """Run ``fn(*args, **kwargs)`` once and measure this process's peak RSS with memory_profiler.

    The increment is peak minus the RSS just before the call: memory that was already allocated
    (a model loaded earlier, buffers kept from a previous run) does not show in it, which is why
    a second ``%memit`` of the same call reports ~0 MiB. Returns ``(MemoryResult, fn's result)``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not interval > 0:
        raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
    from memory_profiler import memory_usage

    baseline = memory_usage(-1, interval=interval, timeout=interval * 2, max_usage=True)
    peak, result = memory_usage((fn, args, kwargs), interval=interval, max_usage=True, retval=True,
                                include_children=False)
    baseline, peak = float(np.max(baseline)), float(np.max(peak))
    return MemoryResult(baseline_mib=baseline, peak_mib=peak, increment_mib=max(0.0, peak - baseline)), result


def gpu_memory_mib(framework: str, device: str | int = 0) -> dict | None:
    """Current and peak GPU memory in MiB for ``framework`` ("torch" or "tensorflow"), or None on CPU.

    TensorFlow's ``tf.config.experimental.get_memory_info`` raises on a machine without a GPU, so
    it is only called when one exists.
    """
    if framework == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        index = device if isinstance(device, int) else 0
        return {"current_mib": torch.cuda.memory_allocated(index) / 2**20,
                "peak_mib": torch.cuda.max_memory_allocated(index) / 2**20}
    if framework == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return None
        name = device if isinstance(device, str) else f"GPU:{device}"
        info = tf.config.experimental.get_memory_info(name)
        return {"current_mib": info["current"] / 2**20, "peak_mib": info["peak"] / 2**20}
    raise ValueError(f"framework must be 'torch' or 'tensorflow', got {framework!r}")
