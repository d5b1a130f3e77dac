"""The course's sample photos: committed under ``data/samples/`` with their licences.

``motorcycle_left`` is read from the installed scikit-image package instead of being committed,
because the Middlebury stereo images it comes from carry no explicit licence (see data/README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SAMPLES_DIR = DATA_DIR / "samples"

#: name -> file under data/samples/ (committed, licence in data/README.md)
COMMITTED = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "grace_hopper": "grace_hopper.jpg",
}
#: name -> scikit-image loader, for photos read from the package at run time
FROM_SKIMAGE = {"motorcycle_left": "stereo_motorcycle"}

SAMPLE_NAMES = tuple(COMMITTED) + tuple(FROM_SKIMAGE)


def load_sample(name: str) -> np.ndarray:
    """Return sample photo ``name`` as an (H, W, 3) uint8 RGB array.

    Works from a clone (``data/samples``) and from a pip install (falls back to the copies that
    scikit-image and matplotlib ship).
    """
    if name not in SAMPLE_NAMES:
        raise ValueError(f"unknown sample photo {name!r}; choose one of {', '.join(SAMPLE_NAMES)}")
    from PIL import Image

    if name in COMMITTED:
        path = SAMPLES_DIR / COMMITTED[name]
        if path.exists():
            return np.asarray(Image.open(path).convert("RGB"))
        if name == "grace_hopper":
            import matplotlib.cbook

            with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
                return np.asarray(Image.open(f).convert("RGB"))
        import skimage.data

        return np.asarray(getattr(skimage.data, name)())[..., :3]
    import skimage.data

    image = getattr(skimage.data, FROM_SKIMAGE[name])()
    if isinstance(image, tuple):  # stereo_motorcycle -> (left, right, disparity)
        image = image[0]
    return np.asarray(image)[..., :3]
