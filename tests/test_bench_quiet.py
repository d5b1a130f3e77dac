"""helpers.bench: the quiet-machine check and the interval of a ratio across rounds."""

import numpy as np
import pytest

from helpers import bench


def test_calibration_is_positive_and_validated():
    assert bench.calibration_ms(n=10_000, repeat=3) > 0
    with pytest.raises(ValueError):
        bench.calibration_ms(n=0)


def test_quiet_check_flags_drift_and_load():
    calm = bench.MachineState(load1=0.5, cores=2, calibration_ms=10.0)
    assert bench.quiet_check(calm, bench.MachineState(0.6, 2, 10.5))[0]
    slow, why = bench.quiet_check(calm, bench.MachineState(0.6, 2, 13.0))
    assert not slow and "drifted" in why
    busy, why = bench.quiet_check(calm, bench.MachineState(3.5, 2, 10.0))
    assert not busy and "more load than cores" in why
    assert isinstance(bench.MachineState.now().cores, int)


def test_ratio_interval_brackets_the_median_and_is_seeded():
    rng = np.random.default_rng(1)
    ratios = rng.normal(100, 5, 20)
    a, b = bench.ratio_interval(ratios), bench.ratio_interval(ratios)
    assert a == b
    assert a["min"] <= a["low"] <= a["median"] <= a["high"] <= a["max"]
    assert a["median"] == pytest.approx(np.median(ratios)) and a["n"] == 20
    wide = bench.ratio_interval(rng.normal(100, 30, 20))
    assert wide["high"] - wide["low"] > a["high"] - a["low"]
    with pytest.raises(ValueError):
        bench.ratio_interval([1.0])
