"""Cold-start latency measured where it happens: in a fresh Python process.

The first call in a notebook that has already run the model is not a cold call: the weights are
in memory, the kernels chosen, the allocator warm. What a user of a shipped detector waits for
on a fresh start is: importing the runtime, loading the file, and the first inference; the cold
start is their sum (``ColdStart.cold_s``). :func:`fresh_process_latency` starts a new interpreter
(isolated: ``python -I``, in a temporary folder, so a ``helpers.py`` in the caller's folder or
``PYTHONPATH`` cannot shadow this package), which times those three separately and then the
warm median, and returns them.

Run it by hand too::

    python -m helpers.cold_start --runtime torch --model runs/05/batman_frcnn.pt --image img.npy
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from helpers.validate import integer

_STARTED = time.perf_counter()  # as early as possible in the child: imports below count as "import"

#: What :func:`fresh_process_latency` can load: a helpers.detection checkpoint or an ONNX file.
RUNTIMES = ("torch", "onnxruntime")


@dataclass(frozen=True)
class ColdStart:
    """Seconds and milliseconds of one fresh process: import, load, first call, then warm calls."""

    runtime: str
    threads: int
    import_s: float          # importing numpy, the runtime and helpers (after the interpreter started)
    load_s: float            # reading the checkpoint / building the onnxruntime session
    first_call_ms: float     # the first inference of the fresh process
    warm_median_ms: float    # median of the ``repeat`` calls after it
    warm_min_ms: float
    warm_max_ms: float
    repeat: int
    # resident memory sampled after each call (the largest sample; NaN without psutil), and what it
    # holds above the resident memory right after the imports: the model, its buffers, its caches.
    # (Not getrusage's ru_maxrss: on Linux a child started from a big notebook kernel can report
    # the parent's size there.) Allocations freed inside a call are not seen.
    peak_rss_mib: float
    model_rss_mib: float
    process_s: float         # the whole child process, interpreter start-up included, as the parent saw it

    @property
    def cold_s(self) -> float:
        """The cold start a user waits for: import + load + first call, in seconds."""
        return self.import_s + self.load_s + self.first_call_ms / 1000.0

    def as_dict(self) -> dict:
        return {**asdict(self), "cold_s": self.cold_s}

    def __str__(self) -> str:
        return (f"fresh process ({self.runtime}, {self.threads} thread(s)): cold start {self.cold_s:.2f} s = "
                f"import {self.import_s:.2f} s + load {self.load_s:.2f} s + first call "
                f"{self.first_call_ms / 1000:.2f} s, then warm median "
                f"{self.warm_median_ms:.1f} ms (min {self.warm_min_ms:.1f}, max {self.warm_max_ms:.1f}, "
                f"{self.repeat} runs); resident memory {self.peak_rss_mib:.0f} MiB ({self.model_rss_mib:.0f} MiB above "
                f"the imports); {self.process_s:.1f} s in all")


def fresh_process_latency(runtime: str, model_path, image, *, threads: int = 1, repeat: int = 10,
                          timeout_s: float = 600.0) -> ColdStart:
    """Time a detector's cold start and warm calls in a new Python process.

    Parameters
    ----------
    runtime : ``"torch"`` (``model_path`` is a :func:`helpers.detection.save_checkpoint` file,
        rebuilt from its recipe) or ``"onnxruntime"`` (an ``.onnx`` file from
        :func:`helpers.export.export_onnx`, run on the CPU provider)
    image : (3, H, W) float image in [0, 1] (tensor or array): every call runs on it
    threads : intra-op threads in the child (torch.set_num_threads / onnxruntime's option)
    repeat : warm calls timed after the first one
    timeout_s : the child is killed after this long (``subprocess.TimeoutExpired``)

    Raises
    ------
    ValueError on a bad argument; FileNotFoundError when ``model_path`` is missing;
    RuntimeError with the child's error output when the child fails.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    threads, repeat = integer(threads, "threads", low=1), integer(repeat, "repeat", low=1)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"no model file at {model_path}")
    arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"image must be one (3, H, W) image, got shape {arr.shape}")
    package_parent = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as tmp:
        image_path = Path(tmp) / "image.npy"
        np.save(image_path, arr.astype(np.float32))
        # -I: no PYTHONPATH, no user site, no current folder on sys.path; this package's own folder
        # is put first by the child's code, then absolute paths in --opt=value form (a path that
        # starts with "-" is not an option); run in the empty temporary folder.
        cmd = [sys.executable, "-I", "-c", _CHILD, package_parent, f"--runtime={runtime}",
               f"--model={model_path.resolve()}", f"--image={image_path}", f"--threads={threads}",
               f"--repeat={repeat}"]
        tic = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=timeout_s, check=False)
        process_s = time.perf_counter() - tic
    if done.returncode != 0:
        raise RuntimeError(f"the fresh process failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"the fresh process printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    return ColdStart(**json.loads(lines[-1]), process_s=process_s)


#: What the fresh process runs: the clock starts before any import (numpy's and helpers' count too).
_CHILD = ("import time; _t0 = time.perf_counter(); import sys; sys.path.insert(0, sys.argv.pop(1)); "
          "from helpers.cold_start import main; main(sys.argv[1:], started=_t0)")


def _current_rss_mib() -> float:
    """This process's resident set size now, in MiB (NaN without psutil)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


def _measure(runtime: str, model_path: str, image_path: str, threads: int, repeat: int,
             started: float = _STARTED) -> dict:
    """The child's side: import, load, first call, warm calls; returns ColdStart's fields but process_s.

    ``started`` is when the child's clock started (before its first import)."""
    image = np.load(image_path)
    if runtime == "torch":
        import torch

        torch.set_num_threads(threads)
        from helpers import detection

        imported, rss_imported = time.perf_counter(), _current_rss_mib()
        model, _ = detection.load_checkpoint(model_path)
        model.eval()
        x = torch.from_numpy(image)

        def call():
            return detection.predict(model, [x])
    else:
        import onnxruntime  # noqa: F401  (counted with the imports, not with the session)

        from helpers import export

        imported, rss_imported = time.perf_counter(), _current_rss_mib()
        session = export.onnx_session(model_path, threads=threads)

        def call():
            return export.onnx_predict(session, image)
    loaded = time.perf_counter()
    call()
    first = time.perf_counter()
    resident = [_current_rss_mib()]  # sampled after each call: what the model and its buffers hold
    warm = []
    for _ in range(repeat):
        tic = time.perf_counter()
        call()
        warm.append((time.perf_counter() - tic) * 1000.0)
        resident.append(_current_rss_mib())
    return {"runtime": runtime, "threads": threads, "import_s": imported - started, "load_s": loaded - imported,
            "first_call_ms": (first - loaded) * 1000.0, "warm_median_ms": float(np.median(warm)),
            "warm_min_ms": float(np.min(warm)), "warm_max_ms": float(np.max(warm)), "repeat": repeat,
            "peak_rss_mib": max(resident), "model_rss_mib": max(resident) - rss_imported}


def main(argv=None, started: float = _STARTED) -> None:
    parser = argparse.ArgumentParser(description="Time a detector's cold start in this (fresh) process.")
    parser.add_argument("--runtime", choices=RUNTIMES, required=True)
    parser.add_argument("--model", required=True, help="checkpoint (.pt) or ONNX file")
    parser.add_argument("--image", required=True, help=".npy file holding one (3, H, W) float32 image")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(_measure(args.runtime, args.model, args.image, args.threads, args.repeat, started)))


if __name__ == "__main__":
    main()
