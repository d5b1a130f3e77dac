"""Pascal VOC annotations as LabelImg writes them: read, write, validate, list, export to COCO.

One XML file per image (``Annotations/<name>.xml``), laid out exactly like LabelImg's
``libs/pascal_voc_io.py`` ``PascalVocWriter``: ``folder``, ``filename``, ``path``,
``source/database`` ("Unknown"), ``size`` (``width``, ``height``, ``depth``), ``segmented`` (0),
then one ``object`` per box (``name``, ``pose`` "Unspecified", ``truncated``, ``difficult``,
``bndbox`` with integer ``xmin ymin xmax ymax``), pretty-printed with one tab per level, no XML
declaration, UTF-8.

Pixel convention (the one thing to get right)
---------------------------------------------
VOC coordinates are **1-based, inclusive pixel indices**: ``xmin=1`` is the first pixel column,
``xmax=width`` the last, so a box covering the whole image is ``(1, 1, width, height)``. LabelImg
follows it at the edges: its ``convert_points_to_bnd_box`` clamps ``xmin``/``ymin`` below 1 up to
1 and truncates the corners to ``int``, its canvas keeps points inside ``[0, width]``, and its
writer marks an object ``truncated`` when ``xmin == 1``, ``ymin == 1``, ``xmax == width`` or
``ymax == height``.

Internally (everywhere in ``helpers``) boxes are ``xyxy`` float pixel *edges*: ``x1 = 0`` is the
left edge of the image, ``x2 = width`` its right edge, the box's width is ``x2 - x1`` (no "+1").
The conversion is the one Detectron2 uses for VOC::

    read : x1 = xmin - 1,  y1 = ymin - 1,  x2 = xmax,  y2 = ymax
    write: xmin = round(x1) + 1,  ymin = round(y1) + 1,  xmax = round(x2),  ymax = round(y2)

so pixel columns ``c0..c1`` (0-based, inclusive) become ``x1 = c0, x2 = c1 + 1`` and are written
as ``xmin = c0 + 1, xmax = c1 + 1``. Integer boxes round-trip exactly; non-integer boxes are
rounded to whole pixels on write (LabelImg files hold integers). (Inside the image, LabelImg
writes ``int()`` of a corner's continuous canvas position, so a box drawn by hand comes back within
one pixel of where it was drawn: below any labeller's precision.)

Bad input raises :class:`VOCFormatError` (a ``ValueError``) naming the file and the problem;
nothing is skipped silently. The writer refuses what the reader refuses, with the same messages
(one set of checks serves both). A dataset folder is untrusted input: every path derived from an
annotation (``<filename>``) or a split file line must stay inside the dataset folder (absolute
paths and ``..`` that leave it are refused), and class numbering never depends on one file:
labels are ``classes.index(name) + 1`` for the ``classes`` given, or for the sorted class names
of the whole folder (:func:`folder_classes`) when ``classes=None``.

What a phone folder holds
-------------------------
Images are read by :func:`load_rgb` as LabelImg displays them: the EXIF orientation applied
(LabelImg's ``QImageReader.setAutoTransform(True)``, so boxes drawn there are in the displayed
frame), 16-bit images scaled to 8 bits (not clipped), grayscale, palette and RGBA converted to RGB.
Split files are decoded as UTF-8 with or without a BOM, or UTF-16/32 with a BOM (what Windows
tools write); anything else is a :class:`VOCFormatError` naming the file. Class names are read in
Unicode NFC form, so "café" typed on two systems (NFC and NFD) is one class; :func:`folder_classes`
says when a folder mixes the two. Two annotation files for one image (``a.xml`` and
``a - Copy.xml``) are refused by :func:`read_split`, naming both.
"""

from __future__ import annotations

import json
import numbers
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

# defusedxml (a declared dependency) refuses entity-expansion bombs and external entities in
# files a learner downloads; same API as xml.etree
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import parse as _parse_xml

#: The Batman dataset's classes. A torchvision detector sees them as labels 1..5
#: (``CLASSES.index(name) + 1``); label 0 is reserved for the background.
CLASSES: tuple[str, ...] = ("batman_face", "bat_symbol", "robin_face", "robin_symbol", "joker_face")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP")
SPLITS = ("train", "val", "test")


class VOCFormatError(ValueError):
    """A dataset file (VOC annotation, split list, image) or folder that cannot be used; the
    message names the file."""


# ---------------------------------------------------------------------------------------------
# checks shared by the reader and the writer (same refusals, same messages)
# ---------------------------------------------------------------------------------------------
def check_classes(classes, name: str = "classes") -> tuple[str, ...]:
    """``classes`` as a tuple of distinct, non-empty class names (a single string is refused)."""
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise TypeError(f"{name} must be a list or tuple of class names, got {type(classes).__name__} {classes!r}")
    out = tuple(classes)
    bad = [c for c in out if not isinstance(c, str) or not c.strip() or c != c.strip()]
    if bad:
        raise ValueError(f"{name} must be non-empty strings without surrounding spaces, got {bad[0]!r}")
    nfc = tuple(unicodedata.normalize("NFC", c) for c in out)  # annotation names are read as NFC
    if len(set(nfc)) != len(nfc):
        dup = next(c for i, c in enumerate(nfc) if c in nfc[:i])
        twins = " (twice in two Unicode forms, NFC and NFD, that print the same)" if len(set(out)) == len(out) else ""
        raise ValueError(f"{name} lists {dup!r} more than once{twins}")
    return nfc


def _control_char(text: str, allow: str = "") -> str | None:
    """The first control character (or code point XML 1.0 cannot hold) of ``text``, if any."""
    return next((c for c in text if c not in allow and (unicodedata.category(c) in ("Cc", "Cs")
                                                         or c in "\ufffe\uffff")), None)


def _check_text(text, tag: str, path, where: str = "") -> str:
    """A required text field (``<filename>``, ``<name>``): non-empty, no control characters."""
    if not isinstance(text, str):
        raise VOCFormatError(f"{path}: <{tag}> must be a string, got {type(text).__name__} {text!r}{where}")
    text = text.strip()
    if not text:
        raise VOCFormatError(f"{path}: missing <{tag}>{where}")
    bad = _control_char(text)
    if bad is not None:
        raise VOCFormatError(f"{path}: <{tag}> contains the control character {bad!r}: {text!r}{where}")
    return text


def _check_number(text, tag: str, path, where: str = "") -> float:
    """A numeric field (text or number) as a finite float."""
    try:
        if isinstance(text, bool) or not isinstance(text, (str, numbers.Real)):
            raise TypeError
        value = float(text)
    except (TypeError, ValueError):
        raise VOCFormatError(f"{path}: <{tag}> is not a number: {text!r}{where}") from None
    if not np.isfinite(value):
        raise VOCFormatError(f"{path}: <{tag}> is not a finite number: {text!r}{where}")
    return value


def _check_size(width: float, height: float, path) -> tuple[int, int]:
    if width != int(width) or height != int(height) or width < 1 or height < 1:
        raise VOCFormatError(f"{path}: image size must be positive integers, got {width:g} x {height:g}")
    return int(width), int(height)


def _check_class(name: str, k: int, classes, path) -> None:
    if classes is not None and name not in classes:
        raise VOCFormatError(f"{path}: unknown class {name!r} in object {k}; known classes: {', '.join(classes)}")


def _check_box(xmin, ymin, xmax, ymax, width: int, height: int, path, where: str) -> None:
    """A VOC box (1-based inclusive pixel indices) inside a ``width`` x ``height`` image."""
    if xmax < xmin or ymax < ymin:
        raise VOCFormatError(
            f"{path}: empty box{where}: xmin={xmin:g} ymin={ymin:g} xmax={xmax:g} ymax={ymax:g} "
            "(needs xmax >= xmin and ymax >= ymin)"
        )
    if xmin < 1 or ymin < 1 or xmax > width or ymax > height:
        raise VOCFormatError(
            f"{path}: box outside the {width}x{height} image{where}: xmin={xmin:g} ymin={ymin:g} "
            f"xmax={xmax:g} ymax={ymax:g} (VOC coordinates are 1-based: 1 <= xmin, xmax <= width)"
        )


def _xml_safe(text, tag: str, path) -> None:
    """An optional text field the writer stores: XML 1.0 cannot hold control characters."""
    if text is None:
        return
    if not isinstance(text, str):
        raise VOCFormatError(f"{path}: <{tag}> must be a string, got {type(text).__name__} {text!r}")
    bad = _control_char(text, allow="\t\n\r")
    if bad is not None:
        raise VOCFormatError(f"{path}: <{tag}> contains the control character {bad!r}, which XML cannot hold")


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _text(parent: ET.Element, tag: str, path, where: str = "") -> str:
    node = parent.find(tag)
    return _check_text("" if node is None or node.text is None else node.text, tag, path, where)


def _number(parent: ET.Element, tag: str, path, where: str = "") -> float:
    node = parent.find(tag)
    if node is None or node.text is None or not node.text.strip():
        raise VOCFormatError(f"{path}: missing <{tag}>{where}")
    return _check_number(node.text.strip(), tag, path, where)


def _flag(parent: ET.Element, tag: str, path, where: str) -> bool:
    node = parent.find(tag)
    if node is None or node.text is None or not node.text.strip():
        return False  # optional in VOC; LabelImg always writes both
    text = node.text.strip()
    if text not in ("0", "1"):
        raise VOCFormatError(f"{path}: <{tag}> must be 0 or 1, got {text!r}{where}")
    return text == "1"


def read_voc_xml(path, classes: Sequence[str] | None = CLASSES) -> dict:
    """Read one Pascal VOC / LabelImg XML file and validate it.

    Parameters
    ----------
    path : str or Path
        The XML file.
    classes : sequence of str or None
        Known class names; an object with another name raises. ``None`` accepts any name and
        gives no ``labels``: numbering needs the classes of the whole folder, not of one file
        (:func:`read_split` with ``classes=None`` derives them once, see :func:`folder_classes`).

    Returns
    -------
    dict with keys
        ``filename`` (str, the image file name), ``folder`` (str or None), ``path`` (str or None),
        ``width``, ``height``, ``depth`` (int), ``boxes`` (float64 array (N, 4), ``xyxy`` pixel
        edges, see the module docstring), ``names`` (list of N str), ``labels`` (int64 array (N,),
        ``classes.index(name) + 1``; only when ``classes`` is given), ``difficult`` and
        ``truncated`` (bool arrays (N,)), ``non_nfc_names`` (the names as written in the file
        that were not in Unicode NFC form; ``names`` holds their NFC form).

    Raises
    ------
    VOCFormatError
        Malformed XML, a missing field, a non-numeric or non-finite coordinate, an unknown class
        (the message lists the known ones), a box outside the image, ``xmax < xmin`` or
        ``ymax < ymin`` (internally ``x2 <= x1`` or ``y2 <= y1``). The message names the file.
    """
    path = Path(path)
    if classes is not None:
        classes = check_classes(classes)
    if not path.is_file():
        raise VOCFormatError(f"{path}: no such annotation file")
    try:
        root = _parse_xml(path).getroot()
    except ParseError as err:
        raise VOCFormatError(f"{path}: malformed XML ({err})") from None
    except Exception as err:  # defusedxml's refusals (entities, DTDs) and decoding errors
        raise VOCFormatError(f"{path}: unreadable XML ({type(err).__name__}: {err})") from None
    if root.tag != "annotation":
        raise VOCFormatError(f"{path}: root element is <{root.tag}>, expected <annotation>")

    filename = _text(root, "filename", path)
    size = root.find("size")
    if size is None:
        raise VOCFormatError(f"{path}: missing <size>")
    width, height = _number(size, "width", path, " in <size>"), _number(size, "height", path, " in <size>")
    depth_node = size.find("depth")
    depth = int(_number(size, "depth", path, " in <size>")) if depth_node is not None and (depth_node.text or "").strip() else 3
    width, height = _check_size(width, height, path)

    boxes, names, difficult, truncated = [], [], [], []
    renamed = []
    for k, obj in enumerate(root.findall("object")):
        name = _text(obj, "name", path, f" in object {k}")
        if unicodedata.normalize("NFC", name) != name:  # "café" typed as e + combining accent (NFD)
            renamed.append(name)
            name = unicodedata.normalize("NFC", name)
        where = f" in object {k} ({name})"
        _check_class(name, k, classes, path)
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise VOCFormatError(f"{path}: missing <bndbox>{where}")
        xmin, ymin, xmax, ymax = (_number(bndbox, t, path, where) for t in ("xmin", "ymin", "xmax", "ymax"))
        _check_box(xmin, ymin, xmax, ymax, width, height, path, where)
        boxes.append((xmin - 1.0, ymin - 1.0, xmax, ymax))
        names.append(name)
        difficult.append(_flag(obj, "difficult", path, where))
        truncated.append(_flag(obj, "truncated", path, where))

    folder, img_path = root.find("folder"), root.find("path")
    ann = {
        "filename": filename,
        "folder": folder.text if folder is not None else None,
        "path": img_path.text if img_path is not None else None,
        "width": width,
        "height": height,
        "depth": depth,
        "boxes": np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        "names": names,
        "difficult": np.asarray(difficult, dtype=bool),
        "truncated": np.asarray(truncated, dtype=bool),
        "non_nfc_names": renamed,
    }
    if classes is not None:
        ann["labels"] = np.asarray([classes.index(n) + 1 for n in names], dtype=np.int64)
    return ann


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, text) -> ET.Element:
    node = ET.SubElement(parent, tag)
    node.text = str(text)
    return node


def voc_xml_string(filename: str, width: int, height: int, boxes, names: Sequence[str], *,
                   depth: int = 3, folder: str = "JPEGImages", path: str | None = None,
                   difficult=None, truncated=None, classes: Sequence[str] | None = None,
                   source=None) -> str:
    """The text :func:`write_voc_xml` writes (see there); no file is touched.

    ``source`` names the file in error messages (default: ``filename``).
    """
    where_file = filename if source is None else source
    filename = _check_text(filename, "filename", where_file)
    width, height = _check_size(_check_number(width, "width", where_file, " in <size>"),
                                _check_number(height, "height", where_file, " in <size>"), where_file)
    depth = int(_check_number(depth, "depth", where_file, " in <size>"))
    _xml_safe(folder, "folder", where_file)
    _xml_safe(path, "path", where_file)
    if classes is not None:
        classes = check_classes(classes)
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise TypeError(f"{where_file}: names must be a list of class names (one per box), got "
                        f"{type(names).__name__} {names!r}")
    try:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError):
        raise ValueError(f"{where_file}: boxes must be numbers of shape (N, 4) xyxy, got {boxes!r}") from None
    if len(names) != len(boxes):
        raise ValueError(f"{where_file}: {len(boxes)} boxes but {len(names)} names")
    # whole pixels, as LabelImg stores them, in VOC's 1-based inclusive indices
    corners = np.rint(boxes) + np.array([1.0, 1.0, 0.0, 0.0])
    names = list(names)
    for k in range(len(boxes)):
        names[k] = unicodedata.normalize("NFC", _check_text(names[k], "name", where_file, f" in object {k}"))
        where = f" in object {k} ({names[k]})"
        _check_class(names[k], k, classes, where_file)
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners[k], strict=True):
            _check_number(f"{value:g}", tag, where_file, where)  # as the reader sees the text
        _check_box(*corners[k], width, height, where_file, where)
    xmin, ymin, xmax, ymax = corners.astype(np.int64).T
    n = len(boxes)
    difficult = np.zeros(n, bool) if difficult is None else np.asarray(difficult, bool).reshape(n)
    if truncated is None:  # LabelImg's rule: the box touches an image border
        truncated = (ymax == height) | (ymin == 1) | (xmax == width) | (xmin == 1)
    truncated = np.asarray(truncated, bool).reshape(n)

    top = ET.Element("annotation")
    _sub(top, "folder", folder)
    _sub(top, "filename", filename)
    if path is not None:
        _sub(top, "path", path)
    _sub(ET.SubElement(top, "source"), "database", "Unknown")
    size = ET.SubElement(top, "size")
    _sub(size, "width", width)
    _sub(size, "height", height)
    _sub(size, "depth", int(depth))
    _sub(top, "segmented", 0)
    for k in range(n):
        obj = ET.SubElement(top, "object")
        _sub(obj, "name", names[k])
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", int(truncated[k]))
        _sub(obj, "difficult", int(difficult[k]))
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (xmin[k], ymin[k], xmax[k], ymax[k]), strict=True):
            _sub(bndbox, tag, int(value))
    # LabelImg pretty-prints with lxml (two spaces, then replaced by a tab) and no declaration.
    ET.indent(top, space="\t")
    return ET.tostring(top, encoding="unicode") + "\n"


def write_voc_xml(xml_path, filename: str, width: int, height: int, boxes, names: Sequence[str], *,
                  depth: int = 3, folder: str = "JPEGImages", path: str | None = None,
                  difficult=None, truncated=None, classes: Sequence[str] | None = None) -> Path:
    """Write one annotation file exactly as LabelImg does.

    It refuses what :func:`read_voc_xml` refuses, with the same messages (naming ``xml_path``):
    an empty file name or class name, control characters, a size that is not positive integers,
    a box that is empty or outside the image after rounding, a name not in ``classes``.

    Parameters
    ----------
    xml_path : str or Path
        Where to write (parent folders are created).
    filename : str
        The image file name (``<filename>``).
    width, height, depth : int
        Image size.
    boxes : array-like (N, 4)
        ``xyxy`` pixel edges (internal convention); written as 1-based integers, see the module
        docstring. Must lie inside the image and be non-empty after rounding.
    names : sequence of N str
        Class names.
    folder, path : str
        ``<folder>`` (LabelImg: the image's folder name) and ``<path>`` (LabelImg: the image's
        absolute path; ``None`` leaves the element out, which readers accept).
    difficult, truncated : array-like (N,) of bool, optional
        Default ``difficult`` 0; default ``truncated`` follows LabelImg: 1 when the box touches an
        image border.
    classes : sequence of str, optional
        Known class names (as ``read_voc_xml``'s ``classes``); ``None`` accepts any name.

    Returns
    -------
    Path of the written file.
    """
    xml_path = Path(xml_path)
    text = voc_xml_string(filename, width, height, boxes, names, depth=depth, folder=folder, path=path,
                          difficult=difficult, truncated=truncated, classes=classes, source=xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    xml_path.write_bytes(text.encode("utf-8"))
    return xml_path


# ---------------------------------------------------------------------------------------------
# folders: VOC layout or a LabelImg folder
# ---------------------------------------------------------------------------------------------
def annotation_files(root, split: str | None = None) -> list[Path]:
    """The XML files of a dataset folder, in a fixed order.

    Two layouts are accepted:

    * Pascal VOC: ``root/Annotations/*.xml`` (+ ``root/JPEGImages/``), with optional
      ``root/ImageSets/Main/<split>.txt`` (one image id per line, no extension). ``split=None``
      takes every XML file, sorted by name.
    * A LabelImg folder: images and their XML files side by side in ``root`` (LabelImg's default
      save location); a split then reads ``root/ImageSets/Main/<split>.txt`` too, its ids naming
      the XML files in ``root`` (what :func:`helpers.folder_audit.write_split` writes).

    Images that have no XML file are not part of the dataset (LabelImg writes no file for an
    image you never saved); an id listed in a split file without its XML raises, and so does an
    id that is an absolute path or leads outside ``root`` (e.g. ``../../elsewhere/x``).
    """
    root = Path(root)
    if not root.is_dir():
        raise VOCFormatError(f"{root}: no such dataset folder")
    ann_dir = root / "Annotations"
    if split is None:
        folder = ann_dir if ann_dir.is_dir() else root
        files = sorted(folder.glob("*.xml"))
        if not files:
            raise VOCFormatError(f"{root}: no XML annotation files (looked in {folder})")
        return files
    split_file = root / "ImageSets" / "Main" / f"{split}.txt"
    if not ann_dir.is_dir():  # a LabelImg folder: the XML files beside the images
        ann_dir = root
    if not split_file.is_file():
        raise VOCFormatError(f"{root}: split {split!r} needs {split_file}; pass split=None to use every XML file")
    # one id per line; VOC's per-class lists add a flag after it ("id  1"), but an id may hold spaces
    ids = [line.strip() if (ann_dir / f"{line.strip()}.xml").is_file() else line.split()[0]
           for line in read_text_file(split_file).splitlines() if line.strip()]
    files = [inside_root(ann_dir, f"{i}.xml", root, split_file, "image id") for i in ids]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise VOCFormatError(f"{split_file}: {len(missing)} listed ids have no annotation file, e.g. {missing[0]}")
    return files


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xef\xbb\xbf", "utf-8-sig"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def read_text_file(path) -> str:
    """The text of a split (or other list) file, whatever encoding a Windows tool gave it.

    UTF-8 with or without a byte-order mark (Notepad's "UTF-8 with BOM"), and UTF-16 or UTF-32
    with a BOM (PowerShell 5.1's ``echo a > train.txt`` writes UTF-16 LE) are decoded; anything
    else (UTF-16 without a BOM, Latin-1 with accents, binary) raises :class:`VOCFormatError`
    naming the file and what to do.
    """
    path = Path(path)
    data = path.read_bytes()
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise VOCFormatError(f"{path}: cannot be read as {encoding.upper()} ({err.reason} at byte {err.start}); "
                             "save it as UTF-8 (any editor's 'Save as... UTF-8')") from None
    if "\x00" in text:
        raise VOCFormatError(f"{path}: contains NUL characters, as UTF-16 text without a byte-order mark does; "
                             "save it as UTF-8")
    return text


def inside_root(base: Path, value: str, root, source, what: str) -> Path:
    """``base / value``, refused unless it stays inside the dataset folder ``root``.

    ``value`` comes from a file a learner did not necessarily write (an annotation's
    ``<filename>``, a split file line), so an absolute path, or one whose resolved location
    (``..`` and symbolic links followed) is outside ``root``, raises :class:`VOCFormatError`
    naming ``source`` (the file the value was read from), the value and the root.
    """
    root = Path(root)
    if _control_char(value) is not None:
        raise VOCFormatError(f"{source}: {what} {value!r} contains a control character; it cannot name a file")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive:
        raise VOCFormatError(f"{source}: {what} {value!r} is an absolute path; paths in a dataset must be "
                             f"relative and stay inside the dataset folder {root}")
    path = Path(base) / value
    if not path.resolve().is_relative_to(root.resolve()):
        raise VOCFormatError(f"{source}: {what} {value!r} leads outside the dataset folder {root}; paths in a "
                             "dataset must stay inside it")
    return path


def _dataset_root(xml_path: Path) -> Path:
    """The dataset folder of an annotation file: above ``Annotations/`` (VOC), else its own folder."""
    folder = xml_path.parent
    return folder.parent if folder.name == "Annotations" else folder


def image_path_for(xml_path, ann: dict, root=None) -> Path:
    """Where the image of annotation ``ann`` (read from ``xml_path``) is.

    Tried in order: ``<root>/JPEGImages/<filename>`` (VOC), next to the XML file (LabelImg),
    then the XML's own name with an image extension next to it or in ``JPEGImages``. The image
    must be inside the dataset folder ``root`` (default: the folder above ``Annotations/``, or
    the XML file's folder): an absolute ``<filename>`` or one that leads outside raises.
    """
    xml_path = Path(xml_path)
    folder = xml_path.parent
    root = _dataset_root(xml_path) if root is None else Path(root)
    voc_images = folder.parent / "JPEGImages" if folder.name == "Annotations" else folder / "JPEGImages"
    candidates = [inside_root(base, ann["filename"], root, xml_path, "<filename>") for base in (voc_images, folder)]
    for ext in IMAGE_EXTENSIONS:
        candidates += [voc_images / (xml_path.stem + ext), folder / (xml_path.stem + ext)]
    for c in candidates:
        if c.is_file() and c.resolve().is_relative_to(Path(root).resolve()):  # a link out of root is not used
            return c
    raise VOCFormatError(f"{xml_path}: image {ann['filename']!r} not found (looked in {voc_images} and {folder})")


def folder_classes(root, verbose: bool = True) -> tuple[str, ...]:
    """The class names used anywhere in a dataset folder, sorted: the numbering for ``classes=None``.

    Derived once from every annotation file of the folder (all splits), so the same class has
    the same label in every file and every split; printed (``verbose``) so the numbering is
    seen, and can be passed as ``classes=`` from then on.
    """
    names, non_nfc = set(), {}
    for xml_path in annotation_files(root, None):
        ann = read_voc_xml(xml_path, None)
        names.update(ann["names"])
        for raw in ann["non_nfc_names"]:
            non_nfc.setdefault(unicodedata.normalize("NFC", raw), xml_path)
    if not names:
        raise VOCFormatError(f"{root}: no objects in any annotation file, so no classes to number; pass classes=")
    found = tuple(sorted(names))
    if verbose:
        print(f"classes=None: {len(found)} classes found in the folder, labels 1..{len(found)}: {', '.join(found)}")
        for name, xml_path in sorted(non_nfc.items()):
            print(f"note: {name!r} is written in Unicode NFD form (a letter + a combining accent) in {xml_path.name}"
                  " (the first such file); read as its NFC form, so both spellings are one class")
    return found


def resolve_classes(root, classes) -> tuple[str, ...]:
    """``classes`` checked, or :func:`folder_classes` of ``root`` when ``None``."""
    return folder_classes(root) if classes is None else check_classes(classes)


def read_split(root, split: str | None = None, classes: Sequence[str] | None = CLASSES) -> list[dict]:
    """Read and validate every annotation of a split (see :func:`annotation_files`).

    ``classes=None`` numbers the classes of the whole folder (:func:`folder_classes`, printed).
    Each dict is :func:`read_voc_xml`'s, plus ``xml_path`` and ``image_path`` (``Path``, inside
    ``root``, see :func:`image_path_for`). Two annotation files for one image raise
    :class:`VOCFormatError` naming both.
    """
    classes = resolve_classes(root, classes)
    records, owner = [], {}
    for xml_path in annotation_files(root, split):
        ann = read_voc_xml(xml_path, classes)
        ann["xml_path"] = xml_path
        ann["image_path"] = image_path_for(xml_path, ann, root)
        first = owner.setdefault(ann["image_path"].resolve(), xml_path)
        if first != xml_path:
            raise VOCFormatError(duplicate_message(first, xml_path, ann["image_path"]))
        records.append(ann)
    return records


def duplicate_message(first, second, image_path) -> str:
    """Why two annotation files for one image are refused (a copy such as ``a - Copy.xml``).

    The file named like the image (``a.xml`` for ``a.jpg``) is called the original, whichever was
    read first, so that the learner is told to delete the copy.
    """
    if Path(second).stem == Path(image_path).stem != Path(first).stem:
        first, second = second, first
    return (f"{second}: a second annotation file for {Path(image_path).name}, already annotated by "
            f"{Path(first).name}; its objects would be counted twice (and a split could put the copies in "
            "train and val). Delete the copy you do not want.")


def class_counts(root, split: str | None = None, classes: Sequence[str] | None = CLASSES) -> dict[str, int]:
    """Number of objects of each class in a split: ``{name: count}`` in ``classes`` order
    (``None``: the folder's classes, :func:`folder_classes`)."""
    classes = resolve_classes(root, classes)
    counts = dict.fromkeys(classes, 0)
    for ann in read_split(root, split, classes):
        for name in ann["names"]:
            counts[name] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# COCO export
# ---------------------------------------------------------------------------------------------
def voc_to_coco(root, split: str | None = None, classes: Sequence[str] | None = CLASSES) -> dict:
    """A split of a VOC folder as a COCO-format ground-truth dict (what ``pycocotools`` reads).

    Image ids are ``1..N`` in :func:`annotation_files` order: the same ``image_id`` that
    ``VOCDetectionDataset(root, split)`` returns for item ``i`` (``i + 1``). Category ids are
    ``1..len(classes)``, the torchvision labels. ``bbox`` is ``[x, y, w, h]`` in pixel edges
    (``x = x1``, ``w = x2 - x1``, see the module docstring); ``area = w * h``; ``iscrowd`` 0.
    VOC ``difficult`` is kept as an extra ``difficult`` field (pycocotools ignores it).
    ``classes=None``: the folder's classes (:func:`folder_classes`).
    """
    classes = resolve_classes(root, classes)
    images, annotations = [], []
    for image_id, ann in enumerate(read_split(root, split, classes), start=1):
        images.append({"id": image_id, "file_name": ann["filename"], "width": ann["width"], "height": ann["height"]})
        for box, label, difficult in zip(ann["boxes"], ann["labels"], ann["difficult"], strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(label),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0,
                "difficult": int(difficult),
            })
    categories = [{"id": i + 1, "name": name, "supercategory": "batman"} for i, name in enumerate(classes)]
    return {"info": {"description": f"{Path(root).name} {split or 'all'}"}, "images": images,
            "annotations": annotations, "categories": categories}


def write_coco_json(coco: dict, path) -> Path:
    """Write a COCO dict (e.g. from :func:`voc_to_coco`) as JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco, indent=1) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# images as LabelImg shows them
# ---------------------------------------------------------------------------------------------
#: EXIF orientation -> what the camera's viewer (and LabelImg) does to the stored pixels.
ORIENTATIONS = {1: "as stored", 2: "mirrored left-right", 3: "rotated 180 degrees", 4: "mirrored top-bottom",
                5: "mirrored and rotated 90 degrees", 6: "rotated 90 degrees clockwise",
                7: "mirrored and rotated 90 degrees", 8: "rotated 90 degrees counter-clockwise"}


def exif_orientation(image) -> int:
    """The EXIF orientation (1..8) of an open PIL image; 1 (as stored) when absent or invalid."""
    try:
        value = int(image.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block: viewers show the image as stored
        return 1
    return value if value in ORIENTATIONS else 1


def _to_8bit_rgb(image, path):
    """RGB uint8 from any Pillow mode: 16-bit and 32-bit integer images scaled, not clipped."""
    from PIL import Image

    if image.mode.startswith("I;16") or image.mode == "I":
        arr = np.asarray(image, dtype=np.int64)
        top = 65535 if image.mode.startswith("I;16") or (arr.size and 0 <= arr.min() and arr.max() <= 65535) else None
        if top is None:
            raise VOCFormatError(f"{path}: a {image.mode} image with values {arr.min()}..{arr.max()} (not 16-bit); "
                                 "save it as an 8-bit (or 16-bit) PNG or a JPEG")
        gray = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)  # 65535 -> 255, as viewers show it
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "F":
        raise VOCFormatError(f"{path}: a 32-bit float image (mode F); LabelImg cannot show it either: "
                             "save it as an 8-bit PNG or a JPEG")
    return image.convert("RGB")


def load_rgb(path, size: tuple[int, int] | None = None, xml_path=None):
    """An image file as LabelImg displays it: a PIL RGB image, and its EXIF orientation.

    The EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), as LabelImg's image reader
    does before you draw: boxes in the annotation are in that displayed frame. 16-bit images (a
    PNG of mode ``I;16``/``I``) are scaled to 8 bits (``value * 255 / 65535``), not clipped;
    grayscale, palette and RGBA images become RGB.

    Parameters
    ----------
    path : the image file
    size : (width, height) the annotation's ``<size>`` says, checked against the displayed image
    xml_path : the annotation file, named in the messages

    Returns
    -------
    (image, orientation): a PIL ``RGB`` image and the EXIF orientation (1..8) that was applied.

    Raises
    ------
    VOCFormatError
        The file cannot be decoded, or its displayed size is not ``size``; when the EXIF
        orientation explains the mismatch (the stored size is ``size``: the boxes were drawn by
        a tool that ignored it) the message says so.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    of = f"; it is the image of {xml_path}" if xml_path is not None else ""
    try:
        with Image.open(path) as im:
            im.load()  # decodes: a truncated or corrupt file fails here
            orientation = exif_orientation(im)
            stored = im.size
            shown = ImageOps.exif_transpose(im) if orientation != 1 else im
            image = _to_8bit_rgb(shown, path)
    except VOCFormatError:
        raise
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
        raise VOCFormatError(f"{path}: cannot decode this image ({type(err).__name__}: {err}){of}") from err
    if size is not None and tuple(image.size) != tuple(size):
        where = xml_path if xml_path is not None else path
        msg = f"{where}: <size> says {size[0]}x{size[1]} but {path} is {image.width}x{image.height}"
        if orientation != 1 and tuple(stored) == tuple(size):
            msg += (f" as displayed: its EXIF orientation {orientation} ({ORIENTATIONS[orientation]}) turns the "
                    f"stored {stored[0]}x{stored[1]} pixels, and LabelImg (like a phone) shows and labels the "
                    "turned image. These boxes were drawn by a tool that ignored the EXIF orientation: "
                    "re-label the image in LabelImg, or save it without the orientation tag")
        elif orientation != 1:
            msg += f" (displayed with its EXIF orientation {orientation}, {ORIENTATIONS[orientation]})"
        raise VOCFormatError(msg)
    return image, orientation
