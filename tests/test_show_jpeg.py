"""helpers.viz.show_jpeg: photo figures shown as JPEG (notebook size limits)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import viz  # noqa: E402


def test_show_jpeg_displays_a_small_jpeg_and_closes_the_figure(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=72)
    ax.imshow(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    viz.show_jpeg(fig, quality=80)
    assert len(shown) == 1 and shown[0].format == "jpeg"
    data = shown[0].data
    assert data[:3] == b"\xff\xd8\xff"  # JPEG magic
    assert len(data) < len(png.getvalue())
    assert not plt.fignum_exists(fig.number)


def test_show_jpeg_rejects_bad_quality():
    fig = plt.figure()
    with pytest.raises(ValueError, match="quality"):
        viz.show_jpeg(fig, quality=0)
    plt.close(fig)
