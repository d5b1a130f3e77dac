"""helpers.train's schedule under a wall-clock budget: the warm-up is counted in iterations."""

import time

import pytest
import torch
from torch import nn

from helpers import train


class _ToyDetector(nn.Module):
    """Takes (images, targets) and returns a dict of losses, as a torchvision detector in train mode."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, images, targets):
        return {"loss_toy": (self.w * torch.stack([im.mean() for im in images]).mean() - 0.5) ** 2}


class _SlowData:
    """Eight images that each take ``delay`` seconds to load: a step's time is known."""

    def __init__(self, delay):
        self.delay = delay

    def __len__(self):
        return 8

    def __getitem__(self, i):
        time.sleep(self.delay)
        return torch.full((3, 4, 4), 0.1 * i), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}


def test_warmup_lasts_its_iterations_under_a_time_budget():
    warmup, lr = 5, 0.02
    hist = train.train_detector(_ToyDetector(), _SlowData(0.005), iterations=10_000, batch_size=4, lr=lr,
                                warmup=warmup, time_budget_s=0.6, progress=False)
    assert hist["stopped_by"] == "time budget" and hist["warmup"] == warmup
    assert len(hist["lr"]) > warmup + 5  # the budget reaches past the warm-up
    expected = [lr * (0.001 + 0.999 * i / warmup) for i in range(warmup)]
    assert hist["lr"][:warmup] == pytest.approx(expected, rel=1e-9)  # the time spent does not shorten it
    assert hist["warmup_seconds"] == pytest.approx(sum(hist["seconds"][:warmup]), rel=1e-9)
    assert hist["lr"][warmup] == pytest.approx(lr, rel=1e-3)  # the decay starts at the peak
    decay = hist["lr"][warmup:]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert decay[-1] < 0.35 * lr  # ...and ends near the budget's end, not 10,000 iterations away


def test_schedule_decays_on_the_further_of_iterations_and_time():
    f = train.warmup_cosine(100, 10)
    assert f(3, decay_progress=0.9) == pytest.approx(0.001 + 0.999 * 3 / 10)  # warm-up ignores time
    assert f(10, decay_progress=0.5) == pytest.approx(f(55))  # half the budget = half the decay
    assert f(90, decay_progress=0.1) == pytest.approx(f(90))  # iterations further along win
    assert f(20, decay_progress=2.0) == pytest.approx(0.01)  # clipped at the end
