"""Audit a folder of labelled photos before training on it, and split it reproducibly.

:func:`audit_folder` reads every annotation and every image of a LabelImg folder (XML beside the
images) or a VOC folder (``Annotations/`` + ``JPEGImages/``) and returns one :class:`Audit`:
what is there (images, objects per class, image sizes, EXIF-rotated photos, formats) and every
problem, per file, without stopping at the first one. Each problem has a level:

* ``refused`` - training on the file would be wrong (the boxes are not where the objects are, the
  image cannot be read, the same objects would count twice, a misspelt class would become a class
  of its own): the file is left out, and the message says what to fix;
* ``warning`` - it trains, but look at it (boxes too small to learn at the input size, a class too
  rare to reach both train and val);
* ``note`` - handled, said once (an unlabelled photo, a 16-bit image scaled, a class name in
  Unicode NFD form, a photo with no boxes).

:func:`stratified_split` splits the usable images deterministically so that every class reaches
val (iterative stratification, Sechidis et al., ECML PKDD 2011), and :func:`write_split` writes it
as ``ImageSets/Main/<split>.txt`` for :class:`helpers.data.VOCDetectionDataset`.
NumPy + Pillow (matplotlib for :meth:`Audit.plot`).
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.voc import (
    IMAGE_EXTENSIONS,
    VOCFormatError,
    check_classes,
    duplicate_message,
    image_path_for,
    load_rgb,
    read_voc_xml,
)

LEVELS = ("refused", "warning", "note")


@dataclass(frozen=True)
class Problem:
    """One finding about one file: ``level`` is ``"refused"``, ``"warning"`` or ``"note"``."""

    file: str
    level: str
    message: str


@dataclass
class Audit:
    """What :func:`audit_folder` found. ``records`` are the usable annotations (as
    :func:`helpers.voc.read_voc_xml` returns them, plus ``xml_path``, ``image_path``, ``id``,
    ``orientation``, ``mode`` and ``format``); ``problems`` every finding, per file."""

    root: Path
    classes: tuple[str, ...]
    records: list[dict]
    problems: list[Problem]
    image_files: int
    xml_files: int
    image_size: int
    min_box_px: float
    extra: dict = field(default_factory=dict)

    def files(self, level: str) -> list[str]:
        """Names of the files with a problem of ``level``."""
        return sorted({p.file for p in self.problems if p.level == level})

    @property
    def counts(self) -> dict[str, int]:
        """Objects per class in the usable images."""
        c = Counter(n for r in self.records for n in r["names"])
        return {k: c.get(k, 0) for k in self.classes}

    def box_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(wh, labels): every usable box's width and height in pixels at the model's input size
        (``image_size`` square, as SSDlite resizes), and its class index."""
        wh, labels = [], []
        for r in self.records:
            scale = np.array([self.image_size / r["width"], self.image_size / r["height"]])
            wh.append((r["boxes"][:, 2:] - r["boxes"][:, :2]) * scale)
            labels += [self.classes.index(n) for n in r["names"]]
        return np.concatenate(wh).reshape(-1, 2) if wh else np.zeros((0, 2)), np.asarray(labels, dtype=int)

    def report(self, width: int = 100) -> str:
        """The audit as text: what is there, then every problem, per file (lines <= ``width``)."""
        recs = self.records
        head = [f"Audit of {self.root.name}/: {self.image_files} image files, {self.xml_files} annotation files"]
        n_obj = sum(len(r["names"]) for r in recs)
        refused = self.files("refused")
        head.append(f"  usable: {len(recs)} images, {n_obj} objects, {len(self.classes)} classes; "
                     f"refused: {len(refused)} files (left out, listed below)")
        head.append("  objects per class: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        sizes = Counter(f"{r['width']}x{r['height']}" for r in recs)
        head.append("  image sizes as displayed (w x h: images): "
                     + ", ".join(f"{s}: {n}" for s, n in sizes.most_common()))
        turned = Counter(r["orientation"] for r in recs if r["orientation"] != 1)
        head.append(f"  EXIF orientation applied, as LabelImg shows them: {sum(turned.values())} images"
                     + (" (" + ", ".join(f"orientation {k}: {v}" for k, v in sorted(turned.items())) + ")"
                        if turned else ""))
        fmt = Counter(r["format"] for r in recs)
        gray = sum(r["mode"] in ("L", "LA", "I;16", "I") for r in recs)
        head.append("  formats: " + ", ".join(f"{k} {v}" for k, v in sorted(fmt.items()))
                     + f"; grayscale {gray}; 16-bit {sum(r['mode'] in ('I;16', 'I') for r in recs)}")
        wh, _ = self.box_sizes()
        if len(wh):
            side = np.sqrt(wh.prod(axis=1))
            head.append(f"  box size at the {self.image_size} px input (sqrt of area): min {side.min():.0f}, "
                         f"median {np.median(side):.0f}, max {side.max():.0f} px")
        lines = [w for h in head for w in textwrap.wrap(h, width=width, subsequent_indent=" " * 4,
                                                        break_on_hyphens=False)]
        lines.append(f"Problems, per file ({len(self.problems)}; refused: left out of training; warning: look at it; "
                     "note: handled):")
        order = {lv: k for k, lv in enumerate(LEVELS)}
        for p in sorted(self.problems, key=lambda p: (order[p.level], p.file)):
            lines += textwrap.wrap(f"{p.level:8s} {p.file}: {p.message}", width=width, subsequent_indent=" " * 11,
                                   break_long_words=True, break_on_hyphens=False)
        if not self.problems:
            lines.append("  none")
        return "\n".join(lines)

    def plot(self, fig=None):
        """Objects per class (bars) and box sizes at the input size (scatter), one colour per class.

        8.8 inches wide (880 px at the course's 100 dpi, what GitHub shows unscaled)."""
        import matplotlib.pyplot as plt

        from helpers.viz import class_color

        if fig is None:
            fig = plt.figure(figsize=(8.8, 4.4))
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.15]})
        counts = self.counts
        names = list(counts)[::-1]  # first class on top
        ax1.barh(names, [counts[n] for n in names], color=[class_color(self.classes.index(n) + 1) for n in names])
        for y, n in enumerate(names):
            ax1.text(counts[n], y, f" {counts[n]}", va="center", fontsize=10)
        ax1.set_xlim(0, max(counts.values(), default=1) * 1.2 + 1)
        ax1.set_xlabel("objects (usable photos)")
        ax1.set_title("objects per class")
        wh, labels = self.box_sizes()
        for k, name in enumerate(self.classes):
            sel = labels == k
            ax2.scatter(wh[sel, 0], wh[sel, 1], s=14, alpha=0.7, color=class_color(k + 1), label=name)
        if self.min_box_px:
            ax2.axvline(self.min_box_px, color="0.5", lw=1, ls=":")
            ax2.axhline(self.min_box_px, color="0.5", lw=1, ls=":")
        ticks = [t for t in (4, 8, 16, 32, 64, 128, 256, 512) if t <= 2 * self.image_size]
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xticks(ticks, [str(t) for t in ticks])
        ax2.set_yticks(ticks, [str(t) for t in ticks])
        ax2.minorticks_off()
        top = 2 * self.image_size
        ax2.set(xlim=(min(4, self.min_box_px or 4), top), ylim=(min(4, self.min_box_px or 4), top))
        ax2.set_xlabel(f"box width at the {self.image_size} px input (px)")
        ax2.set_ylabel("box height (px)")
        ax2.set_title("box sizes the detector sees")
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        fig.legend(*ax2.get_legend_handles_labels(), loc="lower center", ncol=min(5, len(self.classes)),
                   fontsize=10, frameon=False, handletextpad=0.2, columnspacing=1.0)
        return fig


def _images_in(folder: Path) -> list[Path]:
    exts = {e.lower() for e in IMAGE_EXTENSIONS}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts) if folder.is_dir() else []


def _short(message: str, path: Path) -> str:
    """A VOCFormatError's message without the file's own (long) path in front."""
    for prefix in (f"{path}: ", f"{path.resolve()}: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message.replace(str(path.parent) + "/", "").replace(str(path.parent), path.parent.name + "/")


def _class_key(name: str) -> str:
    """What two spellings of one class share: case, spaces, hyphens and underscores ignored."""
    return re.sub(r"[\s_\-]+", "_", name.casefold()).strip("_")


def audit_folder(root, classes: Sequence[str] | None = None, *, image_size: int = 320,
                 min_box_px: float = 8.0) -> Audit:
    """Read every annotation and image of ``root`` and report what is there and every problem.

    Parameters
    ----------
    root : a LabelImg folder (images and XML files side by side) or a VOC folder
    classes : the class names you labelled; ``None``: the names found, where spellings that differ
        only in case, spaces or underscores count as one class (the most used spelling) and the
        files using another spelling are refused
    image_size : the detector's input size: box sizes are reported as it will see them
    min_box_px : boxes whose sqrt(area) at the input size is smaller get a warning

    Returns
    -------
    :class:`Audit` (``print(audit.report())``, ``audit.plot()``).
    """
    root = Path(root)
    if not root.is_dir():
        raise VOCFormatError(f"{root}: no such folder")
    voc = (root / "Annotations").is_dir()
    xml_dir = root / "Annotations" if voc else root
    xml_files = sorted(xml_dir.glob("*.xml"))
    image_files = _images_in(root / "JPEGImages") + _images_in(root)
    if not xml_files:
        raise VOCFormatError(f"{root}: no XML annotation files (looked in {xml_dir}); label the photos with "
                             "LabelImg in Pascal VOC mode first")
    if classes is not None:
        classes = check_classes(classes)
    problems: list[Problem] = []

    def add(path, level, message):
        problems.append(Problem(Path(path).name, level, message))

    records = []
    for xml in xml_files:
        try:
            ann = read_voc_xml(xml, None)
            image = image_path_for(xml, ann, root)
            with _open(image) as im:
                mode, fmt = im.mode, im.format
            _, orientation = load_rgb(image, (ann["width"], ann["height"]), xml)
        except VOCFormatError as err:
            add(xml, "refused", _short(str(err), xml))
            continue
        ann.update(xml_path=xml, image_path=image, id=xml.stem, orientation=orientation, mode=mode, format=fmt)
        records.append(ann)
        if mode in ("I;16", "I", "I;16B", "I;16L"):
            add(image, "note", f"a 16-bit image (mode {mode}): scaled to 8 bits (value * 255 / 65535), not clipped")
        for raw in ann["non_nfc_names"]:
            add(xml, "note", f"class {raw!r} is written in Unicode NFD form (letter + combining accent): read as NFC, "
                             "one class with the same name typed elsewhere")
        if not ann["names"]:
            add(xml, "note", "no boxes: a photo with no object (kept; it shows the detector what is background)")

    # two annotation files for one image: keep the one named like the image
    by_image: dict[Path, list[dict]] = {}
    for r in records:
        by_image.setdefault(r["image_path"].resolve(), []).append(r)
    dropped = set()
    for group in by_image.values():
        if len(group) > 1:
            keep = min(group, key=lambda r: (r["xml_path"].stem != r["image_path"].stem, r["xml_path"].name))
            for r in group:
                if r is not keep:
                    add(r["xml_path"], "refused", _short(duplicate_message(keep["xml_path"], r["xml_path"],
                                                                           r["image_path"]), r["xml_path"]))
                    dropped.add(id(r))
    records = [r for r in records if id(r) not in dropped]

    # classes: given, or found (spellings that differ in case/spacing only are one class)
    counts = Counter(n for r in records for n in r["names"])
    if classes is None:
        canonical = {}
        for name in sorted(counts, key=lambda k: (-counts[k], k)):  # the most used spelling first
            canonical.setdefault(_class_key(name), name)
        classes = tuple(sorted(canonical.values()))
    bad = []
    for r in records:
        unknown = [n for n in r["names"] if n not in classes]
        if unknown:
            twin = next((c for c in classes if _class_key(c) == _class_key(unknown[0])), None)
            why = (f"class {unknown[0]!r} differs from {twin!r} ({counts[twin]} objects) only in case or spacing: a typo "
                   "in LabelImg's class box? Fix the name, in LabelImg or in the XML" if twin else
                   f"unknown class {unknown[0]!r}; known classes: {', '.join(classes)}")
            add(r["xml_path"], "refused", why)
            bad.append(id(r))
    records = [r for r in records if id(r) not in bad]
    if not records:
        raise VOCFormatError(f"{root}: no usable annotation file; see the problems: "
                             + "; ".join(f"{p.file}: {p.message}" for p in problems[:3]))

    per_class_images = Counter(n for r in records for n in set(r["names"]))
    for c in classes:
        if per_class_images[c] < 3:
            add(f"class {c}", "warning", f"only in {per_class_images[c]} image(s): too few to reach train, val and "
                                         "test; label more photos of it")
    audit = Audit(root, tuple(classes), records, problems, len(image_files), len(xml_files), int(image_size),
                  float(min_box_px))
    for r in records:
        scale = np.array([image_size / r["width"], image_size / r["height"]])
        wh = (r["boxes"][:, 2:] - r["boxes"][:, :2]) * scale
        small = np.sqrt(wh.prod(axis=1)) < min_box_px
        if small.any():
            add(r["xml_path"], "warning", f"{int(small.sum())} box(es) smaller than {min_box_px:g} px at the "
                                          f"{image_size} px input: hard to learn at this size")
    annotated = {r["image_path"].resolve() for r in records} | {p.resolve() for p in _referenced(xml_files, root)}
    for image in image_files:
        if image.resolve() not in annotated:
            add(image, "note", "no annotation file: not labelled (LabelImg writes the XML when you save), not used")
    return audit


def _open(path):
    from PIL import Image

    return Image.open(path)


def _referenced(xml_files, root) -> list[Path]:
    """Images that some annotation file names, usable or not (so they are not called unlabelled)."""
    out = []
    for xml in xml_files:
        for ext in IMAGE_EXTENSIONS:
            for folder in (xml.parent, Path(root) / "JPEGImages"):
                if (folder / (xml.stem + ext)).is_file():
                    out.append(folder / (xml.stem + ext))
    return out


# ---------------------------------------------------------------------------------------------
# a stratified, deterministic split
# ---------------------------------------------------------------------------------------------
def stratified_split(records: Sequence[dict], classes: Sequence[str], fractions=(0.7, 0.15, 0.15),
                     names: Sequence[str] = ("train", "val", "test"), seed: int = 0) -> dict[str, list[str]]:
    """Split images so that each split gets its share of every class (iterative stratification).

    Images are taken rarest class first; each goes to the split that still wants most of that
    class (ties: the split that wants most images, then the earlier split). A class that ends
    with no object in a split other than the first is then given one: the image of that class
    with the fewest objects moves there from the split holding most of the class. Deterministic
    from ``seed`` (only ties between equal images depend on it).

    Parameters
    ----------
    records : dicts with ``id`` and ``names`` (an :class:`Audit`'s ``records``)
    classes : the class names
    fractions : share of the objects (and images) per split, summing to 1
    names : split names, as many as ``fractions``

    Returns
    -------
    ``{split: [ids]}``, ids sorted.
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.ndim != 1 or len(fr) != len(names) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"fractions must be {len(names)} non-negative numbers summing to 1, got {fractions}")
    classes = list(classes)
    n = len(records)
    c = np.zeros((n, len(classes)))
    for i, r in enumerate(records):
        for name in r["names"]:
            c[i, classes.index(name)] += 1
    want = fr[:, None] * c.sum(axis=0)[None, :]
    want_images = fr * n
    split = np.full(n, -1)
    order = np.random.default_rng(seed).permutation(n)
    while (split < 0).any():
        left = order[split[order] < 0]
        remaining = c[left].sum(axis=0)
        present = np.flatnonzero(remaining > 0)
        if present.size:
            k = present[np.argmin(remaining[present])]
            batch = left[c[left, k] > 0]
        else:
            k, batch = None, left
        for i in batch:
            if k is None:
                s = int(np.argmax(want_images))
            else:
                best = np.flatnonzero(np.isclose(want[:, k], want[:, k].max()))
                s = int(best[np.argmax(want_images[best])])
            split[i] = s
            want[s] -= c[i]
            want_images[s] -= 1
    for k in range(len(classes)):
        for s in range(1, len(names)):
            if fr[s] > 0 and not c[split == s, k].any() and (c[:, k] > 0).sum() > len(names) - 1:
                donor = int(np.argmax([c[split == t, k].sum() if t != s else -1 for t in range(len(names))]))
                cand = np.flatnonzero((split == donor) & (c[:, k] > 0))
                if (c[split == donor, k] > 0).sum() > 1:
                    split[cand[np.argmin(c[cand].sum(axis=1))]] = s
    return {name: sorted(records[i]["id"] for i in np.flatnonzero(split == s)) for s, name in enumerate(names)}


def write_split(root, splits: dict[str, Sequence[str]]) -> list[Path]:
    """Write ``{split: ids}`` as ``root/ImageSets/Main/<split>.txt`` (UTF-8, one id per line)."""
    folder = Path(root) / "ImageSets" / "Main"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, ids in splits.items():
        path = folder / f"{name}.txt"
        path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        paths.append(path)
    return paths


def split_counts(records: Sequence[dict], splits: dict[str, Sequence[str]], classes: Sequence[str]) -> list[dict]:
    """One row per split: images and objects per class (for a table)."""
    by_id = {r["id"]: r for r in records}
    rows = []
    for name, ids in splits.items():
        cnt = Counter(n for i in ids for n in by_id[i]["names"])
        rows.append({"split": name, "images": len(ids), **{c: cnt.get(c, 0) for c in classes}})
    return rows
