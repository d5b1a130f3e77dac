"""helpers.bench: cold call kept apart, statistics right, memory peak vs increment, bad input."""

import time

import numpy as np
import pytest

from helpers import bench


def test_cold_call_is_reported_apart_from_warm_statistics():
    calls = []

    def slow_first():
        calls.append(1)
        time.sleep(0.2 if len(calls) == 1 else 0.005)

    result = bench.benchmark(slow_first, warmup=2, repeat=5, sync="none")
    assert len(calls) == 1 + 2 + 5
    assert result.cold_ms >= 200
    assert 4 <= result.median_ms < 100 and result.min_ms <= result.median_ms <= result.p90_ms
    assert result.fps == pytest.approx(1000 / result.median_ms)
    assert "cold" in str(result) and result.as_dict()["repeat"] == 5


def test_arguments_are_passed_and_custom_sync_runs_each_call():
    synced = []
    result = bench.benchmark(np.add, 1, 2, warmup=0, repeat=3, sync=lambda: synced.append(1))
    assert result.repeat == 3 and len(synced) == 2 * (1 + 3)  # before and after each timed call


def test_torch_results_are_materialised():
    torch = pytest.importorskip("torch")
    result = bench.benchmark(torch.matmul, torch.ones(64, 64), torch.ones(64, 64), warmup=1, repeat=3)
    assert result.device == "cpu"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"warmup": -1}, ValueError, "warmup must be"),
    ({"repeat": 0}, ValueError, "repeat must be"),
    ({"sync": "cuda"}, ValueError, "sync must be"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        bench.benchmark(lambda: None, **kwargs)
    with pytest.raises(TypeError, match="fn must be callable"):
        bench.benchmark(42)


def test_peak_memory_sees_a_large_allocation_and_returns_the_result():
    pytest.importorskip("memory_profiler")

    def allocate():
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.2)
        return float(block[-1])

    memory, value = bench.peak_memory(allocate)
    assert value == 1.0
    assert memory.increment_mib > 150
    assert memory.peak_mib >= memory.baseline_mib + memory.increment_mib - 1e-6
    with pytest.raises(ValueError, match="interval"):
        bench.peak_memory(allocate, interval=0)


def test_gpu_memory_is_none_without_a_gpu_and_rejects_unknown_frameworks():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        assert bench.gpu_memory_mib("torch") is None
    with pytest.raises(ValueError, match="framework must be"):
        bench.gpu_memory_mib("jax")


def test_throughput_counts_every_image_of_the_stream_and_skips_warmup():
    seen = []

    def work(x):
        seen.append(x)
        time.sleep(0.02)

    result = bench.throughput(work, [1, 2, 3, 4], batch_size=2, warmup=1, sync="none")
    assert seen == [1, 1, 2, 3, 4]  # one untimed warm-up call on the first input, then the stream
    assert result.images == 8 and result.calls == 4
    assert result.total_s >= 0.08 and result.fps == pytest.approx(8 / result.total_s)
    assert result.ms_per_image == pytest.approx(1000 * result.total_s / 8)
    assert "images/s" in str(result) and result.as_dict()["calls"] == 4


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    ((lambda x: x, []), {}, ValueError, "at least one"),
    ((lambda x: x, [1]), {"batch_size": 0}, ValueError, "batch_size"),
    ((lambda x: x, [1]), {"warmup": -1}, ValueError, "warmup"),
    ((42, [1]), {}, TypeError, "callable"),
])
def test_throughput_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        bench.throughput(*args, **kwargs)


class _QueuedResult:
    """Stands for a tensor whose GPU work is still running: ``.numpy()`` waits for it."""

    def __init__(self, seconds):
        self.seconds, self.waited = seconds, False

    def numpy(self):
        time.sleep(self.seconds)
        self.waited = True
        return np.zeros(1)


@pytest.fixture
def tf_with_a_fake_gpu(monkeypatch):
    """TensorFlow whose device list reports a GPU (no GPU here: tests the GPU code path on a CPU)."""
    tf = pytest.importorskip("tensorflow")
    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["/physical_device:GPU:0"] if kind == "GPU" else real(kind))
    return tf


def test_tensorflow_gpu_sync_waits_for_the_timed_calls_outputs(tf_with_a_fake_gpu):
    results = []

    def launch():  # returns at once, as a TF GPU call whose kernels are only queued
        results.append(_QueuedResult(0.05))
        return {"detection_scores": results[-1]}

    synced = bench.benchmark(launch, warmup=0, repeat=3, sync="tensorflow", materialise=False)
    assert synced.device.startswith("gpu (tensorflow")
    assert synced.min_ms >= 50, "the clock must stop after the outputs exist"
    assert all(r.waited for r in results)
    # "auto" finds TensorFlow imported and its GPU, and does the same
    assert bench.benchmark(launch, warmup=0, repeat=2, materialise=False).min_ms >= 50
    unsynced = bench.benchmark(launch, warmup=0, repeat=3, sync="none", materialise=False)
    assert unsynced.max_ms < 50, "without the sync the queued work is not timed (what a dummy sync measures)"
    stream = bench.throughput(lambda x: launch(), [1, 2], warmup=0, sync="tensorflow", materialise=False)
    assert stream.total_s >= 0.05 and stream.device.startswith("gpu (tensorflow")


def test_tf_gpu_memory_is_read_around_the_call_with_a_gpu_and_none_without(tf_with_a_fake_gpu, monkeypatch):
    tf = tf_with_a_fake_gpu
    events = []
    monkeypatch.setattr(tf.config.experimental, "reset_memory_stats", lambda device: events.append(("reset", device)))
    monkeypatch.setattr(tf.config.experimental, "get_memory_info",
                        lambda device: events.append(("read", device)) or {"current": 300 * 2**20, "peak": 750 * 2**20})
    queued = _QueuedResult(0.0)

    def call(scale):
        events.append(("call", scale))
        return {"boxes": queued}

    memory, result = bench.tf_gpu_memory_during(call, 2)
    assert memory == {"current_mib": 300.0, "peak_mib": 750.0} and result == {"boxes": queued}
    assert events == [("reset", "GPU:0"), ("call", 2), ("read", "GPU:0")] and queued.waited
    assert bench.gpu_memory_mib("tensorflow") == {"current_mib": 300.0, "peak_mib": 750.0}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert bench.tf_gpu_memory_during(call, 3) == (None, {"boxes": queued})
    assert bench.gpu_memory_mib("tensorflow") is None
    with pytest.raises(TypeError, match="callable"):
        bench.tf_gpu_memory_during(42)


def test_interleaved_runs_alternate_and_spread_the_repeats_over_rounds():
    order = []
    calls = {"fast": lambda: order.append("f"), "slow": lambda: order.append("s")}
    stats = bench.interleaved(calls, {"fast": 7, "slow": 3}, warmup=1, sync="none")
    assert "".join(order) == "fs" + "fffs" + "ffs" + "ffs"  # warm-up, then 3 rounds; 7 = 3 + 2 + 2
    assert stats["fast"].n == 7 and stats["slow"].n == 3
    assert stats["fast"].p90_ms is None, "no p90 from fewer than 10 runs"
    assert "min" in str(stats["slow"]) and "max" in str(stats["slow"]) and "p90" not in str(stats["slow"])
    many = bench.interleaved({"a": lambda: time.sleep(0.001)}, {"a": 12}, warmup=0)["a"]
    assert many.n == 12 and many.p90_ms is not None and "p90" in str(many)
    assert many.min_ms <= many.median_ms <= many.p90_ms <= many.max_ms
    assert len(many.times_ms) == 12


@pytest.mark.parametrize(("calls", "repeat", "message"), [
    ({}, {}, "at least one"),
    ({"a": 1}, {"a": 1}, "must be callable"),
    ({"a": print}, {"b": 1}, "exactly the names"),
    ({"a": print}, {"a": 0}, "int >= 1"),
])
def test_interleaved_bad_arguments(calls, repeat, message):
    with pytest.raises((ValueError, TypeError), match=message):
        bench.interleaved(calls, repeat)


def test_timing_stats_and_the_p90_rule():
    stats = bench.TimingStats.from_times([3.0, 1.0, 2.0])
    assert (stats.n, stats.median_ms, stats.min_ms, stats.max_ms, stats.p90_ms) == (3, 2.0, 1.0, 3.0, None)
    assert str(stats) == "median 2.0 ms, min 1.0, max 3.0 ms (3 runs)"
    ten = bench.TimingStats.from_times(np.arange(1.0, 11.0))
    assert ten.p90_ms == pytest.approx(np.percentile(np.arange(1.0, 11.0), 90))
    with pytest.raises(ValueError, match="at least one"):
        bench.TimingStats.from_times([])
    few = bench.benchmark(lambda: None, warmup=0, repeat=3, sync="none")
    assert "p90" not in str(few) and "max" in str(few) and few.max_ms >= few.median_ms
    assert "p90" in str(bench.benchmark(lambda: None, warmup=0, repeat=10, sync="none"))


def test_peak_memory_runs_a_short_call_exactly_once_and_a_short_interval_sees_a_brief_peak():
    pytest.importorskip("memory_profiler")
    calls = []
    bench.peak_memory(lambda: calls.append(1), interval=0.01)
    assert calls == [1], "memory_profiler re-runs short calls unless told not to"

    def burst():  # 200 MiB allocated after the first sample and freed before the last one
        time.sleep(0.03)
        block = np.ones(200 * 2**20 // 8)
        time.sleep(0.03)
        del block
        time.sleep(0.03)

    assert bench.peak_memory(burst, interval=0.005)[0].increment_mib > 150
