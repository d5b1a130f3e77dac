"""Progress bars that finish: a loop stopped early closes its bar at 100 %, saying why.

A committed notebook keeps each bar's last line. A time-budgeted loop that counts iterations
against a cap it never reaches leaves "306/3000 [01:50<16:01]", which reads as a crash. Here the
bar's total becomes the count reached when the loop stops, and the reason goes on the same line:

    training: 100%|##########| 306/306 [01:50<00:00, loss=0.41, stopped: time budget of 110 s reached]

:func:`stop_bar` does this to any ``tqdm`` bar (text or notebook widget); :func:`budgeted` wraps
an iterable in a bar that stops at a wall-clock budget and closes that way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator


def stop_bar(bar, reason: str) -> None:
    """Close ``bar`` where it stands: total := iterations done (100 %), ``"stopped: <reason>"`` shown.

    Parameters
    ----------
    bar : a ``tqdm`` bar (``tqdm.auto``, ``tqdm.notebook`` or text); a disabled bar is left alone.
    reason : why the loop stopped, e.g. ``"time budget of 110 s reached"``.
    """
    if not reason or not str(reason).strip():
        raise ValueError("a bar stopped early must say why: give a reason")
    if getattr(bar, "disable", False):
        return
    why = f"stopped: {str(reason).strip()}"
    postfix = getattr(bar, "postfix", None)
    bar.set_postfix_str(f"{postfix}, {why}" if postfix else why, refresh=False)
    bar.total = bar.n
    container = getattr(bar, "container", None)  # tqdm.notebook: the widget keeps its own maximum
    if container is not None:
        container.children[1].max = max(bar.n, 1)
    bar.refresh()
    bar.close()


def budgeted(iterable: Iterable, time_budget_s: float | None, *, desc: str | None = None,
             total: int | None = None, bar=None, **tqdm_kwargs) -> Iterator:
    """Yield from ``iterable`` with a progress bar until it ends or ``time_budget_s`` is spent.

    The budget is checked before each item, on the wall clock since the first one. Whatever
    stops the loop, the bar's last line reads 100 %: all items, or the items done and
    ``"stopped: time budget of <s> s reached"``. A ``break`` in the caller's loop closes the bar
    at 100 % too, with ``"stopped: loop ended early"``.

    Parameters
    ----------
    iterable : the work
    time_budget_s : seconds, or None for no budget
    desc, total : the bar's label and length (default ``len(iterable)`` where it has one)
    bar : the tqdm class to use (default ``tqdm.auto.tqdm``); ``tqdm_kwargs`` go to it
    """
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError(f"time_budget_s must be > 0 or None, got {time_budget_s!r}")
    if bar is None:
        from tqdm.auto import tqdm as bar
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    progress = bar(total=total, desc=desc, **tqdm_kwargs)
    start = None
    finished = False
    try:
        for item in iterable:
            if start is None:
                start = time.perf_counter()
            elif time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
                stop_bar(progress, f"time budget of {time_budget_s:g} s reached")
                finished = True
                return
            yield item
            progress.update(1)
        finished = True
        progress.close()
    finally:
        if not finished:  # the caller broke out of its loop (or an item raised)
            stop_bar(progress, "loop ended early")
