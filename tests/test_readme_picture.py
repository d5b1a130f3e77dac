"""tools/readme_picture.py: the README's picture cut from a notebook's own output, under 200 KB."""

import base64
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import readme_picture as rp  # noqa: E402


def _png(width, height):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_cuts_the_top_rows_of_the_named_cells_image(tmp_path):
    first = new_code_cell('draw_boxes(img, g, title="ground truth")')  # a matching cell without an image
    second = new_code_cell('axes = draw_boxes(img, g, title="ground truth")')
    second.outputs = [new_output("display_data", data={"image/png": _png(300, 200), "text/plain": "<Figure>"})]
    nb = new_notebook(cells=[new_code_cell("x = 1"), first, second])
    picture = rp.cut(rp.find_image(nb, "ground truth"), 0.5)
    assert picture.size == (300, 100)
    out = tmp_path / "p.jpg"
    size = rp.save_jpeg(picture, out)
    assert out.read_bytes()[:3] == b"\xff\xd8\xff" and size == out.stat().st_size <= rp.MAX_BYTES


def test_clear_errors():
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="no code cell containing 'gallery'"):
        rp.find_image(nb, "gallery")
    with pytest.raises(ValueError, match="rows must be in"):
        rp.cut(Image.new("RGB", (10, 10)), 0)
    with pytest.raises(ValueError, match="no JPEG quality"):
        rp.save_jpeg(Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)),
                     Path("unused.jpg"), max_bytes=1000)
