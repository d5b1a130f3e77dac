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
