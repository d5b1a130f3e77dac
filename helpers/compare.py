"""Training-choice comparisons at a fixed budget: one "arm" per choice, scored on the val split.

An arm is one model trained by :func:`helpers.train.train_detector` under a budget in iterations
*and* seconds (whichever ends first), then scored on the validation split with
:func:`helpers.detection.evaluate_detector`. The test split is not touched here: choices are
made on val, and the chosen model is scored on test once, elsewhere.

* :func:`train_arm` - train, time and score one arm.
* :func:`arm_summary` - what a recorded run keeps of an arm (JSON-ready: curve, final val, losses).
* :func:`plot_curves` - accuracy against training time and iterations, one line per run.
* :func:`dataset_labels` / :func:`objects_per_class` - the labels a (resampled, concatenated)
  training set holds, read from the annotations without decoding an image.
* :func:`plot_per_class` - per-class AP of several arms side by side, with intervals.
* :func:`plot_accuracy_latency` - accuracy against latency, one point per detector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from helpers.validate import integer, real


def dataset_labels(dataset) -> list[np.ndarray]:
    """Per item, the ``(N_i,)`` int64 object labels of ``dataset``, from its annotations.

    Understands :class:`helpers.voc_dataset.VOCDetectionDataset` (its ``records``) and
    ``torch.utils.data.Subset`` / ``ConcatDataset`` built from it, nested in any order, so a
    resampled or mixed training set can be counted without loading its images.
    """
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(dataset, Subset):
        inner = dataset_labels(dataset.dataset)
        return [inner[int(i)] for i in dataset.indices]
    if isinstance(dataset, ConcatDataset):
        return [labels for part in dataset.datasets for labels in dataset_labels(part)]
    records = getattr(dataset, "records", None)
    if records is None:
        raise TypeError(f"cannot read labels of a {type(dataset).__name__}: expected a VOCDetectionDataset "
                        "(with .records), or a Subset / ConcatDataset of one")
    return [np.asarray(r["labels"], dtype=np.int64).reshape(-1) for r in records]


def objects_per_class(dataset, num_classes: int) -> np.ndarray:
    """``(num_classes,)`` object counts per label ``1..num_classes`` over the items of ``dataset``
    (an item repeated by resampling counts each time)."""
    num_classes = integer(num_classes, "num_classes", low=1)
    labels = dataset_labels(dataset)
    flat = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 1 or flat.max() > num_classes):
        raise ValueError(f"labels must be in 1..{num_classes}, found {flat.min()}..{flat.max()}")
    return np.bincount(flat, minlength=num_classes + 1)[1:]


def train_arm(label: str, model, train_set, val_set, *, iterations: int, time_budget_s: float | None,
              seed: int = 0, device=None, progress: bool = True, curve_at_s: Sequence[float] = (),
              curve_set=None, **train_kwargs) -> dict:
    """Train ``model`` on ``train_set`` under the budget, then score it on ``val_set`` (on the CPU).

    Parameters
    ----------
    label : the arm's name (the progress bar's too)
    iterations, time_budget_s : the budget: at most ``iterations`` steps and ``time_budget_s``
        seconds of training (``None``: iterations only)
    seed : data order and the model's sampling (see :func:`helpers.train.train_detector`); the
        model's initial weights are the caller's business (build it after ``torch.manual_seed``)
    curve_at_s, curve_set : score ``curve_set`` (default ``val_set``; a fixed subset is cheaper)
        each time the training time passes one of ``curve_at_s`` seconds, and at the end: the
        accuracy-against-time curve of this one run (the scoring time is not training time)
    **train_kwargs : passed to :func:`helpers.train.train_detector` (``batch_size``, ``lr``,
        ``warmup``, ...)

    Returns
    -------
    dict: ``label``; ``model`` (eval mode, on the CPU); ``history``; ``iterations`` done;
    ``seconds`` of training; ``stopped_by``; ``val`` (the :func:`~helpers.detection.evaluate_detector`
    result); ``AP50`` and ``AP`` (val mAP@0.5 and mAP@[.5:.95]); ``AP50_per_class``; ``curve``:
    ``{"iteration": [...], "seconds": [...], "AP50": [...], "AP": [...]}`` on ``curve_set`` (empty
    lists without ``curve_at_s``).
    """
    from helpers import detection, train

    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if time_budget_s is not None:
        time_budget_s = real(time_budget_s, "time_budget_s", low=0, low_open=True)
    curve = {"iteration": [], "seconds": [], "AP50": [], "AP": []}

    def score(m, iteration, seconds):
        found = detection.evaluate_detector(m, val_set if curve_set is None else curve_set)
        for key, value in (("iteration", iteration), ("seconds", seconds), ("AP50", found["coco"]["AP50"]),
                           ("AP", found["coco"]["AP"])):
            curve[key].append(float(value))

    history = train.train_detector(model, train_set, iterations=iterations, time_budget_s=time_budget_s, seed=seed,
                                   device=device, progress=progress, desc=label,
                                   on_progress=score if curve_at_s else None, progress_at_s=curve_at_s,
                                   **train_kwargs)
    model.to("cpu").eval()
    val = detection.evaluate_detector(model, val_set)
    return {"label": label, "model": model, "history": history, "iterations": len(history["iteration"]),
            "seconds": float(np.sum(history["seconds"])), "stopped_by": history["stopped_by"], "val": val,
            "AP50": float(val["coco"]["AP50"]), "AP": float(val["coco"]["AP"]),
            "AP50_per_class": dict(val["AP50_per_class"]), "curve": curve}


def arm_summary(arm: Mapping, class_names: Sequence[str], **extra) -> dict:
    """What a record keeps of one :func:`train_arm` result: plain numbers only (JSON-ready).

    Parameters
    ----------
    arm : a :func:`train_arm` result
    class_names : the class names, in label order (label 1 is ``class_names[0]``)
    **extra : added as they are (e.g. ``detector="SSDlite", seed=0, lr=0.04``)

    Returns
    -------
    dict: ``extra``'s keys, ``iterations``, ``seconds``, ``stopped_by``, ``curve`` (as in
    :func:`train_arm`), ``val_AP50``, ``val_AP``, ``val_AP50_per_class`` (``{name: AP}``) and
    ``last_losses`` (each loss term's mean over the last 20 iterations).
    """
    per_class = {class_names[int(label) - 1]: float(ap) for label, ap in arm["AP50_per_class"].items()}
    losses = {key: float(np.mean(values[-20:])) for key, values in arm["history"].items()
              if key.startswith(("loss_", "classification", "bbox")) and len(values)}
    return {**extra, "iterations": int(arm["iterations"]), "seconds": float(arm["seconds"]),
            "stopped_by": str(arm["stopped_by"]), "curve": {k: [float(v) for v in vs] for k, vs in arm["curve"].items()},
            "val_AP50": float(arm["AP50"]), "val_AP": float(arm["AP"]), "val_AP50_per_class": per_class,
            "last_losses": losses}


def plot_curves(runs: Sequence[Mapping], axes, *, names: Sequence[str] | None = None, ylabel: str = "val mAP@0.5"):
    """Accuracy against training time (``axes[0]``) and iterations (``axes[1]``), one line per run.

    Parameters
    ----------
    runs : :func:`arm_summary` dicts with ``detector`` and ``seed`` keys and a non-empty ``curve``
    axes : two matplotlib axes
    names : the detectors in colour order (default: as they first appear in ``runs``)

    A detector keeps one colour; seed 0 is drawn solid, other seeds dashed, so seeds that coincide
    stay visible as a pair. Returns the legend handles, one per run.
    """
    if not runs:
        raise ValueError("runs is empty: nothing to plot")
    empty = [f"{r.get('detector')}, seed {r.get('seed')}" for r in runs if not r["curve"]["AP50"]]
    if empty:
        raise ValueError(f"runs without a curve (train_arm's curve_at_s was empty): {empty}")
    names = list(names) if names is not None else list(dict.fromkeys(r["detector"] for r in runs))
    handles = []
    for r in runs:
        style = {"color": f"C{names.index(r['detector'])}", "ls": "-" if r["seed"] == 0 else "--", "marker": "o",
                 "ms": 4}
        (line,) = axes[0].plot(r["curve"]["seconds"], r["curve"]["AP50"], label=f"{r['detector']}, seed {r['seed']}",
                               **style)
        axes[1].plot(r["curve"]["iteration"], r["curve"]["AP50"], **style)
        handles.append(line)
    axes[0].set(xlabel="training time (s)", ylabel=ylabel, ylim=(0, 1.02))
    axes[1].set(xlabel="iterations (4 images each)", ylim=(0, 1.02))
    return handles


def plot_per_class(per_class: Mapping[str, Mapping[int, float]], class_names: Mapping[int, str], *, ax=None,
                   intervals: Mapping[str, Mapping[int, tuple[float, float]]] | None = None,
                   ylabel: str = "val AP@0.5", title: str | None = None):
    """Grouped bars: for each class, one bar per arm (``per_class[arm][label]``), optional error bars.

    Parameters
    ----------
    per_class : ``{arm: {label: AP}}``, every arm with the same labels
    class_names : ``{label: name}``, the classes to draw, in order
    intervals : optional ``{arm: {label: (low, high)}}``, drawn as error bars
    """
    import matplotlib.pyplot as plt

    if not per_class:
        raise ValueError("per_class is empty: nothing to plot")
    labels = list(class_names)
    missing = {arm: sorted(set(labels) - set(v)) for arm, v in per_class.items() if set(labels) - set(v)}
    if missing:
        raise ValueError(f"arms without an AP for some classes: {missing}")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(labels)), 3.6))
    width = 0.8 / len(per_class)
    x = np.arange(len(labels))
    for k, (arm, values) in enumerate(per_class.items()):
        heights = np.array([values[c] for c in labels], dtype=float)
        yerr = None
        if intervals is not None and arm in intervals:
            lo_hi = np.array([intervals[arm][c] for c in labels], dtype=float)
            yerr = np.clip(np.stack([heights - lo_hi[:, 0], lo_hi[:, 1] - heights]), 0, None)
        ax.bar(x + (k - (len(per_class) - 1) / 2) * width, heights, width, label=arm, yerr=yerr, capsize=2)
    ax.set_xticks(x, [class_names[c] for c in labels], rotation=15)
    ax.set(ylabel=ylabel, ylim=(0, 1.05))
    if title:
        ax.set_title(title)
    ax.legend(ncol=min(2, len(per_class)))  # the course's legend size (10 pt), two columns fit 8.8 in
    return ax


def plot_accuracy_latency(points: Sequence[Mapping], *, ax=None, accuracy: str = "AP50",
                          ylabel: str = "val mAP@0.5", title: str | None = None):
    """One labelled point per detector: ``latency_ms`` (x, log scale) against ``points[i][accuracy]``.

    Parameters
    ----------
    points : sequence of dicts with ``label``, ``latency_ms`` and the ``accuracy`` key; an
        optional ``latency_range`` ``(low, high)`` is drawn as a horizontal error bar
    """
    import matplotlib.pyplot as plt

    if not points:
        raise ValueError("points is empty: nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for p in points:
        x, y = float(p["latency_ms"]), float(p[accuracy])
        xerr = None
        if p.get("latency_range") is not None:
            lo, hi = p["latency_range"]
            xerr = [[max(0.0, x - lo)], [max(0.0, hi - x)]]
        ax.errorbar([x], [y], xerr=xerr, fmt="o", capsize=3, ms=7)
        ax.annotate(p["label"], (x, y), textcoords="offset points", xytext=(6, 6), fontsize=10)
    ax.set_xscale("log")
    ax.set(xlabel="CPU latency per image, warm median (ms, log scale)", ylabel=ylabel)
    ax.set_ylim(0, 1.05)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax
