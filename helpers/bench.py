"""Timing and memory measurement done right: cold call apart, warm median/p90, interleaved runs, GPU sync, peak RSS.

A single call that includes graph tracing or lazy initialisation is not the model's latency;
an increment reported by ``%memit`` after the model was already loaded is not its memory.
:func:`benchmark` reports the cold call separately from the warm statistics, and
:func:`peak_memory` reports both the peak and the increment, so a notebook can show why
they differ.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

#: Fewest runs from which a 90th percentile is reported: from fewer, the p90 is nearly the maximum.
MIN_RUNS_FOR_P90 = 10


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
    max_ms: float = float("nan")

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        # a p90 of fewer than MIN_RUNS_FOR_P90 runs is close to the maximum: show the range instead
        spread = (f"p90 {self.p90_ms:.2f} ms" if self.repeat >= MIN_RUNS_FOR_P90
                  else f"min {self.min_ms:.2f}, max {self.max_ms:.2f} ms")
        return (f"cold {self.cold_ms:.1f} ms | warm median {self.median_ms:.2f} ms, {spread} "
                f"| {self.fps:.3g} FPS ({self.repeat} runs after {self.warmup} warm-up, {self.device})")


def _synchronizer(sync: str | Callable[[], None] | None) -> tuple[Callable[[object], None], str]:
    """Pick the function run after each timed call, before the clock stops; import no framework.

    The returned ``wait(result)`` receives the timed call's result. torch waits with
    ``torch.cuda.synchronize()``. TensorFlow has no global "wait for the GPU" call: its eager
    ops and functions return as soon as their kernels are queued, and what makes the host wait
    for *this* call's work is pulling *its* outputs to the host, so on a TensorFlow GPU the
    wait materialises the result (a fresh ``tf.constant(0.0).numpy()`` would wait for nothing
    that was launched). A user callable is called without arguments.
    """
    if callable(sync):
        return (lambda result: sync()), "custom sync"
    if sync not in (None, "auto", "none", "torch", "tensorflow"):
        raise ValueError(f"sync must be None, 'auto', 'none', 'torch', 'tensorflow' or a callable, got {sync!r}")
    if sync == "none":
        return (lambda result: None), "cpu"
    if sync in ("torch", None, "auto") and "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return (lambda result: torch.cuda.synchronize()), "cuda (torch, synchronised)"
    if sync in ("tensorflow", None, "auto") and "tensorflow" in sys.modules:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return _materialise, "gpu (tensorflow, outputs copied to the host)"
    return (lambda result: None), "cpu"


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
        wait(None)  # nothing of an earlier call still running when the clock starts
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        if materialise:
            _materialise(out)
        wait(out)
        return (time.perf_counter() - start) * 1000.0

    cold = timed_call()
    for _ in range(warmup):
        timed_call()
    times = np.array([timed_call() for _ in range(repeat)])
    median = float(np.median(times))
    return BenchmarkResult(
        cold_ms=cold, median_ms=median, p90_ms=float(np.percentile(times, 90)), mean_ms=float(times.mean()),
        min_ms=float(times.min()), fps=1000.0 / median if median > 0 else float("inf"), repeat=repeat,
        warmup=warmup, device=device, max_ms=float(times.max()),
    )


@dataclass(frozen=True)
class TimingStats:
    """Statistics of ``n`` timed calls in milliseconds; ``p90_ms`` is None below ``MIN_RUNS_FOR_P90`` runs."""

    n: int
    median_ms: float
    min_ms: float
    max_ms: float
    p90_ms: float | None
    times_ms: tuple[float, ...]

    @classmethod
    def from_times(cls, times_ms) -> TimingStats:
        times = np.asarray(times_ms, dtype=np.float64).reshape(-1)
        if not len(times):
            raise ValueError("times_ms must hold at least one time")
        p90 = float(np.percentile(times, 90)) if len(times) >= MIN_RUNS_FOR_P90 else None
        return cls(n=len(times), median_ms=float(np.median(times)), min_ms=float(times.min()),
                   max_ms=float(times.max()), p90_ms=p90, times_ms=tuple(float(t) for t in times))

    def __str__(self) -> str:
        spread = f"p90 {self.p90_ms:.1f} ms" if self.p90_ms is not None else f"min {self.min_ms:.1f}, max {self.max_ms:.1f} ms"
        return f"median {self.median_ms:.1f} ms, {spread} ({self.n} runs)"


def interleaved(calls: dict, repeat: dict, *, warmup: int = 1, sync=None, materialise: bool = True,
                progress=None) -> dict:
    """Time several callables in alternation, so that a change of load on a shared machine hits all of them.

    Timing one model after the other puts each in a different stretch of time: a neighbour's
    job that starts halfway through slows only the second one, and the ratio is wrong. Here the
    calls are spread over rounds: with ``repeat={"a": 30, "b": 10}`` every round runs ``a``
    three times and ``b`` once, for 10 rounds.

    Parameters
    ----------
    calls : dict name -> callable taking no arguments (inputs already prepared)
    repeat : dict name -> timed calls (int >= 1) for every name in ``calls``
    warmup : untimed calls of each callable before the first round
    sync, materialise : as in :func:`benchmark`
    progress : optional wrapper of the rounds iterator (e.g. ``tqdm.auto.tqdm``)

    Returns
    -------
    dict name -> :class:`TimingStats`
    """
    if not calls:
        raise ValueError("calls must name at least one callable")
    for name, fn in calls.items():
        if not callable(fn):
            raise TypeError(f"calls[{name!r}] must be callable, got {type(fn).__name__}")
    if set(repeat) != set(calls):
        raise ValueError(f"repeat must give a count for exactly the names in calls {sorted(calls)}, got {sorted(repeat)}")
    for name, n in repeat.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"repeat[{name!r}] must be an int >= 1, got {n!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    wait, _ = _synchronizer(sync)

    def timed(fn) -> float:
        wait(None)
        start = time.perf_counter()
        out = fn()
        if materialise:
            _materialise(out)
        wait(out)
        return (time.perf_counter() - start) * 1000.0

    for fn in calls.values():
        for _ in range(warmup):
            timed(fn)
    rounds = min(repeat.values())
    # per round, each name runs its share; the remainder is spread over the first rounds
    plan = {name: [n // rounds + (r < n % rounds) for r in range(rounds)] for name, n in repeat.items()}
    times: dict = {name: [] for name in calls}
    iterator = range(rounds) if progress is None else progress(range(rounds))
    for r in iterator:
        for name, fn in calls.items():
            times[name].extend(timed(fn) for _ in range(plan[name][r]))
    return {name: TimingStats.from_times(t) for name, t in times.items()}


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
        return out

    for _ in range(warmup):
        wait(call(inputs[0]))
    wait(None)
    start = time.perf_counter()
    out = None
    for x in inputs:
        out = call(x)
    wait(out)
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

    RSS is sampled when ``fn`` starts, every ``interval`` seconds, and once after it returns:
    memory allocated and freed between two samples is missed, so the interval must be short
    against ``fn``'s duration (``%memit``'s default is 0.1 s; here 0.01 s).

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
    # max_iterations=1: memory_usage otherwise re-runs a call that gave fewer than 5 samples, each
    # time with a 10x shorter interval; a model's first call must run exactly once.
    peak, result = memory_usage((fn, args, kwargs), interval=interval, max_usage=True, retval=True,
                                include_children=False, max_iterations=1)
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


def tf_gpu_memory_during(fn: Callable, *args, device: str = "GPU:0", **kwargs) -> tuple[dict | None, object]:
    """Run ``fn(*args, **kwargs)`` once and report TensorFlow's GPU memory for it, in MiB.

    On a GPU: the peak counter is reset (``tf.config.experimental.reset_memory_stats``), ``fn``
    runs, its result is copied to the host (so its GPU work is finished), and
    ``tf.config.experimental.get_memory_info`` gives ``current_mib`` (held after the call:
    weights and cached buffers) and ``peak_mib`` (the most held during the call). Without a
    GPU, ``fn`` still runs and the dict is None: RSS (:func:`peak_memory`) is then the measure.
    Returns ``(dict or None, fn's result)``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None, fn(*args, **kwargs)
    tf.config.experimental.reset_memory_stats(device)
    result = fn(*args, **kwargs)
    _materialise(result)
    info = tf.config.experimental.get_memory_info(device)
    return {"current_mib": info["current"] / 2**20, "peak_mib": info["peak"] / 2**20}, result


# --- is the machine quiet, and how sure is a ratio ------------------------------------------


def calibration_ms(n: int = 300_000, repeat: int = 5) -> float:
    """Median milliseconds of a fixed single-threaded pure-Python loop (a sum of ``n`` squares).

    Timed before and after a measurement, it tells whether the machine's speed changed meanwhile
    (another job started, the CPU's clock throttled): on a quiet machine the two agree to a few %.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        sum(i * i for i in range(n))
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


@dataclass(frozen=True)
class MachineState:
    """Load average (1 min), cores visible to this process and the calibration loop's time."""

    load1: float
    cores: int
    calibration_ms: float

    @classmethod
    def now(cls) -> MachineState:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        return cls(load1=float(load), cores=int(cores), calibration_ms=calibration_ms())

    def __str__(self) -> str:
        return f"load average {self.load1:.2f} on {self.cores} cores, calibration loop {self.calibration_ms:.1f} ms"


def quiet_check(before: MachineState, after: MachineState, *, max_drift: float = 0.10) -> tuple[bool, str]:
    """Was the machine quiet across a measurement? (ok, one line saying why).

    Quiet: the calibration loop's time changed by at most ``max_drift`` (10 %) between ``before``
    and ``after``, and neither load average exceeded the cores (no job waiting for a CPU).
    """
    drift = after.calibration_ms / before.calibration_ms - 1.0
    busy = max(before.load1, after.load1) > before.cores
    ok = abs(drift) <= max_drift and not busy
    why = (f"calibration loop {before.calibration_ms:.1f} -> {after.calibration_ms:.1f} ms ({100 * drift:+.0f}%), "
           f"load average {before.load1:.2f} -> {after.load1:.2f} on {before.cores} cores: "
           + ("quiet" if ok else "NOT quiet (" + ("speed drifted" if abs(drift) > max_drift else "more load than cores") + ")"))
    return ok, why


def ratio_interval(ratios, *, confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> dict:
    """The median of per-round ratios with a bootstrap percentile interval of that median.

    ``ratios``: one ratio per interleaved round (e.g. slow model's time / fast model's time in the
    same round). Returns ``{"median", "low", "high", "min", "max", "n"}``; ``low``-``high`` is the
    ``confidence`` interval of the median from ``n_boot`` resamples of the rounds (seeded).
    """
    r = np.asarray(ratios, dtype=np.float64).reshape(-1)
    if r.size < 2 or not np.all(np.isfinite(r)):
        raise ValueError(f"need at least 2 finite ratios, got {r.size}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(r, size=(n_boot, r.size), replace=True), axis=1)
    tail = 100 * (1 - confidence) / 2
    return {"median": float(np.median(r)), "low": float(np.percentile(medians, tail)),
            "high": float(np.percentile(medians, 100 - tail)), "min": float(r.min()), "max": float(r.max()),
            "n": int(r.size)}
