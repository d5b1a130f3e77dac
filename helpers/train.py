"""Train a torchvision detector: iterations of small batches, warm-up + cosine LR, checkpoints, AMP.

:func:`train_detector` counts iterations, not epochs (small datasets, short budgets): the data
order is a seeded permutation per pass over the dataset, so a run resumed from a checkpoint
sees exactly the batches the uninterrupted run would have seen. On a GPU it uses automatic
mixed precision (float16 autocast + gradient scaling); on the CPU plain float32.
:func:`plot_history` draws the loss curves.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from helpers.env import check_torch_import_order

check_torch_import_order()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def cpu_threads() -> int:
    """Threads for torch on this CPU: all cores, or 1 when other jobs already keep them busy
    (``COURSE_TORCH_THREADS=N`` in the environment sets N).

    On a machine whose load average exceeds its core count, torch's worker threads spin while
    waiting for each other and a 2-thread step can be several times slower than a 1-thread one.
    """
    cores = os.cpu_count() or 1
    forced = os.environ.get("COURSE_TORCH_THREADS", "").strip()
    if forced.isdigit() and int(forced) > 0:  # e.g. a run that knows it has the machine to itself
        return int(forced)
    try:
        busy = os.getloadavg()[0] > cores
    except OSError:  # not available on this platform
        busy = False
    return 1 if busy else cores


def warmup_cosine(iterations: int, warmup: int, final_fraction: float = 0.01) -> Callable[..., float]:
    """LR multiplier per iteration: linear warm-up from 0.001 to 1 over ``warmup`` iterations,
    then a cosine decay to ``final_fraction`` at ``iterations``.

    The returned ``factor(it, decay_progress=None)`` counts the warm-up in iterations, always.
    After it, the cosine's position is ``(it - warmup) / (iterations - warmup)``, or
    ``decay_progress`` (a fraction in [0, 1]) when given: :func:`train_detector` passes the share
    of a wall-clock budget spent since the warm-up ended, so a time-budgeted run warms up for
    exactly ``warmup`` iterations and still ends its decay with the budget.
    """
    if iterations < 1 or warmup < 0:
        raise ValueError(f"need iterations >= 1 and warmup >= 0, got {iterations}, {warmup}")

    def factor(it: int, decay_progress: float | None = None) -> float:
        if it < warmup:
            return 0.001 + (1 - 0.001) * it / warmup
        by_iterations = (it - warmup) / max(1, iterations - warmup)
        progress = min(1.0, max(by_iterations, decay_progress or 0.0))
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _batches(n_items: int, batch_size: int, seed: int, start_iteration: int):
    """Yield index batches forever: a seeded permutation per pass, resumable at any iteration."""
    per_pass = max(1, n_items // batch_size)  # drop the incomplete last batch of a pass
    it = start_iteration
    while True:
        epoch, offset = divmod(it, per_pass)
        order = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        yield order[offset * batch_size:(offset + 1) * batch_size].tolist()
        it += 1


def make_optimizer(model: nn.Module, name: str = "sgd", lr: float = 0.02, weight_decay: float = 1e-4):
    """SGD with momentum 0.9 (torchvision's detection recipe) or AdamW, over trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {name!r}")


def train_detector(model: nn.Module, dataset, *, iterations: int, batch_size: int = 4, lr: float = 0.02,
                   optimizer: str = "sgd", weight_decay: float = 1e-4, warmup: int = 100,
                   clip_grad_norm: float | None = 10.0, device=None, amp: bool | None = None,
                   checkpoint=None, checkpoint_every: int = 200, resume: bool = True, seed: int = 0,
                   time_budget_s: float | None = None, progress: bool = True, desc: str = "training",
                   on_progress=None, progress_at_s: Sequence[float] = ()) -> dict:
    """Train ``model`` (a torchvision detector in train mode) for ``iterations`` batches.

    Parameters
    ----------
    dataset : torch Dataset of ``(image (3, H, W) float, {"boxes": (N, 4) xyxy, "labels": (N,) int64})``
    iterations : total number of optimiser steps (including those done before a resume)
    batch_size : images per step
    lr, optimizer, weight_decay : peak learning rate, ``"sgd"`` or ``"adamw"``, L2 penalty
    warmup : iterations of linear warm-up before the cosine decay (:func:`warmup_cosine`)
    clip_grad_norm : clip the global gradient norm (``None``: no clipping); a guard against the
        occasional huge box-regression gradient early in training
    device : default: CUDA when available, else CPU
    amp : mixed precision; default: on for CUDA, off on CPU
    checkpoint : path; the state (model, optimiser, schedule, history) is saved there every
        ``checkpoint_every`` iterations and at the end
    resume : when ``checkpoint`` exists, continue from it instead of starting over
    seed : data order and the model's random sampling (proposal sampling) follow from it
    time_budget_s : optional wall-clock budget in seconds: training stops when it is spent. The
        warm-up still lasts ``warmup`` iterations; the cosine decay then runs on whichever is
        further along, iterations or the budget left after the warm-up, so it ends at the budget
        (a fair "N minutes of training" comparison). Time spent before a resume counts. The
        progress bar then counts seconds of training against the budget, so it ends at 100 %.
    on_progress, progress_at_s : ``on_progress(model, iteration, seconds)`` is called once the
        training time passes each of ``progress_at_s`` (and at the end), e.g. to score val for a
        curve of accuracy against time; the model is in eval mode during the call and the time
        the call takes is not training time.

    Returns
    -------
    dict of lists, one entry per iteration: ``iteration``, ``lr``, ``loss`` (the sum), each
    loss term by name (e.g. ``loss_classifier``), ``seconds`` (wall time of the step); and
    ``"device"``, ``"amp"``, ``"resumed_from"`` (0 when started fresh), ``"stopped_by"``
    (``"iterations"`` or ``"time budget"``), ``"warmup"`` (the warm-up's iterations) and, once the
    warm-up is over, ``"warmup_seconds"`` (the training time it took).
    """
    from helpers.detection import load_checkpoint, save_checkpoint

    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    if len(dataset) < batch_size:
        raise ValueError(f"the dataset has {len(dataset)} items, fewer than batch_size={batch_size}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = (device.type == "cuda") if amp is None else bool(amp)
    if amp and device.type != "cuda":
        raise ValueError("amp (float16 mixed precision) needs a CUDA device; on the CPU leave amp=None/False")
    model.to(device).train()
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    factor = warmup_cosine(iterations, warmup)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    history: dict = {"iteration": [], "lr": [], "loss": [], "seconds": []}
    start = 0
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        # weights_only load: a checkpoint found at this path cannot run code (see helpers.detection)
        _, ckpt = load_checkpoint(checkpoint, model, opt, map_location=device)
        history, start = _resume_state(ckpt, checkpoint, iterations)
    history.update({"device": str(device), "amp": amp, "resumed_from": start, "warmup": warmup})

    batches = _batches(len(dataset), batch_size, seed, start)
    spent = float(np.sum(history["seconds"]))  # time already spent before a resume
    bar = _progress_bar(progress, desc, start, iterations, spent, time_budget_s)
    marks = sorted(float(t) for t in progress_at_s if float(t) > spent)
    history["stopped_by"] = "iterations"
    for it in range(start, iterations):
        if time_budget_s is not None and spent >= time_budget_s:
            history["stopped_by"] = "time budget"
            break
        # the warm-up runs on iterations; the decay on iterations or on the share of the time budget
        # left after the warm-up, whichever is further along (so it ends with the budget)
        if it == warmup:
            history["warmup_seconds"] = spent
        decay_progress = None
        if time_budget_s is not None and it >= warmup:
            warmup_s = history.get("warmup_seconds", 0.0)
            decay_progress = (spent - warmup_s) / max(1e-9, time_budget_s - warmup_s)
        for group in opt.param_groups:
            group["lr"] = lr * factor(it, decay_progress)
        tic = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + it)  # augmentation and proposal sampling: same after a resume
        items = [dataset[i] for i in next(batches)]
        images = [img.to(device, non_blocking=True) for img, _ in items]
        targets = [{"boxes": t["boxes"].to(device), "labels": t["labels"].to(device)} for _, t in items]
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at iteration {it}: lower lr or raise warmup")
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip_grad_norm is not None:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(opt)
        scaler.update()
        history["iteration"].append(it + 1)
        history["lr"].append(opt.param_groups[0]["lr"])
        history["loss"].append(float(loss.detach()))
        for k, v in losses.items():
            history.setdefault(k, []).append(float(v.detach()))
        history["seconds"].append(time.perf_counter() - tic)
        spent += history["seconds"][-1]
        if bar is not None:
            bar.update(min(int(spent), bar.total) - bar.n if time_budget_s is not None else 1)
            bar.set_postfix(loss=f"{np.mean(history['loss'][-20:]):.3f}", lr=f"{history['lr'][-1]:.4f}", refresh=False)
        if checkpoint is not None and (it + 1) % checkpoint_every == 0:
            save_checkpoint(checkpoint, model, opt, iteration=it + 1, history=history)
        if on_progress is not None and marks and spent >= marks[0]:
            while marks and spent >= marks[0]:
                marks.pop(0)
            _call_progress(on_progress, model, it + 1, spent, device)
    if on_progress is not None and history["iteration"]:
        _call_progress(on_progress, model, history["iteration"][-1], spent, device)
    if bar is not None:  # a finished bar reads complete: the budget's seconds, or the iterations
        bar.n = bar.total
        bar.set_postfix_str(f"{len(history['iteration'])} iterations, {spent:.0f} s, stopped by "
                            f"{history['stopped_by']}", refresh=False)
        bar.close()
    if checkpoint is not None and history["iteration"]:
        save_checkpoint(checkpoint, model, opt, iteration=history["iteration"][-1], history=history)
    model.eval()
    return history


def _progress_bar(progress: bool, desc: str, start: int, iterations: int, spent: float, budget):
    """A tqdm bar counting seconds of the time budget (or iterations without one); ``None`` when off."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    # mininterval and refresh=False: a refresh per second, not one per iteration (a notebook keeps
    # every text refresh as output)
    if budget is not None:  # whole seconds of training against the budget
        return tqdm(desc=desc, total=max(1, math.ceil(budget)), initial=min(int(spent), math.ceil(budget)), unit="s",
                    mininterval=1.0)
    return tqdm(desc=desc, total=iterations, initial=start, unit="it", mininterval=1.0)


def _call_progress(on_progress, model, iteration: int, spent: float, device) -> None:
    """Call ``on_progress`` with the model in eval mode, then put it back in train mode on ``device``."""
    model.eval()
    try:
        on_progress(model, iteration, spent)
    finally:
        model.to(device).train()


def _resume_state(ckpt: dict, path, iterations: int) -> tuple[dict, int]:
    """The history and iteration a training checkpoint resumes from, checked (errors name the file)."""
    from helpers.detection import CheckpointError

    history, start = ckpt.get("history"), ckpt.get("iteration")
    if not isinstance(history, dict) or isinstance(start, bool) or not isinstance(start, int):
        raise CheckpointError(f"{path}: holds a model but no training state ('iteration', 'history'), so training "
                              "cannot resume from it; pass resume=False to start over, or another checkpoint path")
    lengths = {k: len(v) for k, v in history.items() if isinstance(v, list)}
    if not {"iteration", "loss", "lr", "seconds"} <= set(lengths) or len(set(lengths.values())) > 1 \
            or lengths["iteration"] != start:
        raise CheckpointError(f"{path}: its training history is inconsistent with iteration {start}")
    if not 0 <= start <= iterations:
        raise CheckpointError(f"{path}: was saved at iteration {start}, beyond iterations={iterations}; "
                              "raise iterations, or pass resume=False to start over")
    return history, start


def smooth(values, window: int = 20) -> np.ndarray:
    """Running mean over the last ``window`` values (shorter at the start), same length as ``values``."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_history(history: dict, *, ax=None, window: int = 20, terms: bool = True, label: str | None = None):
    """Loss curves of :func:`train_detector`: the total (smoothed) and, if ``terms``, each term."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    it = history["iteration"]
    ax.plot(it, smooth(history["loss"], window), lw=2, label=label or "total loss")
    if terms:
        for k in sorted(k for k in history if k.startswith("loss_")):
            ax.plot(it, smooth(history[k], window), lw=1, alpha=0.8, label=k.removeprefix("loss_"))
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"loss (running mean of {window})")
    ax.set_yscale("log")
    ax.legend()
    return ax
