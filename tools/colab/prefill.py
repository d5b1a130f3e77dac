"""Pre-fill torch hub's and TF-Hub's caches with random-weight files under the real names.

The Colab rehearsal runs the notebooks' online branch (``COURSE_ONLINE=1``) without a network:
every weight file the notebooks would download must already be where the libraries look, so the
libraries' own cache lookups find it and download nothing.

- torch hub: ``$TORCH_HOME/hub/checkpoints/<basename of Weights.url>``, holding the state dict of
  the model exactly as torchvision's builder lays it out for those weights (frozen batch norm, 91
  COCO classes, ...), with seeded random values. torch hub checks a file's hash only when it
  downloads it, so a cached file is loaded as it is.
- TF-Hub: ``$TFHUB_CACHE_DIR/<sha1 hex of the handle>/``, a SavedModel with the ``default``
  signature built by ``helpers.tfhub``'s stand-in builders. tensorflow_hub's resolver takes a
  non-empty folder of that name as the downloaded model.

Usage (in the environment whose torch / TensorFlow the notebooks will use)::

    python tools/colab/prefill.py torch DIR      # DIR becomes TORCH_HOME
    python tools/colab/prefill.py tfhub DIR      # DIR becomes TFHUB_CACHE_DIR  [--variant tiny]

torch and TensorFlow are imported only by the function that needs them (one per process).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]


# --- torch hub ----------------------------------------------------------------------------------


#: torchvision detectors whose COCO weights a notebook loads outside helpers.detection.build_detector:
#: notebook 06's FCOS (helpers.tiny_detectors.load_torchvision_fcos, FCOS_ResNet50_FPN_Weights.COCO_V1).
ALSO_LOADED = ("fcos_resnet50_fpn",)


def torchvision_weights_needed() -> dict[str, object]:
    """builder name -> weights enum member, for every detector ``helpers.detection.build_detector``
    can start from COCO weights (``weights="coco"`` asks torchvision for ``weights="DEFAULT"``), and
    those of ``ALSO_LOADED``."""
    from torchvision.models import get_model_weights

    from helpers.detection import COCO_MODELS

    return {name: get_model_weights(name).DEFAULT for name in (*COCO_MODELS, *ALSO_LOADED)}


def torch_checkpoint_name(weights) -> str:
    """The file name torch hub caches ``weights`` under: the basename of ``weights.url``."""
    return os.path.basename(urlparse(weights.url).path)


def torch_checkpoint_path(weights, torch_home) -> Path:
    """``<torch_home>/hub/checkpoints/<file name>``: where ``load_state_dict_from_url`` looks."""
    return Path(torch_home) / "hub" / "checkpoints" / torch_checkpoint_name(weights)


def random_state_dict(builder_name: str, weights, seed: int = 0) -> dict:
    """The state dict torchvision's ``builder_name(weights=weights)`` would load, with random values.

    The builder runs as usual, except that fetching the checkpoint returns a marker and
    ``load_state_dict`` of the marker records the freshly built model's own state dict. So the
    keys, shapes and layout (e.g. ``FrozenBatchNorm2d`` for pretrained backbones, 91 classes) are
    exactly those of the model that will load the file; nothing is downloaded.
    """
    from unittest import mock

    import torch
    import torchvision
    from torchvision.models._api import WeightsEnum

    marker = object()
    captured = {}
    real_load = torch.nn.Module.load_state_dict

    def load(module, state_dict, *args, **kwargs):
        if state_dict is marker:
            captured["state"] = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return None
        return real_load(module, state_dict, *args, **kwargs)

    torch.manual_seed(seed)
    builder = getattr(torchvision.models.detection, builder_name)
    with mock.patch.object(WeightsEnum, "get_state_dict", lambda self, *a, **k: marker), \
            mock.patch.object(torch.nn.Module, "load_state_dict", load):
        builder(weights=weights)
    if "state" not in captured:
        raise RuntimeError(f"torchvision's {builder_name} did not load a state dict for {weights}")
    return captured["state"]


def prefill_torch(torch_home, seed: int = 0) -> list[Path]:
    """Write a random-weight checkpoint for every entry of :func:`torchvision_weights_needed`."""
    import torch

    written = []
    for name, weights in torchvision_weights_needed().items():
        path = torch_checkpoint_path(weights, torch_home)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(random_state_dict(name, weights, seed), path)
        written.append(path)
    return written


# --- TF-Hub -------------------------------------------------------------------------------------


def tfhub_cache_key(handle: str) -> str:
    """The folder name tensorflow_hub caches ``handle`` under: the SHA-1 hex digest of the handle."""
    return hashlib.sha1(handle.encode("utf8")).hexdigest()


#: Run in a fresh process: ``helpers.tfhub``'s stand-in builder, with class names that do not say
#: "stand-in" (the offline stand-ins' "stand-in class 17" would read as an offline notice in the
#: online pass, where the notebook cannot know that the cached model is not the real one).
_BUILD_CACHED_MODEL = """
import sys
from helpers import tfhub

def class_tables():
    import tensorflow as tf
    n = tfhub.NUM_CLASSES
    return (tf.constant(["background"] + [f"cached class {i}" for i in range(1, n + 1)]),
            tf.constant(["/m/none"] + [f"/m/cached{i:03d}" for i in range(1, n + 1)]))

tfhub._class_tables = class_tables
tfhub._build_standin(sys.argv[1], sys.argv[2], variant=sys.argv[3])
"""


def prefill_tfhub(cache_dir, variant: str = "tiny") -> list[Path]:
    """Build each ``helpers.tfhub.HANDLES`` model's stand-in (``variant``) into ``cache_dir/<sha1(handle)>``.

    Each build runs in its own Python process (``helpers.tfhub``'s builders), so this process
    imports no framework.
    """
    import subprocess

    from helpers import tfhub

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    written = []
    for name, handle in tfhub.HANDLES.items():
        path = Path(cache_dir) / tfhub_cache_key(handle)
        tmp = path.with_name(path.name + ".building")
        shutil.rmtree(tmp, ignore_errors=True)
        done = subprocess.run([sys.executable, "-c", _BUILD_CACHED_MODEL, name, str(tmp), variant], env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building the cached {name} ({variant}) failed:\n{done.stderr[-2000:]}")
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=("torch", "tfhub"))
    parser.add_argument("directory", type=Path, help="TORCH_HOME (torch) or TFHUB_CACHE_DIR (tfhub)")
    parser.add_argument("--variant", default="tiny", help="helpers.tfhub stand-in variant (tfhub only)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    if args.which == "torch":
        written = prefill_torch(args.directory)
    else:
        written = prefill_tfhub(args.directory, args.variant)
    for path in written:
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
        print(f"prefill {args.which}: {path.relative_to(args.directory)} ({size / 2**20:.1f} MiB)")
    print(f"prefill {args.which}: {len(written)} entries in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
