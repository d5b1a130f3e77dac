"""TF-Hub object detectors (Open Images V4), with an offline stand-in that keeps their interface.

:func:`load_detector` returns the ``default`` signature of a TF-Hub detector, exactly what
``hub.load(handle).signatures["default"]`` gives. Its input and outputs, as in the TF-Hub
object-detection tutorial:

- input ``images``: float32 ``[1, H, W, 3]`` in ``[0, 1]`` (one image per call; any H, W);
- ``detection_boxes``: float32 ``[N, 4]``, normalised ``[ymin, xmin, ymax, xmax]``;
- ``detection_scores``: float32 ``[N]``, descending;
- ``detection_class_entities``: string ``[N]``, human-readable class ("Person");
- ``detection_class_names``: string ``[N]``, Freebase MID ("/m/01g317");
- ``detection_class_labels``: int64 ``[N]``, class index in 1..600.

(The TF-Hub model pages swap the descriptions of ``entities`` and ``names``; the models return
the readable text in ``detection_class_entities``, which is what the tutorial draws.)

Online, the real model is downloaded once into ``TFHUB_CACHE_DIR`` (``data/cache/tfhub`` unless
set). Offline, a stand-in is built once, with seeded random weights and the cost structure of
the real architecture, saved as a SavedModel under ``data/cache/standins`` and loaded through
the same ``hub.load(path).signatures["default"]`` call, so timing and memory code runs
unchanged. Its detections mean nothing.

What each stand-in keeps and changes is spelled out in :data:`STANDIN_DIFFERENCES` (the
notebook prints it). In short: the SSD stand-in follows the real ``ssd_mobilenet_v2`` Open
Images V4 config (300x300, MobileNetV2 19x19 and 10x10 maps plus four extra layers, 1917
anchors, sigmoid scores, per-class NMS); the Faster R-CNN stand-in has the real resize (min side
600 / max side 1024), 300 proposals, 17x17 crops and Inception-ResNet-V2 split at the same
place, but its first stage has stride 16 where the real model's is 8 (atrous): the TF object
detection API's ``faster_rcnn_inception_resnet_v2_atrous_oid_v4.config`` sets
``first_stage_features_stride: 8`` and ``first_stage_atrous_rate: 2``, so the real first stage
works on about four times as many feature positions.

Whether what loaded holds TF-Hub's published weights can only be known as far as the loader
sees: ``DetectorInfo.source`` is ``"tfhub"`` when a TF-Hub handle loaded (the weights are then
whatever TF-Hub's cache holds for that handle: the published ones, unless the cache was filled
otherwise, as the Colab rehearsal fills it with random-weight files) and ``"stand-in"`` when a
local stand-in loaded. Nothing here checks accuracy, and no output claims it.

TensorFlow is imported only inside functions: ``import helpers.tfhub`` stays light.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.anchors import cell_anchor_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any tensorflow import: quiet C++ logs

#: name -> TF-Hub handle of the real model (DESIGN.md)
HANDLES = {
    "ssd_mobilenet_v2": "https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1",
    "faster_rcnn_inception_resnet_v2": "https://tfhub.dev/google/faster_rcnn/openimages_v4/inception_resnet_v2/1",
}
MODEL_NAMES = tuple(HANDLES)

#: Bump when the stand-in graph changes: cached stand-ins with another version are rebuilt.
STANDIN_VERSION = "4"
STANDIN_SEED = 0
NUM_CLASSES = 600  # Open Images V4 boxable classes (the heads add one background class)
MAX_DETECTIONS = 100  # both real models return 100 detections

#: Stand-in variants. "full" follows the real configs; "reduced" keeps the same networks but
#: fewer proposals and a smaller internal resize (quick test runs); "tiny" swaps the backbones
#: for a few small convolutions (unit tests only: same graph structure, seconds to build).
VARIANTS = ("full", "reduced", "tiny")
_CONFIGS = {
    ("ssd_mobilenet_v2", "full"): {"size": 300},
    ("ssd_mobilenet_v2", "reduced"): {"size": 300},
    ("ssd_mobilenet_v2", "tiny"): {"size": 96},
    ("faster_rcnn_inception_resnet_v2", "full"): {"min_side": 600, "max_side": 1024, "proposals": 300},
    ("faster_rcnn_inception_resnet_v2", "reduced"): {"min_side": 320, "max_side": 512, "proposals": 10},
    ("faster_rcnn_inception_resnet_v2", "tiny"): {"min_side": 96, "max_side": 160, "proposals": 8},
}

#: What each full stand-in keeps from the real model and what it changes (printed by notebook 04).
STANDIN_DIFFERENCES = {
    "ssd_mobilenet_v2": {
        "keeps": [
            "the TF-Hub 'default' signature: input images [1, H, W, 3] in [0, 1], the five detection outputs",
            "resize to 300x300 inside; MobileNetV2 (depth 1.0) with feature maps 19x19 (block 13 expansion) and 10x10",
            "four extra SSD layers, 1917 anchors (3 + 6 per cell), 601-class sigmoid scores, per-class NMS "
            "(IoU 0.6, score > 1e-8, 100 detections), as the ssd_mobilenet_v2_oid_v4 config",
        ],
        "changes": [
            "random weights (seed 0): the boxes and scores mean nothing",
            "Keras MobileNetV2 layers instead of the TF object-detection API's slim ones (same layer shapes; "
            "padding and op choices may differ)",
            "post-processing cost: NMS work depends on how many scores pass the threshold, and random "
            "weights give a different score distribution from trained ones",
        ],
    },
    "faster_rcnn_inception_resnet_v2": {
        "keeps": [
            "the TF-Hub 'default' signature: input images [1, H, W, 3] in [0, 1], the five detection outputs",
            "keep-aspect resize to min side 600 / max side 1024; Inception-ResNet-V2 split after the 20 "
            "block17 units (first stage) and mixed_7a..conv_7b run on every proposal (second stage)",
            "RPN with 12 anchors per position (4 scales x 3 ratios), NMS (IoU 0.7) to 300 proposals, "
            "17x17 crop_and_resize, 601-class softmax, per-class boxes and NMS (IoU 0.6, 100 detections)",
        ],
        "changes": [
            "random weights (seed 0): the boxes and scores mean nothing",
            "first stage at stride 16 where the real model uses stride 8 with atrous (dilated, rate 2) "
            "block17 units: about 4x fewer feature positions for the first stage and the RPN, so this "
            "first stage does less work than the real one",
            "Keras Inception-ResNet-V2 (VALID paddings) instead of the API's aligned SAME-padding version",
            "post-processing cost: NMS work depends on the score distribution, which random weights do not have",
        ],
    },
}

#: How many stand-ins this process has built (tests read it to tell a cache hit from a build).
BUILD_COUNT = {"n": 0}


def _root_cache_dir() -> Path:
    """``data/cache`` of the repository when run from a clone, else ``~/.cache/od-course``."""
    override = os.environ.get("COURSE_CACHE_DIR")
    if override:
        return Path(override)
    repo_data = Path(__file__).resolve().parents[1] / "data"
    return repo_data / "cache" if repo_data.is_dir() else Path.home() / ".cache" / "od-course"


def tfhub_cache_dir() -> Path:
    """Where TF-Hub keeps downloaded models: ``$TFHUB_CACHE_DIR``, set to ``data/cache/tfhub`` if unset."""
    path = Path(os.environ.setdefault("TFHUB_CACHE_DIR", str(_root_cache_dir() / "tfhub")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def standin_dir(name: str, variant: str = "full") -> Path:
    """Cache folder of a stand-in SavedModel; the version string is part of its name."""
    _check_name(name)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return _root_cache_dir() / "standins" / f"{name}-{variant}-v{STANDIN_VERSION}"


def _check_name(name) -> None:
    if name not in HANDLES:
        raise ValueError(f"unknown detector {name!r}; valid names: {', '.join(MODEL_NAMES)}")


@dataclass(frozen=True)
class DetectorInfo:
    """What was loaded, from where, and what it cost.

    ``source`` is ``"tfhub"`` (a TF-Hub handle loaded: the weights are the ones published under
    that handle, as far as the loader can tell) or ``"stand-in"`` (random weights). ``loaded_from`` says what ``hub.load`` was given: the TF-Hub
    handle, or the stand-in folder relative to the course cache. ``build_s`` is the time spent
    building a stand-in (0 on a cache hit or online), ``load_s`` the ``hub.load`` time (online on
    the first run it includes the download), ``size_mib`` the SavedModel folder on disk,
    ``n_params`` the number of weights (None when they cannot be counted) and ``params_from``
    how they were counted. ``fallback_reason`` is set when a TF-Hub load failed and a stand-in
    replaced it.
    """

    name: str
    handle: str
    source: str
    variant: str | None
    path: str
    size_mib: float
    n_params: int | None
    load_s: float
    build_s: float
    loaded_from: str = ""
    params_from: str = ""
    fallback_reason: str | None = None

    @property
    def published_weights(self) -> bool:
        """True when the weights are TF-Hub's published ones as far as can be known (see the class docstring)."""
        return self.source == "tfhub"

    @property
    def weights(self) -> str:
        return ("as published under the TF-Hub handle (not checked here)" if self.published_weights
                else f"random (stand-in, {self.variant})")

    def params_text(self) -> str:
        return "unavailable" if self.n_params is None else f"{self.n_params / 1e6:.1f} M"

    def __str__(self) -> str:
        built = f", built in {self.build_s:.1f} s" if self.build_s else ""
        params = ("parameters unavailable (neither variables nor float constants to count)" if self.n_params is None
                  else f"parameters {self.params_text()} ({self.params_from})")
        return (f"{self.name}:\n    loaded from {self.loaded_from or self.path}\n    weights {self.weights} | "
                f"{params} | {self.size_mib:.0f} MiB on disk | hub.load {self.load_s:.1f} s{built}")


def folder_size_mib(path) -> float:
    """Total size of the files under ``path`` in MiB."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def count_weights(fn) -> tuple[int | None, str]:
    """Number of weights a signature holds, and how they were counted.

    A TF2 SavedModel (the stand-ins) keeps its weights in variables: ``fn.variables``. The
    TF-Hub Open Images detectors are frozen TF1 graphs with no variables at all ("Saver not
    created because there are no variables" when loading): their weights are floating-point
    ``Const`` tensors of the signature's graph, so those are counted instead (this also counts
    the few small float constants such a graph holds, e.g. thresholds). Returns
    ``(None, "unavailable")`` when neither holds anything.
    """
    n_var = int(sum(int(np.prod(v.shape)) for v in fn.variables))
    if n_var:
        return n_var, "variables"
    graph = getattr(fn, "graph", None)
    n_const = 0
    if graph is not None:
        for op in graph.get_operations():
            if op.type == "Const" and op.outputs and op.outputs[0].dtype.is_floating:
                shape = op.outputs[0].shape
                if shape.is_fully_defined():
                    n_const += int(np.prod(shape.as_list(), dtype=np.int64))
    if n_const:
        return n_const, "float constants of the frozen graph"
    return None, "unavailable"


def count_parameters(fn) -> int | None:
    """Number of weights of a signature (see :func:`count_weights`), None when unavailable."""
    return count_weights(fn)[0]


def import_tensorflow():
    """Import TensorFlow and probe its devices without the C++ start-up lines a learner cannot act on.

    ``TF_CPP_MIN_LOG_LEVEL`` does not silence what TensorFlow's C++ code logs before its logging
    is initialised (the absl banner, "oneDNN custom operations are on", "Could not find cuda
    drivers"), nor the ``failed call to cuInit`` error on a machine without a GPU. They are
    written straight to file descriptor 2, so it is captured during the import and the first
    device probe; known start-up lines are dropped and anything else is passed on to
    ``sys.stderr``. Returns the ``tensorflow`` module (already imported: returned as is).
    """
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe (cuInit) happens here
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
    kept = drop_startup_noise(text)
    if kept:
        sys.stderr.write(kept)
    return tf


#: TensorFlow's start-up lines that say nothing a learner can act on (see :func:`import_tensorflow`).
_STARTUP_NOISE = (
    "absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "failed call to cuInit",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
    "TF-TRT Warning", "optimized to use available CPU instructions", "cpu_feature_guard",
)


def drop_startup_noise(text: str) -> str:
    """``text`` without TensorFlow's known start-up lines (and blank lines); other lines are kept."""
    kept = [line for line in text.splitlines() if line.strip() and not any(n in line for n in _STARTUP_NOISE)]
    return "".join(line + "\n" for line in kept)


def configure_threads(intra_op: int, inter_op: int) -> tuple[int, int]:
    """Fix TensorFlow's CPU thread pools; returns what TensorFlow reports back.

    ``intra_op``: threads one op (a convolution, a matmul) may use; ``inter_op``: how many
    independent ops may run at once. The defaults depend on the machine, so timings from two
    runs may not have used the same parallelism. Must run before TensorFlow executes its first
    op (it cannot be changed afterwards: restart the kernel).
    """
    for label, value in (("intra_op", intra_op), ("inter_op", inter_op)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an int >= 1, got {value!r}")
    tf = import_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as error:
        raise RuntimeError("TensorFlow's thread pools are fixed once it has run an op: call configure_threads "
                           "before any TensorFlow computation (restart the kernel)") from error
    return (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())


def start_runtime() -> str:
    """Run TensorFlow's first ops (a matmul and a convolution) and return the device they ran on.

    TensorFlow creates its thread pools, and on a GPU the CUDA context and cuDNN handles, when
    the first ops run. Doing it here, before a model is loaded, keeps that one-off cost (hundreds
    of MiB of host memory for CUDA) out of the memory attributed to loading a model; measure this
    call on its own to see it.
    """
    tf = import_tensorflow()
    x = tf.ones([1, 8, 8, 3])
    y = tf.nn.conv2d(x, tf.ones([3, 3, 3, 4]), strides=1, padding="SAME")
    z = tf.matmul(tf.reshape(y, [64, 4]), tf.ones([4, 2]))
    z.numpy()
    return z.device.split("device:")[-1] if "device:" in z.device else z.device


def _import_hub():
    """tensorflow_hub, without its pkg_resources deprecation warning (nothing a learner can act on)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflow_hub

    return tensorflow_hub


def default_variant(name: str) -> str:
    """The stand-in variant :func:`load_detector` uses: "full", or "reduced" for Faster R-CNN
    when ``COURSE_FAST=1`` (fewer proposals, smaller resize: the quick test run)."""
    _check_name(name)
    from helpers import env

    return "reduced" if env.fast_mode() and name.startswith("faster_rcnn") else "full"


def load_detector(name: str, *, variant: str | None = None, online: bool | None = None,
                  return_info: bool = False, verbose: bool = True):
    """Load detector ``name`` and return its ``default`` signature (see the module docstring).

    Parameters
    ----------
    name : "ssd_mobilenet_v2" or "faster_rcnn_inception_resnet_v2"
    variant : stand-in variant when offline ("full", "reduced", "tiny"); ``None`` picks "full",
        or "reduced" for Faster R-CNN when ``COURSE_FAST=1``. Ignored online.
    online : force the online (True) or offline (False) path; ``None`` asks ``helpers.env.is_online()``
    return_info : also return a :class:`DetectorInfo`
    verbose : print the one-line notice of what loaded (TF-Hub handle or stand-in, and why)

    Returns
    -------
    fn, or (fn, DetectorInfo) with ``return_info``. ``fn(images=x)`` with ``x`` float32
    ``[1, H, W, 3]`` in [0, 1] returns the dict of detection tensors.
    """
    _check_name(name)
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    from helpers import env

    if online is None:
        online = env.is_online()
    if variant is None:
        variant = default_variant(name)

    hub = _import_hub()
    reason = "network offline"
    if online:
        tfhub_cache_dir()
        try:
            start = time.perf_counter()
            module = hub.load(HANDLES[name])
            load_s = time.perf_counter() - start
            fn = _keep_alive(module.signatures["default"], module)
            path = Path(hub.resolve(HANDLES[name]))
        except Exception as error:  # a failed download falls back to the stand-in, loudly
            reason = (f"download failed ({type(error).__name__}: {str(error)[:50]}; "
                      "TF-Hub cache: $TFHUB_CACHE_DIR)")
        else:
            n_params, how = count_weights(fn)
            info = DetectorInfo(name, HANDLES[name], "tfhub", None, str(path), folder_size_mib(path), n_params,
                                load_s, 0.0, loaded_from=f"TF-Hub handle {HANDLES[name]}", params_from=how)
            if verbose:
                print(f"[TF-Hub] {name}: loaded from TF-Hub handle {HANDLES[name]} in {load_s:.1f} s\n"
                      "    (weights as published under that handle; this notebook does not measure their accuracy).")
            return (fn, info) if return_info else fn

    path, build_s = ensure_standin(name, variant)
    where = _cache_relative(path)
    if verbose:
        head = f"[offline] {HANDLES[name]} not reachable ({reason}), using a locally built"
        if len(head) > 120:
            head = f"[offline] {HANDLES[name]} not reachable:\n    {reason}, using a locally built"
        print(f"{head}\n    stand-in ({variant}, random weights), local path {where}:\n"
              "    timings and memory are the stand-in's (tfhub.STANDIN_DIFFERENCES); its detections are meaningless.")
    start = time.perf_counter()
    module = hub.load(str(path))
    fn = _keep_alive(module.signatures["default"], module)
    load_s = time.perf_counter() - start
    n_params, how = count_weights(fn)
    info = DetectorInfo(name, HANDLES[name], "stand-in", variant, str(path), folder_size_mib(path),
                        n_params, load_s, build_s, loaded_from=f"local path {where}", params_from=how,
                        fallback_reason=None if reason == "network offline" else reason)
    return (fn, info) if return_info else fn


def _cache_relative(path) -> str:
    """A stand-in folder named relative to the course cache (no machine-specific absolute path in outputs)."""
    path = Path(path)
    try:
        return "<course cache>/" + path.relative_to(_root_cache_dir()).as_posix()
    except ValueError:
        return path.name


def _keep_alive(fn, module):
    """Tie the loaded object's lifetime to its signature: when it is garbage-collected, the
    variables the signature reads are deleted and calling it fails."""
    fn._loaded_module = module
    return fn


def ensure_standin(name: str, variant: str = "full", *, in_process: bool = False) -> tuple[Path, float]:
    """Build the stand-in SavedModel unless a cached one of this version exists.

    The build runs in a separate Python process by default: building leaves Keras objects and
    freed memory behind, which would distort the memory measurements of the process that then
    loads the model (a later load would reuse that freed memory and look smaller).

    Returns ``(path, build seconds)``; build seconds is 0.0 on a cache hit.
    """
    path = standin_dir(name, variant)
    if (path / "saved_model.pb").exists():
        return path, 0.0
    start = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if in_process:
            _build_standin(name, tmp, variant=variant)
        else:
            _build_in_subprocess(name, tmp, variant)
            BUILD_COUNT["n"] += 1
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)  # atomic: a half-written stand-in is never taken for a cached one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # left only if the build failed
    for stale in path.parent.glob(f"{name}-{variant}-v*"):
        if stale != path and ".tmp" not in stale.name:
            shutil.rmtree(stale, ignore_errors=True)
    return path, time.perf_counter() - start


def _build_in_subprocess(name: str, path: Path, variant: str) -> None:
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    code = "import sys; from helpers.tfhub import _build_standin; _build_standin(*sys.argv[1:3], variant=sys.argv[3])"
    done = subprocess.run([sys.executable, "-c", code, name, str(path), variant], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building the {name} stand-in ({variant}) failed:\n{done.stderr[-2000:]}")


# --- building the stand-ins -------------------------------------------------------------------


def _class_tables():
    """Readable names and MID-like names of the stand-in classes, index 0 = background."""
    import tensorflow as tf

    entities = ["background"] + [f"stand-in class {i}" for i in range(1, NUM_CLASSES + 1)]
    mids = ["/m/none"] + [f"/m/standin{i:03d}" for i in range(1, NUM_CLASSES + 1)]
    return tf.constant(entities), tf.constant(mids)


def _tf_variables(*models) -> list:
    """The tf.Variables behind Keras models' weights, deduplicated.

    The stand-in module tracks only these, not the Keras objects: saving then skips walking
    and re-tracing thousands of Keras layers (minutes -> seconds) and the SavedModel holds just
    the signature and its variables, like a TF-Hub model.
    """
    seen, out = set(), []
    for model in models:
        for weight in model.weights:
            variable = getattr(weight, "value", weight)
            if id(variable) not in seen:
                seen.add(id(variable))
                out.append(variable)
    return out


def _decode(deltas, anchors, weights=(10.0, 10.0, 5.0, 5.0)):
    """Faster R-CNN box coding: deltas (ty, tx, th, tw) on anchors (ymin, xmin, ymax, xmax) -> boxes."""
    import tensorflow as tf

    ha, wa = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    yc, xc = anchors[..., 0] + 0.5 * ha, anchors[..., 1] + 0.5 * wa
    clip = float(np.log(1000.0 / 16))  # as torchvision: no exp overflow for wild deltas
    ty, tx = deltas[..., 0] / weights[0], deltas[..., 1] / weights[1]
    th = tf.minimum(deltas[..., 2] / weights[2], clip)
    tw = tf.minimum(deltas[..., 3] / weights[3], clip)
    yc, xc = yc + ty * ha, xc + tx * wa
    h, w = ha * tf.exp(th), wa * tf.exp(tw)
    return tf.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)


def _rpn_anchors(fh, fw, image_hw, base=256.0, scales=(0.25, 0.5, 1.0, 2.0), ratios=(0.5, 1.0, 2.0)):
    """Faster R-CNN grid anchors for an fh x fw feature map of an image of ``image_hw`` pixels.

    Side lengths ``base * scale`` pixels with height/width ratio ``ratio``; returned normalised
    ``(ymin, xmin, ymax, xmax)``, shape (fh * fw * 12, 4) in (row, column, anchor) order, the
    order of the RPN head's reshape.
    """
    import tensorflow as tf

    h, w = image_hw[0], image_hw[1]
    cy = (tf.range(tf.cast(fh, tf.float32)) + 0.5) / tf.cast(fh, tf.float32)
    cx = (tf.range(tf.cast(fw, tf.float32)) + 0.5) / tf.cast(fw, tf.float32)
    hw_px = np.array([(base * s * np.sqrt(r), base * s / np.sqrt(r)) for s in scales for r in ratios], np.float32)
    half = tf.constant(hw_px / 2) / tf.stack([h, w])[None]  # A, 2 normalised half sides
    cy, cx = tf.meshgrid(cy, cx, indexing="ij")
    centres = tf.stack([cy, cx], axis=-1)[:, :, None, :]  # fh, fw, 1, 2
    boxes = tf.concat([centres - half[None, None], centres + half[None, None]], axis=-1)
    return tf.reshape(boxes, [-1, 4])


def _ssd_network(size: int, tiny: bool):
    """MobileNetV2 features + SSD extra layers + box/class heads. Returns (keras.Model, anchors)."""
    import keras

    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    if tiny:
        x = layers.Conv2D(16, 3, strides=4, padding="same", activation="relu")(inputs)
        f1 = layers.Conv2D(32, 3, strides=4, padding="same", activation="relu")(x)
        f2 = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(f1)
        features, extra = [f1, f2], [(32, 64)]
    else:
        backbone = keras.applications.MobileNetV2(input_tensor=inputs, include_top=False, weights=None)
        # the real config's feature maps: expansion of block 13 (19x19x576) and the last layer (10x10x1280)
        features = [backbone.get_layer("block_13_expand_relu").output, backbone.get_layer("out_relu").output]
        extra = [(256, 512), (128, 256), (128, 256), (64, 128)]
    x = features[-1]
    for squeeze, channels in extra:
        x = layers.Conv2D(squeeze, 1, activation="relu6")(x)
        x = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu6")(x)
        features.append(x)
    anchors_per_cell = [3] + [6] * (len(features) - 1)
    init = keras.initializers.RandomNormal(stddev=0.01)
    boxes, logits = [], []
    for feature, k in zip(features, anchors_per_cell, strict=True):
        b = layers.Conv2D(k * 4, 1, kernel_initializer=init)(feature)
        c = layers.Conv2D(k * (NUM_CLASSES + 1), 1, kernel_initializer=init,
                          bias_initializer=keras.initializers.Constant(-4.6))(feature)  # prior 0.01
        boxes.append(layers.Reshape((-1, 4))(b))
        logits.append(layers.Reshape((-1, NUM_CLASSES + 1))(c))
    model = keras.Model(inputs, [layers.Concatenate(axis=1)(boxes), layers.Concatenate(axis=1)(logits)])
    shapes = [(int(f.shape[1]), int(f.shape[2])) for f in features]
    return model, shapes, anchors_per_cell


def _ssd_anchors(shapes, anchors_per_cell):
    import tensorflow as tf

    n = len(shapes)
    scales = [0.2 + (0.95 - 0.2) * i / max(n - 1, 1) for i in range(n)] + [1.0]
    all_anchors = []
    for i, ((fh, fw), k) in enumerate(zip(shapes, anchors_per_cell, strict=True)):
        if k == 3:  # first layer: a small box and two elongated ones (as the SSD config)
            hw = [(0.1, 0.1), (scales[i] / np.sqrt(2), scales[i] * np.sqrt(2)),
                  (scales[i] * np.sqrt(2), scales[i] / np.sqrt(2))]
        else:
            hw = [(scales[i] / np.sqrt(r), scales[i] * np.sqrt(r)) for r in (1.0, 2.0, 0.5, 3.0, 1 / 3)]
            s = np.sqrt(scales[i] * scales[i + 1])
            hw.append((s, s))
        ys, xs = (np.arange(fh) + 0.5) / fh, (np.arange(fw) + 0.5) / fw
        cy, cx = np.meshgrid(ys, xs, indexing="ij")
        c = np.stack([cy, cx], -1)[:, :, None, :]
        half = np.array(hw, np.float32)[None, None] / 2
        all_anchors.append(np.concatenate([c - half, c + half], -1).reshape(-1, 4))
    return tf.constant(np.concatenate(all_anchors).astype(np.float32))


def _detections(boxes, scores, labels):
    """The signature's output dict from (N, 4) boxes, (N,) scores and (N,) int labels in 1..600."""
    import tensorflow as tf

    entities, mids = _class_tables()
    labels = tf.cast(labels, tf.int64)
    return {
        "detection_boxes": tf.clip_by_value(boxes, 0.0, 1.0),
        "detection_scores": scores,
        "detection_class_labels": labels,
        "detection_class_entities": tf.gather(entities, labels),
        "detection_class_names": tf.gather(mids, labels),
    }


def _ssd_stages(variant: str):
    """The SSD stand-in as (networks, stages): each stage takes the previous stage's output.

    Stages: ``"backbone + heads"`` (resize to the model's square input, MobileNetV2, extra layers,
    box and class heads) and ``"decode + NMS"`` (boxes from anchors, sigmoid scores, per-class NMS).
    """
    import tensorflow as tf

    size = _CONFIGS[("ssd_mobilenet_v2", variant)]["size"]
    network, shapes, per_cell = _ssd_network(size, tiny=variant == "tiny")
    anchors = _ssd_anchors(shapes, per_cell)

    def backbone_and_heads(images):
        x = tf.image.resize(images, [size, size]) * 2.0 - 1.0  # the real model's [-1, 1] input
        return network(x, training=False)

    def decode_and_nms(outputs):
        deltas, logits = outputs
        boxes = _decode(deltas[0], anchors)  # (A, 4), one box per anchor for all classes
        scores = tf.sigmoid(logits[0, :, 1:])  # (A, 600), background column dropped
        nms = tf.image.combined_non_max_suppression(
            boxes[None, :, None, :], scores[None], max_output_size_per_class=MAX_DETECTIONS,
            max_total_size=MAX_DETECTIONS, iou_threshold=0.6, score_threshold=1e-8, clip_boxes=True)
        n = nms.valid_detections[0]
        return _detections(nms.nmsed_boxes[0, :n], nms.nmsed_scores[0, :n],
                           tf.cast(nms.nmsed_classes[0, :n], tf.int64) + 1)

    return [network], {"backbone + heads": backbone_and_heads, "decode + NMS": decode_and_nms}


def _save_stages(path, networks, stages) -> None:
    """Save the composition of ``stages`` as a SavedModel with the TF-Hub ``default`` signature."""
    import tensorflow as tf

    class StandIn(tf.Module):
        def __init__(self):
            super().__init__()
            self.variables_ = _tf_variables(*networks)  # track weights only (see _tf_variables)

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="images")])
        def detect(self, images):
            out = images
            for stage in stages.values():
                out = stage(out)
            return out

    module = StandIn()
    tf.saved_model.save(module, str(path), signatures={"default": module.detect})


def _build_ssd(path, variant: str):
    _save_stages(path, *_ssd_stages(variant))


def _frcnn_networks(tiny: bool):
    """(first stage: image -> stride-16 features, second stage: 17x17 crops -> vectors, RPN head)."""
    import keras

    layers = keras.layers
    if tiny:
        image = keras.Input((None, None, 3))
        x = layers.Conv2D(16, 3, strides=4, padding="same", activation="relu")(image)
        first = keras.Model(image, layers.Conv2D(32, 3, strides=4, padding="same", activation="relu")(x))
        crops = keras.Input((17, 17, 32))
        y = layers.Conv2D(64, 3, strides=2, padding="valid", activation="relu")(crops)
        second = keras.Model(crops, layers.GlobalAveragePooling2D()(y))
        channels = 32
    else:
        base = keras.applications.InceptionResNetV2(include_top=False, weights=None, input_shape=(None, None, 3))
        trunk = base.get_layer("block17_20_ac").output  # end of the real model's first stage (stride 16)
        first = keras.Model(base.input, trunk)
        # mixed_7a .. conv_7b, applied to every proposal's 17x17 crop (the real "box classifier")
        second = keras.Model(trunk, layers.GlobalAveragePooling2D()(base.output))
        channels = 1088
    feats = keras.Input((None, None, channels))
    h = layers.Conv2D(512, 3, padding="same", activation="relu")(feats)
    init = keras.initializers.RandomNormal(stddev=0.01)
    rpn = keras.Model(feats, [layers.Conv2D(12, 1, kernel_initializer=init)(h),
                              layers.Conv2D(12 * 4, 1, kernel_initializer=init)(h)])
    dims = int(second.output.shape[-1])
    vec = keras.Input((dims,))
    heads = keras.Model(vec, [layers.Dense(NUM_CLASSES + 1, kernel_initializer=init)(vec),
                              layers.Dense(NUM_CLASSES * 4, kernel_initializer=init)(vec)])
    return first, second, rpn, heads


def _frcnn_stages(variant: str):
    """The Faster R-CNN stand-in as (networks, stages): each stage takes the previous stage's output.

    Stages: ``"first stage"`` (keep-aspect resize, Inception-ResNet-V2 up to block17),
    ``"proposals"`` (RPN head, anchor decoding, top 6000, NMS at IoU 0.7 to the proposals),
    ``"crops + second stage"`` (17x17 crop_and_resize of every proposal, mixed_7a..conv_7b, the
    class and box layers) and ``"decode + NMS"`` (softmax, per-class boxes, per-class NMS).
    """
    import tensorflow as tf

    cfg = _CONFIGS[("faster_rcnn_inception_resnet_v2", variant)]
    first, second, rpn, heads = _frcnn_networks(tiny=variant == "tiny")
    min_side, max_side, proposals = float(cfg["min_side"]), float(cfg["max_side"]), int(cfg["proposals"])

    def first_stage(images):
        hw = tf.cast(tf.shape(images)[1:3], tf.float32)
        scale = tf.minimum(min_side / tf.reduce_min(hw), max_side / tf.reduce_max(hw))
        new_hw = tf.cast(tf.round(hw * scale), tf.int32)
        x = tf.image.resize(images, new_hw) * 2.0 - 1.0
        return first(x, training=False), tf.cast(new_hw, tf.float32)  # features 1, fh, fw, C

    def propose(inputs):
        features, new_hw = inputs
        fh, fw = tf.shape(features)[1], tf.shape(features)[2]
        anchors = _rpn_anchors(fh, fw, new_hw)  # 4 scales x 3 ratios
        objectness, deltas = rpn(features, training=False)
        objectness = tf.reshape(objectness, [-1])
        rpn_boxes = tf.clip_by_value(_decode(tf.reshape(deltas, [-1, 4]), anchors), 0.0, 1.0)
        top = tf.math.top_k(objectness, k=tf.minimum(6000, tf.shape(objectness)[0]))
        keep = tf.image.non_max_suppression(tf.gather(rpn_boxes, top.indices), top.values,
                                            max_output_size=proposals, iou_threshold=0.7)
        return features, tf.gather(tf.gather(rpn_boxes, top.indices), keep)  # rois (P, 4) normalised

    def second_stage_on_crops(inputs):
        features, rois = inputs
        crops = tf.image.crop_and_resize(features, rois, tf.zeros(tf.shape(rois)[:1], tf.int32), [17, 17])
        class_logits, box_deltas = heads(second(crops, training=False), training=False)
        return rois, class_logits, box_deltas

    def decode_and_nms(inputs):
        rois, class_logits, box_deltas = inputs
        scores = tf.nn.softmax(class_logits)[:, 1:]  # (P, 600)
        per_class = _decode(tf.reshape(box_deltas, [-1, NUM_CLASSES, 4]), rois[:, None, :])
        nms = tf.image.combined_non_max_suppression(
            per_class[None], scores[None], max_output_size_per_class=MAX_DETECTIONS,
            max_total_size=MAX_DETECTIONS, iou_threshold=0.6, score_threshold=0.0, clip_boxes=True)
        n = nms.valid_detections[0]
        return _detections(nms.nmsed_boxes[0, :n], nms.nmsed_scores[0, :n],
                           tf.cast(nms.nmsed_classes[0, :n], tf.int64) + 1)

    stages = {"first stage": first_stage, "proposals": propose, "crops + second stage": second_stage_on_crops,
              "decode + NMS": decode_and_nms}
    return [first, second, rpn, heads], stages


def _build_frcnn(path, variant: str):
    _save_stages(path, *_frcnn_stages(variant))


@contextlib.contextmanager
def _seeded_build():
    """Keras seeded with STANDIN_SEED, TF's log quiet; Python's and NumPy's random states restored after."""
    import random

    import keras
    import tensorflow as tf

    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    log_level = tf.get_logger().level
    try:
        tf.get_logger().setLevel("ERROR")  # no "Assets written to ..." lines
        keras.utils.set_random_seed(STANDIN_SEED)
        yield
    finally:
        tf.get_logger().setLevel(log_level)
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def _build_standin(name: str, path, variant: str = "full") -> Path:
    """Build stand-in ``name`` with seeded random weights and save it as a SavedModel at ``path``.

    Python's and NumPy's global random states are restored afterwards, so a cache hit and a
    build leave a notebook's random draws the same.
    """
    _check_name(name)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    import keras

    try:
        with _seeded_build():
            (_build_ssd if name == "ssd_mobilenet_v2" else _build_frcnn)(path, variant)
    finally:
        keras.backend.clear_session()
    BUILD_COUNT["n"] += 1
    return Path(path)


def standin_stages(name: str, variant: str = "full") -> dict:
    """The stand-in's pipeline as separate ``tf.function`` stages, built in this process with the same seed.

    Returns an ordered dict stage name -> function; each takes the previous stage's output (the first
    takes the ``[1, H, W, 3]`` image tensor, the last returns the signature's detection dict), and
    their composition is what the stand-in's SavedModel computes. For timing where the time goes:
    :func:`stage_inputs` gives each stage's input. SSD: ``"backbone + heads"``, ``"decode + NMS"``;
    Faster R-CNN: ``"first stage"``, ``"proposals"``, ``"crops + second stage"``, ``"decode + NMS"``.
    """
    _check_name(name)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    import tensorflow as tf

    with _seeded_build():
        networks, stages = (_ssd_stages if name == "ssd_mobilenet_v2" else _frcnn_stages)(variant)
    del networks  # the stage functions hold them
    return {key: tf.function(fn) for key, fn in stages.items()}


def stage_inputs(stages: dict, images) -> dict:
    """Run ``stages`` once on ``images``; return stage name -> the input that stage receives."""
    inputs, out = {}, images
    for key, fn in stages.items():
        inputs[key] = out
        out = fn(out)
    return inputs


# --- the architectures, counted -------------------------------------------------------------

#: Classes of the real Open Images V4 configs (``num_classes: 601``; the heads add background).
REAL_NUM_CLASSES = 601


def frcnn_resize(width: int, height: int, min_side: int = 600, max_side: int = 1024) -> tuple[int, int]:
    """(width, height) after Faster R-CNN's keep-aspect resize (shorter side 600, longer side <= 1024)."""
    scale = min(min_side / min(width, height), max_side / max(width, height))
    return round(width * scale), round(height * scale)


def _valid(n: int, kernel: int = 3, stride: int = 2) -> int:
    return (n - kernel) // stride + 1


def first_stage_positions(width: int, height: int) -> dict:
    """Feature positions of Faster R-CNN's first stage (and RPN) for a ``width`` x ``height`` photo.

    ``"resized"``: (w, h) inside the model; ``"real"``: (w, h) of the real model's atrous stride-8
    features (SAME paddings: ceil(size / 8)); ``"stand_in"``: (w, h) of the Keras build, stride 16
    with VALID paddings (conv s2, conv, conv same, maxpool s2, 1x1, conv, maxpool s2, mixed_6a s2).
    """
    w, h = frcnn_resize(width, height)

    def keras_stride16(n):
        for kernel, stride in ((3, 2), (3, 1), (3, 2), (3, 1), (3, 2), (3, 2)):
            n = _valid(n, kernel, stride)
        return n

    return {"resized": (w, h), "real": (-(-w // 8), -(-h // 8)), "stand_in": (keras_stride16(w), keras_stride16(h))}


#: SSD-MobileNetV2's six feature maps at 300x300 and anchors per cell (1917 anchors in all).
SSD_FEATURE_SHAPES = ((19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1))
SSD_ANCHORS_PER_CELL = (3, 6, 6, 6, 6, 6)


def ssd_anchor_boxes() -> np.ndarray:
    """SSD-MobileNetV2's 1917 anchors, (1917, 4) normalised ``[ymin, xmin, ymax, xmax]`` of its square input.

    As the config's ``ssd_anchor_generator`` (6 layers, scales 0.2-0.95, ratios 1, 2, 1/2, 3, 1/3 plus
    an extra square; the lowest layer 3 boxes: a 0.1 square and ratios 2, 1/2 at scale 0.2), in
    (map, row, column, anchor) order; the stand-in uses the same boxes.
    """
    return _ssd_anchors(SSD_FEATURE_SHAPES, SSD_ANCHORS_PER_CELL).numpy()


def rpn_anchor_boxes(width: int, height: int, stride: int = 8) -> np.ndarray:
    """Faster R-CNN's first-stage anchors for a ``width`` x ``height`` photo, (N, 4) normalised
    ``[ymin, xmin, ymax, xmax]``: 12 per position (base 256 px, scales 0.25-2, ratios 0.5, 1, 2) on
    the feature grid of ``stride`` pixels (8: the real atrous model) of the resized image."""
    import tensorflow as tf

    w, h = frcnn_resize(width, height)
    fh, fw = -(-h // stride), -(-w // stride)
    return _rpn_anchors(fh, fw, tf.constant([float(h), float(w)])).numpy()


RPN_ANCHORS_PER_POSITION = 12  # 4 scales x 3 ratios, as _rpn_anchors


def ssd_cell_anchors(level: int, row: int | None = None, col: int | None = None, size: int = 300) -> np.ndarray:
    """The anchors of one cell of SSD-MobileNetV2's map ``level``: (k, 4) ``xyxy`` pixels of its input.

    ``level`` indexes ``SSD_FEATURE_SHAPES`` (0: the finest, 19x19); ``row, col`` default to the map's
    centre cell ``(height // 2, width // 2)``; ``k = SSD_ANCHORS_PER_CELL[level]``. The boxes are rows
    of :func:`ssd_anchor_boxes` (normalised ``[ymin, xmin, ymax, xmax]``) scaled to the
    ``size`` x ``size`` image the model sees.
    """
    height, width = SSD_FEATURE_SHAPES[level]
    rows = cell_anchor_rows(SSD_FEATURE_SHAPES, SSD_ANCHORS_PER_CELL, level,
                            height // 2 if row is None else row, width // 2 if col is None else col)
    return ssd_anchor_boxes()[rows][:, [1, 0, 3, 2]].astype(np.float64) * size


def rpn_cell_anchors(width: int, height: int, row: int | None = None, col: int | None = None,
                     stride: int = 8) -> np.ndarray:
    """Faster R-CNN's 12 first-stage anchors at one feature position, (12, 4) ``xyxy`` pixels of the
    resized image (:func:`frcnn_resize` of a ``width`` x ``height`` photo).

    The grid has ``ceil(h / stride)`` x ``ceil(w / stride)`` positions of the resized ``w`` x ``h``
    image; ``row, col`` default to its centre ``(rows // 2, cols // 2)``. The boxes are rows of
    :func:`rpn_anchor_boxes`, sides 64-512 px (base 256, scales 0.25-2) at ratios 0.5, 1, 2.
    """
    w, h = frcnn_resize(width, height)
    grid = (-(-h // stride), -(-w // stride))
    rows = cell_anchor_rows([grid], [RPN_ANCHORS_PER_POSITION], 0,
                            grid[0] // 2 if row is None else row, grid[1] // 2 if col is None else col)
    boxes = rpn_anchor_boxes(width, height, stride)[rows][:, [1, 0, 3, 2]].astype(np.float64)
    return boxes * np.array([w, h, w, h], np.float64)


def _layer_macs(model) -> list[tuple[str, int, int, int]]:
    """(layer name, multiply-adds per output position, output height, output width) of each
    convolution and dense layer of a Keras model built on a concrete input shape."""
    import keras

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw, cin, mult = layer.kernel.shape
            per = kh * kw * cin * mult
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape  # cin is per group
            per = kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            per = layer.kernel.shape[0] * layer.kernel.shape[1]
        else:
            continue
        shape = layer.output.shape
        oh, ow = (int(shape[1]), int(shape[2])) if len(shape) == 4 else (1, 1)
        rows.append((layer.name, int(per), oh, ow))
    return rows


def architecture_macs(name: str, width: int = 640, height: int = 480) -> dict:
    """Multiply-adds of the full stand-in and of the real config, counted layer by layer, in GMACs.

    Returns ``{part: (stand_in_gmacs, real_gmacs)}``. The real config's count uses the stand-in's
    layers (the same kernels and channels as the TF object-detection API's networks) at the real
    config's positions: for Faster R-CNN, the first stage and RPN at stride 8 (atrous) with SAME
    paddings (positions ceil(size / stride)), 300 proposals through mixed_7a..conv_7b on 17x17 crops
    (VALID stride-2 convolutions, 8x8 after mixed_7a, as the API's feature extractor), and heads with
    ``REAL_NUM_CLASSES`` + 1 class outputs and ``REAL_NUM_CLASSES`` x 4 box outputs; for SSD, the same
    network at 300x300 with ``REAL_NUM_CLASSES`` + 1 class outputs. Builds the Keras networks (no
    weights are used); takes a few seconds and a few hundred MiB for Faster R-CNN.
    """
    _check_name(name)
    import keras

    try:
        with _seeded_build():
            return _ssd_macs() if name == "ssd_mobilenet_v2" else _frcnn_macs(width, height)
    finally:
        keras.backend.clear_session()


def _ssd_macs() -> dict:
    network, _, _ = _ssd_network(_CONFIGS[("ssd_mobilenet_v2", "full")]["size"], tiny=False)
    parts = {"MobileNetV2 backbone": [0, 0], "extra layers": [0, 0], "box + class heads": [0, 0]}
    backbone_names = {layer.name for layer in network.layers[:network.layers.index(network.get_layer("out_relu")) + 1]}
    for layer_name, per, oh, ow in _layer_macs(network):
        macs = per * oh * ow
        filters = network.get_layer(layer_name).kernel.shape[-1]
        is_head = network.get_layer(layer_name).kernel.shape[0] == 1 and layer_name not in backbone_names and (
            filters % (NUM_CLASSES + 1) == 0 or filters in (12, 24))
        key = "MobileNetV2 backbone" if layer_name in backbone_names else "box + class heads" if is_head else "extra layers"
        real = macs * (REAL_NUM_CLASSES + 1) / (NUM_CLASSES + 1) if is_head and filters % (NUM_CLASSES + 1) == 0 else macs
        parts[key][0] += macs
        parts[key][1] += real
    return {k: (a / 1e9, b / 1e9) for k, (a, b) in parts.items()}


def _frcnn_macs(width: int, height: int) -> dict:
    import math

    import keras

    w, h = frcnn_resize(width, height)
    proposals = _CONFIGS[("faster_rcnn_inception_resnet_v2", "full")]["proposals"]
    base = keras.applications.InceptionResNetV2(include_top=False, weights=None, input_shape=(h, w, 3))
    rows = _layer_macs(base)
    split = [r[0] for r in rows].index("block17_20_conv") + 1  # the first stage ends with block17_20
    parts = {"first stage": [0, 0], "RPN head": [0, 0], "second stage, 300 crops": [0, 0], "class + box layers": [0, 0]}
    block17 = base.get_layer("block17_20_ac").output.shape[1:3]
    for k, (_, per, oh, ow) in enumerate(rows):
        stride = 2 ** round(math.log2(h / oh))
        if k < split:  # the real first stage: at most stride 8 (atrous), SAME paddings
            parts["first stage"][0] += per * oh * ow
            parts["first stage"][1] += per * -(-h // min(stride, 8)) * -(-w // min(stride, 8))
        else:  # on 17x17 crops: 1x1 convolutions of mixed_7a at 17x17, the rest at 8x8
            positions = 17 * 17 if (oh, ow) == tuple(block17) else 8 * 8
            parts["second stage, 300 crops"][0] += per * positions * proposals
            parts["second stage, 300 crops"][1] += per * positions * proposals
    rpn_per = 9 * 1088 * 512 + 512 * 12 + 512 * 48
    parts["RPN head"] = [rpn_per * int(block17[0]) * int(block17[1]), rpn_per * -(-h // 8) * -(-w // 8)]
    parts["class + box layers"] = [proposals * 1536 * (NUM_CLASSES + 1 + NUM_CLASSES * 4),
                                   proposals * 1536 * (REAL_NUM_CLASSES + 1 + REAL_NUM_CLASSES * 4)]
    return {k: (a / 1e9, b / 1e9) for k, (a, b) in parts.items()}


# --- using the detections ---------------------------------------------------------------------


def prepare_image(image, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) photo -> float32 ``[1, h, w, 3]`` in [0, 1], resized to ``size=(w, h)`` if given.

    Do this outside any timed region: it is image preparation, not the model.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
    if size is not None:
        from PIL import Image

        width, height = size
        image = np.asarray(Image.fromarray(image.astype(np.uint8)).resize((int(width), int(height)), Image.BILINEAR))
    scale = 255.0 if image.dtype == np.uint8 or image.max() > 1.0 else 1.0
    return (image.astype(np.float32) / scale)[None]


def to_numpy(result: dict) -> dict:
    """Detection tensors -> NumPy arrays; class strings decoded to ``str``."""
    out = {}
    for key, value in result.items():
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if array.dtype.kind in ("S", "O"):
            array = np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)])
        out[key] = array
    return out


def boxes_to_pixels(boxes, height: int, width: int) -> np.ndarray:
    """Normalised ``[ymin, xmin, ymax, xmax]`` (N, 4) -> ``xyxy`` float pixels (N, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([boxes[:, 1] * width, boxes[:, 0] * height, boxes[:, 3] * width, boxes[:, 2] * height])

