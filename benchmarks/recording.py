"""What the benchmark scripts that write a ``helpers/recorded`` record share: the record's header
(command, commit, machine, date), ``--append``'s merge with the earlier record, and the pool that runs
the jobs side by side and saves the record after every run.

Used by ``batman_curves.py`` and ``detr_convergence.py``; the record's format is
``helpers.recorded``'s.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """The CPU model, its core count and the GPU if torch sees one, in one line."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}"


def commit() -> str:
    """``git rev-parse HEAD``, with "+dirty" when tracked files differ from it (the records in
    ``helpers/recorded/``, which the script itself writes, aside); "unknown" without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)helpers/recorded"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def new_record(script: str, argv, set_up: dict) -> dict:
    """A record's header for ``python benchmarks/<script> <argv>`` (``argv`` None: this process's
    arguments), its ``set_up`` and no runs yet."""
    command = shlex.join(["python", f"benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])])
    return {"command": command, "commit": commit(), "machine": machine(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "set_up": set_up, "runs": []}


def continue_record(record: dict, earlier: dict) -> dict:
    """``--append``: ``earlier``'s runs go before ``record``'s own, and its command, commit and date
    follow ``earlier``'s ("...; then ..."); returns ``record``."""
    record["runs"] = earlier["runs"] + record["runs"]
    for key in ("command", "commit", "date"):
        record[key] = f"{earlier[key]}; then {record[key]}"
    return record


def run_and_save(one_run: Callable[[dict], dict], jobs: list, processes: int, name: str, record: dict,
                 describe: Callable[[dict], str]) -> Path:
    """Run ``one_run(job)`` for every job, ``processes`` at a time (fresh ``spawn`` workers, one job
    each), appending each result to ``record`` and saving it as ``helpers/recorded/<name>.json`` after
    every run, so that nothing is lost if it is stopped; prints ``describe(run)`` per run."""
    from helpers.recorded import save_recorded

    tic = time.perf_counter()
    path = None
    with mp.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
        for run in pool.imap(one_run, jobs):
            record["runs"].append(run)
            record["wall_s"] = round(time.perf_counter() - tic)
            path = save_recorded(name, record)
            print(describe(run), flush=True)
    print(f"written {path.relative_to(ROOT)} after {record['wall_s']} s", flush=True)
    return path
