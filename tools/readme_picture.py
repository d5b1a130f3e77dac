"""Cut the README's picture out of a committed notebook output (our own code drew it: licence ours).

    python tools/readme_picture.py                          # notebook 05's gallery, its top row
    python tools/readme_picture.py --notebook notebooks/05_batman_detector.ipynb \\
        --contains 'ground truth' --rows 0.34 --out docs/images/batman_detections.jpg

Takes the first image output of the code cells whose source contains ``--contains``, keeps
the top ``--rows`` fraction of it (a gallery's first row), and writes it as a JPEG under
``MAX_BYTES``. Re-run it after the notebook is re-executed, so the picture shows the current run.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 200_000


def find_image(nb, contains: str) -> Image.Image:
    """The first image output of the code cells whose source contains ``contains``."""
    for cell in nb.cells:
        if cell.cell_type != "code" or contains not in cell.source:
            continue
        for out in cell.get("outputs", []):
            for kind in ("image/png", "image/jpeg"):
                if kind in out.get("data", {}):
                    return Image.open(io.BytesIO(base64.b64decode(out["data"][kind]))).convert("RGB")
    raise ValueError(f"no code cell containing {contains!r} has an image output")


def cut(image: Image.Image, rows: float) -> Image.Image:
    if not 0 < rows <= 1:
        raise ValueError(f"rows must be in (0, 1], got {rows}")
    return image.crop((0, 0, image.width, max(1, round(image.height * rows))))


def save_jpeg(image: Image.Image, out: Path, max_bytes: int = MAX_BYTES) -> int:
    """Write ``image`` as the best-quality JPEG under ``max_bytes``; return its size."""
    for quality in (90, 85, 80, 70, 60, 50):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= max_bytes:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(buffer.getvalue())
            return buffer.tell()
    raise ValueError(f"{out.name}: no JPEG quality >= 50 fits in {max_bytes} bytes; cut a smaller part")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "05_batman_detector.ipynb")
    parser.add_argument("--contains", default="ground truth", help="text that identifies the cell")
    parser.add_argument("--rows", type=float, default=0.34, help="top fraction of the image to keep")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "batman_detections.jpg")
    args = parser.parse_args(argv)
    picture = cut(find_image(nbformat.read(args.notebook, as_version=4), args.contains), args.rows)
    size = save_jpeg(picture, args.out)
    print(f"{args.out.name}: {picture.width}x{picture.height} px, {size / 1e3:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
