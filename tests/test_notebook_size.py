"""tools/clean_outputs.fit_size: a notebook over 1 MB keeps its figures, re-encoded as JPEG until it fits."""

import base64
import io
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from clean_outputs import clean, fit_size  # noqa: E402


def png_output(seed, size=400):
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 255, (size // 10, size // 10, 3), dtype=np.uint8))
    photo = np.asarray(small.resize((size, size), Image.BICUBIC)) + rng.integers(0, 6, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")  # a photo-like figure: large as PNG, small as JPEG
    return new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(),
                                            "text/plain": "<Figure>"}, metadata={"image/png": {"width": size}})


def notebook(n):
    return new_notebook(cells=[new_code_cell("plt.show()", outputs=[png_output(k)]) for k in range(n)])


def size(nb):
    return len(nbformat.writes(nb).encode()) + 1


def test_a_small_notebook_is_left_as_it_is():
    nb = notebook(2)
    before = nbformat.writes(nb)
    assert fit_size(nb) == 0 and nbformat.writes(nb) == before


def test_an_oversized_notebook_fits_with_its_largest_figures_as_jpeg_showing_the_same_picture():
    nb = notebook(6)
    limit = size(nb) * 2 // 3
    original = [base64.b64decode(c.outputs[0]["data"]["image/png"]) for c in nb.cells]
    changed = fit_size(nb, limit=limit)
    assert 0 < changed < 6 and size(nb) <= limit
    kinds = [next(k for k in c.outputs[0]["data"] if k.startswith("image/")) for c in nb.cells]
    assert kinds.count("image/jpeg") == changed
    for cell, png in zip(nb.cells, original, strict=True):
        data = cell.outputs[0]["data"]
        if "image/jpeg" in data:
            a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
            b = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"]))), dtype=float)
            assert a.shape == b.shape and np.abs(a - b).mean() < 8  # the same picture, lossy
            assert cell.outputs[0]["metadata"] == {"image/jpeg": {"width": 400}}
            assert data["text/plain"] == "<Figure>"


def test_clean_applies_the_size_rule():
    nb = notebook(4)  # over 1 MB of PNG
    assert size(nb) > 1_000_000
    clean(nb)
    assert size(nb) <= 1_000_000


def test_when_pngs_are_not_enough_the_jpegs_go_down_in_quality_until_it_fits():
    nb = notebook(6)
    for cell in nb.cells:  # every figure already a JPEG at a high quality
        out = cell.outputs[0]
        out["data"]["image/jpeg"] = __import__("clean_outputs")._as_jpeg(out["data"].pop("image/png"), 98)
    limit = size(nb) * 2 // 3
    assert fit_size(nb, limit=limit) > 0 and size(nb) <= limit
    assert all("image/jpeg" in c.outputs[0]["data"] for c in nb.cells)
