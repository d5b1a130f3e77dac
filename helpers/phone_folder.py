"""A generated "phone folder": Batman scenes written the way a learner's camera and LabelImg write them.

Notebook 07 takes a folder of photos labelled with LabelImg to a trained, evaluated, exported
detector. Without a folder of your own, :func:`make_phone_folder` writes one that holds what a
real phone folder holds, so the audit has something to find:

* JPEG photos whose pixels are stored sideways or upside down with an EXIF orientation tag (6 and
  8: portrait photos; 3: upside down; 2: a mirrored selfie), as phones store them; PNG
  screenshots; grayscale photos; a 16-bit PNG scan; several image sizes, landscape and portrait;
* one LabelImg XML file beside each image, written on the image **as displayed** (LabelImg
  applies the EXIF orientation before you draw), with the labeller's Windows ``<path>``;
* a few problem files: a copy of an annotation file (``IMG_0002 - Copy.xml``), a photo labelled
  by a tool that ignored its EXIF orientation, a truncated JPEG, an annotation whose photo was
  deleted, a class name typed with a capital letter, a box edited by hand to outside its image,
  photos never labelled (no XML), and a photo saved with no boxes.

The scenes are drawn by the Batman dataset's own generator (:func:`helpers.batman.render_scene`),
deterministically from a seed; :data:`PLANTED` lists the problem files and what each one is.
NumPy + Pillow only.
"""

from __future__ import annotations

import json
import shutil
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.batman import render_scene
from helpers.batman_art import DISTRACTORS, STYLES
from helpers.voc import CLASSES, voc_xml_string

#: Bumped whenever the files written for a seed change.
PHONE_FOLDER_VERSION = 1

#: Image sizes (width, height) as displayed, landscape; portrait photos swap them.
SIZES = ((480, 360), (640, 480), (400, 300), (512, 384), (384, 384))

#: EXIF orientations and how often a phone folder holds them (1: as stored).
ORIENTATION_P = {1: 0.5, 6: 0.25, 8: 0.1, 3: 0.1, 2: 0.05}

#: Pillow's transpose that turns the displayed image into the stored pixels, per orientation (the
#: inverse of what a viewer, ``ImageOps.exif_transpose``, applies).
_TO_STORED = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_270}

#: The problem files :func:`make_phone_folder` plants (file name -> what it is), for n_images >= 12.
PLANTED = {
    "IMG_0002 - Copy.xml": "a copy of IMG_0002.xml (Windows Explorer's copy): the same objects twice",
    "IMG_0003.xml": "labelled by a tool that ignored the EXIF orientation: <size> and boxes are sideways",
    "IMG_0004.jpg": "a truncated JPEG (the copy from the phone stopped half-way)",
    "IMG_0005.xml": "the class name typed as 'Batman_face' in LabelImg's class box",
    "IMG_0006.xml": "a box edited by hand to end past the image's right edge",
    "IMG_0007.xml": "saved with no boxes: a background-only photo",
    "IMG_0008.png": "a 16-bit grayscale PNG (a scan)",
    "IMG_9001.xml": "its photo was deleted from the folder",
    "IMG_9002.jpg": "a photo never labelled (no XML file)",
    "IMG_9003.jpg": "a photo never labelled (no XML file)",
}

_WINDOWS_FOLDER = "C:\\Users\\learner\\Pictures\\batman"


def _orientation(rng) -> int:
    keys = list(ORIENTATION_P)
    return int(keys[rng.choice(len(keys), p=np.array(list(ORIENTATION_P.values())))])


def _stored_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes on a displayed ``width x height`` image, in the frame of its orientation-6 stored pixels
    (the display turned 90 degrees counter-clockwise: displayed (x, y) is stored (y, width - x))."""
    x1, y1, x2, y2 = boxes.T
    return np.stack([y1, width - x2, y2, width - x1], axis=1)


def _scene(i: int, seed: int, bag: list[str], orientation: int | None = None):
    """Displayed image, boxes, names, truncated flags and orientation of photo ``i``."""
    rng = np.random.default_rng([seed, i])
    drawn = _orientation(rng)
    orientation = drawn if orientation is None else orientation
    w, h = SIZES[int(rng.integers(len(SIZES)))]
    if orientation != 1 and w == h:  # a square photo shows no EXIF mistake in its size
        w, h = SIZES[0]
    portrait = orientation in (6, 8) or (orientation == 1 and rng.random() < 0.2)
    if portrait:
        w, h = h, w
    objects = [(name, STYLES[int(rng.integers(len(STYLES)))]) for name in bag]
    distractors = [(DISTRACTORS[int(rng.integers(len(DISTRACTORS)))], STYLES[int(rng.integers(len(STYLES)))])
                   for _ in range(int(rng.integers(0, 3)))]
    image, boxes, names, _, truncated = render_scene(rng, w, h, objects, distractors, scale=(0.14, 0.4))
    return image, boxes, names, truncated, orientation, rng


def _bags(n_images: int, seed: int) -> list[list[str]]:
    """Classes of each photo (1-4 objects), every class equally often (a shuffled bag per round)."""
    rng = np.random.default_rng([seed, 10**6])
    counts = rng.integers(1, 5, size=n_images)
    bags = np.concatenate([rng.permutation(len(CLASSES)) for _ in range(-(-int(counts.sum()) // len(CLASSES)))])
    labels = np.split(bags[: int(counts.sum())], np.cumsum(counts)[:-1])
    return [[CLASSES[int(k)] for k in ks] for ks in labels]


def _jpeg(image: Image.Image, orientation: int) -> bytes:
    """JPEG bytes of a displayed image as a phone stores it: pixels turned, the EXIF tag set."""
    stored = image.transpose(_TO_STORED[orientation]) if orientation != 1 else image
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"   # Make
    exif[0x0110] = "Phone 12"     # Model
    exif[0x0112] = orientation    # Orientation
    buf = BytesIO()
    stored.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def _xml(filename: str, image: Image.Image, boxes, names, truncated, folder: str, **overrides) -> bytes:
    width, height = overrides.pop("size", image.size)
    depth = 1 if image.mode in ("L", "I;16", "I") else 3   # LabelImg writes 1 for grayscale images
    text = voc_xml_string(filename, width, height, boxes, names, depth=depth, folder=folder,
                          path=f"{_WINDOWS_FOLDER}\\{filename}", truncated=truncated)
    return text.encode("utf-8")


def make_phone_folder(root, n_images: int = 200, seed: int = 0, *, overwrite: bool = False,
                      progress: bool = False) -> dict:
    """Write a LabelImg folder of ``n_images`` phone photos of Batman scenes (see the module docstring).

    Parameters
    ----------
    root : output folder (images and XML files side by side, as LabelImg saves them)
    n_images : labelled photos (at least 12: the problem files use the first ones), plus the
        unlabelled and deleted ones of :data:`PLANTED`
    seed : everything follows from it: the same seed gives byte-identical files
    overwrite : redraw even when ``root`` already holds this folder (its ``phone_folder.json``)
    progress : show a tqdm progress bar

    Returns
    -------
    dict with ``root``, ``n_images``, ``orientations`` ({orientation: photos}), ``formats``
    ({"JPEG": n, "PNG": n, "grayscale": n}) and ``planted`` (:data:`PLANTED`).

    Raises
    ------
    ValueError for ``n_images < 12``; FileExistsError when ``root`` is a non-empty folder that
    this function did not write.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 12:
        raise ValueError(f"n_images must be an integer >= 12 (the problem files use the first photos), got {n_images!r}")
    root = Path(root)
    params = {"version": PHONE_FOLDER_VERSION, "n_images": int(n_images), "seed": int(seed)}
    meta_path = root / "phone_folder.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == params and not overwrite:
            return {"root": root, **meta["summary"]}
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no generated phone folder; choose another folder")
    root.mkdir(parents=True, exist_ok=True)
    folder = _WINDOWS_FOLDER.rsplit("\\", 1)[-1]  # LabelImg writes the image folder's name (the labeller's)
    bags = _bags(int(n_images) + 3, seed)
    orientations: dict[int, int] = {}
    formats = {"JPEG": 0, "PNG": 0, "grayscale": 0}
    iterator = range(1, int(n_images) + 1)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="taking phone photos", unit="photo")
    for i in iterator:
        image, boxes, names, truncated, orientation, rng = _scene(i, seed, bags[i - 1], 6 if i == 3 else None)
        stem = f"IMG_{i:04d}"
        kind = rng.random()
        if i == 8:  # a 16-bit grayscale scan
            gray = np.asarray(image.convert("L"), dtype=np.uint16) * 257
            Image.fromarray(gray).save(root / f"{stem}.png")
            image, orientation, ext = Image.fromarray(gray), 1, ".png"
            formats["PNG"] += 1
            formats["grayscale"] += 1
        elif kind < 0.12 and i != 3:  # a screenshot: PNG, no EXIF
            image.save(root / f"{stem}.png")
            orientation, ext = 1, ".png"
            formats["PNG"] += 1
        else:
            if kind > 0.9:
                image = image.convert("L")
                formats["grayscale"] += 1
            data = _jpeg(image, orientation)
            if i == 4:
                data = data[: len(data) * 3 // 5]   # the copy stopped part-way
            (root / f"{stem}.jpg").write_bytes(data)
            ext = ".jpg"
            formats["JPEG"] += 1
        orientations[orientation] = orientations.get(orientation, 0) + 1
        filename = stem + ext
        if i == 3:  # labelled on the stored (sideways) pixels by a tool that ignored EXIF
            w, h = image.size
            xml = _xml(filename, image, _stored_boxes(boxes, w, h), names, None, folder, size=(h, w))
        elif i == 7:
            xml = _xml(filename, image, np.zeros((0, 4)), [], None, folder)
        else:
            xml = _xml(filename, image, boxes, names, truncated, folder)
        if i == 5 and names:
            xml = xml.replace(f"<name>{names[0]}</name>".encode(), b"<name>Batman_face</name>", 1)
        if i == 6 and len(boxes):
            x2 = int(round(boxes[0][2]))
            xml = xml.replace(f"<xmax>{x2}</xmax>".encode(), f"<xmax>{image.size[0] + 25}</xmax>".encode(), 1)
        (root / f"{stem}.xml").write_bytes(xml)
        if i == 2:
            (root / f"{stem} - Copy.xml").write_bytes(xml)
    for k, stem in enumerate(("IMG_9001", "IMG_9002", "IMG_9003")):
        image, boxes, names, truncated, orientation, _ = _scene(9001 + k, seed, bags[int(n_images) + k])
        if stem == "IMG_9001":  # the photo was deleted; its XML stays
            (root / f"{stem}.xml").write_bytes(_xml(f"{stem}.jpg", image, boxes, names, truncated, folder))
        else:
            (root / f"{stem}.jpg").write_bytes(_jpeg(image, orientation))
    summary = {"n_images": int(n_images), "orientations": {str(k): v for k, v in sorted(orientations.items())},
               "formats": formats, "planted": PLANTED}
    meta_path.write_text(json.dumps({"params": params, "summary": summary}, indent=1, sort_keys=True) + "\n")
    return {"root": root, **summary}


def _xml_folder(top: Path) -> Path | None:
    """The shallowest folder under ``top`` that holds LabelImg XML files or a VOC ``Annotations/``."""
    for folder in sorted([top, *(p for p in top.rglob("*") if p.is_dir())], key=lambda p: (len(p.parts), str(p))):
        if "__MACOSX" in folder.parts:
            continue
        if (folder / "Annotations").is_dir() or any(folder.glob("*.xml")):
            return folder
    return None


def extract_zip(zip_path, out_dir) -> Path:
    """Unpack a zip of labelled photos into ``out_dir`` and return the folder holding the XML files.

    Members with absolute paths or ``..`` (which would write outside ``out_dir``) are refused, and
    macOS's ``__MACOSX`` metadata is skipped. Raises ``ValueError`` when the zip holds no XML file.
    """
    import zipfile

    zip_path, out_dir = Path(zip_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.infolist():
            name = member.filename
            if name.startswith("__MACOSX/") or member.is_dir():
                continue
            target = (out_dir / name).resolve()
            if Path(name).is_absolute() or not target.is_relative_to(base):
                raise ValueError(f"{zip_path.name}: member {name!r} would be written outside {out_dir.name}/; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(member))
    folder = _xml_folder(out_dir)
    if folder is None:
        raise ValueError(f"{zip_path.name}: no XML annotation file inside; label the photos with LabelImg "
                         "(Pascal VOC mode) and zip the folder with the images and their XML files")
    return folder


def open_photo_folder(source, work_dir, *, n_images: int = 200, seed: int = 0, progress: bool = False
                      ) -> tuple[Path, str]:
    """The folder notebook 07 audits, and one line saying what it is.

    Parameters
    ----------
    source : None (a generated phone folder, :func:`make_phone_folder`, in ``work_dir``), a folder of
        photos labelled with LabelImg (XML beside the images, or the VOC layout), a ``.zip`` of one
        (unpacked into ``work_dir``), or a folder on Google Drive (``/content/drive/...``: mounted
        first on Colab)
    work_dir : where generated and unpacked folders go
    """
    work_dir = Path(work_dir)
    if source is None:
        s = make_phone_folder(work_dir / "phone_folder", n_images, seed, progress=progress)
        return s["root"], (f"no folder set: a generated phone folder of {s['n_images']} labelled Batman photos "
                           f"(+ {len(PLANTED)} planted problem files), seed {seed}")
    source = Path(source).expanduser()
    if str(source).startswith("/content/drive"):
        from helpers.env import in_colab

        if in_colab() and not Path("/content/drive/MyDrive").is_dir():
            from google.colab import drive

            drive.mount("/content/drive")
    if source.suffix.lower() == ".zip" and source.is_file():
        folder = extract_zip(source, work_dir / source.stem)
        return folder, f"your zip {source.name}, unpacked: {folder.relative_to(work_dir)}"
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such folder or .zip file; set PHOTOS to the folder LabelImg saved "
                                "its XML files in (or a .zip of it), or to None for the generated phone folder")
    return source, f"your folder {source.name}/"
