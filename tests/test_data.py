"""helpers.data: the Batman generator, LabelImg-compatible VOC I/O, COCO export, torch Dataset."""

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.batman import make_background, render_scene
from helpers.data import (
    CLASSES,
    STYLES,
    VOCFormatError,
    make_batman_dataset,
    read_voc_xml,
    write_voc_xml,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("batman") / "ds"
    summary = make_batman_dataset(root, 40, seed=1)
    return root, summary


@pytest.fixture(scope="module")
def holdout_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout") / "ds"
    summary = make_batman_dataset(root, 40, seed=2, holdout_style="sketch")
    return root, summary


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    make_batman_dataset(tmp_path / "a", 6, seed=7)
    make_batman_dataset(tmp_path / "b", 6, seed=7)
    make_batman_dataset(tmp_path / "c", 6, seed=8)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) == 6 * 2 + 3 + 1  # jpg + xml per image, 3 split files, batman.json
    assert a == b
    jpgs = [k for k in a if k.endswith(".jpg")]
    assert all(a[k] != c[k] for k in jpgs)


def test_existing_folder_is_reused_replaced_or_refused(tmp_path):
    root = tmp_path / "ds"
    make_batman_dataset(root, 3, seed=0)
    stamp = (root / "JPEGImages" / "batman_00000.jpg").stat().st_mtime_ns
    make_batman_dataset(root, 3, seed=0)  # same arguments: nothing redrawn
    assert (root / "JPEGImages" / "batman_00000.jpg").stat().st_mtime_ns == stamp
    make_batman_dataset(root, 2, seed=0)  # other arguments: replaced, no stale files left
    assert sorted(p.name for p in (root / "Annotations").iterdir()) == ["batman_00000.xml", "batman_00001.xml"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "photo.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not empty"):
        make_batman_dataset(tmp_path / "mine", 2)


def test_every_xml_is_valid_and_boxes_lie_inside_the_image(dataset):
    root, summary = dataset
    n = 0
    for xml in sorted((root / "Annotations").glob("*.xml")):
        ann = read_voc_xml(xml)
        assert (root / "JPEGImages" / ann["filename"]).is_file()
        assert (ann["width"], ann["height"], ann["depth"]) == (320, 320, 3)
        b = ann["boxes"]
        assert len(b) >= 1
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= 320).all() and (b[:, 3] <= 320).all()
        assert ((b[:, 2] - b[:, 0]) >= 8).all() and ((b[:, 3] - b[:, 1]) >= 8).all()
        touches = (b[:, 0] == 0) | (b[:, 1] == 0) | (b[:, 2] == 320) | (b[:, 3] == 320)
        assert (ann["truncated"] == touches).all()  # cut objects touch the border: LabelImg's rule holds
        n += len(b)
    assert n == sum(sum(c.values()) for c in summary["counts"].values())
    assert n >= 40 * 2 * 0.9  # at most a few objects found no place


def test_lookalikes_are_recorded_but_never_labelled(dataset):
    root, _ = dataset
    meta = json.loads((root / "batman.json").read_text())
    found = [d for rec in meta["images"] for d in rec["distractors"]]
    assert len(found) >= 40  # 1-3 per image, a few hidden
    assert {d["name"] for d in found} <= set(data.DISTRACTORS) and len({d["name"] for d in found}) >= 5
    for rec in meta["images"]:
        ann = read_voc_xml(root / "Annotations" / f"{rec['id']}.xml")
        assert ann["names"] == rec["names"] and not set(ann["names"]) & set(data.DISTRACTORS)
        for d in rec["distractors"]:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 320


def test_xml_structure_is_labelimgs(dataset):
    root, _ = dataset
    path = root / "Annotations" / "batman_00000.xml"
    text = path.read_text()
    assert text.startswith("<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>batman_00000.jpg</filename>\n")
    assert text.endswith("</annotation>\n") and "<?xml" not in text
    tree = ET.parse(path).getroot()
    assert [c.tag for c in tree][:6] == ["folder", "filename", "path", "source", "size", "segmented"]
    assert all(c.tag == "object" for c in list(tree)[6:])
    assert [(c.tag, c.text) for c in tree.find("source")] == [("database", "Unknown")]
    assert [c.tag for c in tree.find("size")] == ["width", "height", "depth"]
    assert tree.find("segmented").text == "0"
    for obj in tree.findall("object"):
        assert [c.tag for c in obj] == ["name", "pose", "truncated", "difficult", "bndbox"]
        assert obj.find("pose").text == "Unspecified" and obj.find("difficult").text == "0"
        assert [c.tag for c in obj.find("bndbox")] == ["xmin", "ymin", "xmax", "ymax"]
        assert all(c.text.isdigit() for c in obj.find("bndbox"))
    assert "\t\t<bndbox>\n\t\t\t<xmin>" in text  # one tab per level, as LabelImg's prettify leaves it


def test_writer_matches_a_file_laid_out_like_labelimgs(tmp_path):
    # What LabelImg's PascalVocWriter saves for one 1-based box (10, 20) - (50, 60) on a 64x48 image.
    expected = (
        "<annotation>\n\t<folder>photos</folder>\n\t<filename>cat.jpg</filename>\n\t<path>/home/me/photos/cat.jpg</path>\n"
        "\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n"
        "\t<size>\n\t\t<width>64</width>\n\t\t<height>48</height>\n\t\t<depth>3</depth>\n\t</size>\n"
        "\t<segmented>0</segmented>\n"
        "\t<object>\n\t\t<name>batman_face</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>10</xmin>\n\t\t\t<ymin>20</ymin>\n"
        "\t\t\t<xmax>50</xmax>\n\t\t\t<ymax>48</ymax>\n\t\t</bndbox>\n\t</object>\n"
        "</annotation>\n"
    ).replace("<truncated>0</truncated>", "<truncated>1</truncated>")  # ymax == height: LabelImg marks it
    out = write_voc_xml(tmp_path / "cat.xml", "cat.jpg", 64, 48, [[9, 19, 50, 48]], ["batman_face"],
                        folder="photos", path="/home/me/photos/cat.jpg")
    assert out.read_text() == expected
    ann = read_voc_xml(out)
    np.testing.assert_array_equal(ann["boxes"], [[9.0, 19.0, 50.0, 48.0]])
    assert ann["truncated"].tolist() == [True] and ann["labels"].tolist() == [1]


def test_classes_are_balanced_and_weights_unbalance_them_when_asked(dataset, tmp_path):
    _, summary = dataset
    totals = {c: sum(summary["counts"][s][c] for s in summary["counts"]) for c in CLASSES}
    n = sum(totals.values())
    assert min(totals.values()) / n >= 0.15, totals
    counts = data.class_counts(dataset[0])
    assert counts == totals
    skewed = make_batman_dataset(tmp_path / "skew", 20, seed=0, class_weights={"batman_face": 8, "joker_face": 1})
    totals = {c: sum(skewed["counts"][s][c] for s in skewed["counts"]) for c in CLASSES}
    assert totals["robin_face"] == totals["bat_symbol"] == 0 and totals["batman_face"] > 3 * totals["joker_face"]
    with pytest.raises(ValueError, match="unknown classes"):
        make_batman_dataset(tmp_path / "bad", 2, class_weights={"penguin": 1})


def test_splits_are_disjoint_and_cover_every_image(dataset):
    root, summary = dataset
    ids = {s: (root / "ImageSets" / "Main" / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in ids.items()} == {"train": 28, "val": 6, "test": 6}
    all_ids = ids["train"] + ids["val"] + ids["test"]
    assert len(set(all_ids)) == len(all_ids) == 40
    assert set(all_ids) == {p.stem for p in (root / "Annotations").glob("*.xml")}
    assert ids == summary["splits"]


def test_holdout_style_appears_only_in_test_holdout_images(holdout_dataset):
    root, summary = holdout_dataset
    meta = json.loads((root / "batman.json").read_text())
    holdout_ids = (root / "ImageSets" / "Main" / "test_holdout.txt").read_text().split()
    assert holdout_ids == summary["holdout_ids"] and len(holdout_ids) >= 1
    test_ids = set(summary["splits"]["test"])
    assert set(holdout_ids) <= test_ids
    for rec in meta["images"]:
        if rec["id"] in holdout_ids:
            assert rec["styles"] and set(rec["styles"]) == {"sketch"}
        else:
            assert "sketch" not in rec["styles"]
    seen = {s for rec in meta["images"] if rec["split"] == "train" for s in rec["styles"]}
    assert seen == set(STYLES) - {"sketch"}


def test_holdout_of_one_class_style(tmp_path):
    summary = make_batman_dataset(tmp_path / "h", 30, seed=4, holdout_style="joker_face:modern")
    meta = json.loads((tmp_path / "h" / "batman.json").read_text())
    for rec in meta["images"]:
        pairs = set(zip(rec["names"], rec["styles"], strict=True))
        if rec["id"] in summary["holdout_ids"]:
            assert ("joker_face", "modern") in pairs
        else:
            assert ("joker_face", "modern") not in pairs
    with pytest.raises(ValueError, match="unknown holdout style"):
        make_batman_dataset(tmp_path / "x", 2, holdout_style="cubist")
    with pytest.raises(ValueError, match="unknown class"):
        make_batman_dataset(tmp_path / "x", 2, holdout_style="penguin:modern")


@pytest.mark.parametrize("seed", range(12))
def test_boxes_are_tight_around_the_drawn_pixels(seed):
    """Draw one object on a background, and compare its box with where the pixels changed."""
    name = CLASSES[seed % len(CLASSES)]
    style = STYLES[seed % len(STYLES)]
    background = np.asarray(make_background(np.random.default_rng(seed), 200, 160)).astype(int)
    image, boxes, names, styles, truncated = render_scene(np.random.default_rng(seed), 200, 160, [(name, style)],
                                                          p_occlude=0.0, p_truncate=0.5)
    assert names == [name] and styles == [style]
    changed = np.abs(np.asarray(image).astype(int) - background).max(axis=2) > 40
    ys, xs = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    seen = np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1])
    assert np.abs(seen - boxes[0]).max() <= 2, (seen, boxes[0])
    touches = boxes[0, 0] == 0 or boxes[0, 1] == 0 or boxes[0, 2] == 200 or boxes[0, 3] == 160
    assert truncated[0] == touches


def test_generator_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_images"):
        make_batman_dataset(tmp_path / "x", 0)
    with pytest.raises(ValueError, match="image_size"):
        make_batman_dataset(tmp_path / "x", 2, image_size=16)
    with pytest.raises(ValueError, match="split_fractions"):
        make_batman_dataset(tmp_path / "x", 2, split_fractions=(0.5, 0.5, 0.5))


# ---------------------------------------------------------------------------------------------
# VOC I/O
# ---------------------------------------------------------------------------------------------
def test_write_read_round_trip_is_exact(tmp_path, rng):
    w, h = 97, 61
    x1 = rng.integers(0, w - 1, 20)
    y1 = rng.integers(0, h - 1, 20)
    boxes = np.column_stack([x1, y1, rng.integers(x1 + 1, w + 1), rng.integers(y1 + 1, h + 1)]).astype(float)
    names = [CLASSES[i] for i in rng.integers(0, 5, 20)]
    difficult = rng.random(20) < 0.3
    path = write_voc_xml(tmp_path / "a.xml", "a.jpg", w, h, boxes, names, difficult=difficult)
    ann = read_voc_xml(path)
    np.testing.assert_array_equal(ann["boxes"], boxes)
    assert ann["names"] == names and ann["labels"].tolist() == [CLASSES.index(n) + 1 for n in names]
    assert ann["difficult"].tolist() == difficult.tolist()
    again = write_voc_xml(tmp_path / "b.xml", "a.jpg", w, h, ann["boxes"], ann["names"], difficult=ann["difficult"],
                          truncated=ann["truncated"])
    assert again.read_bytes() == path.read_bytes()


def test_generated_files_round_trip_byte_for_byte(dataset, tmp_path):
    root, _ = dataset
    for xml in sorted((root / "Annotations").glob("*.xml"))[:10]:
        ann = read_voc_xml(xml)
        out = write_voc_xml(tmp_path / xml.name, ann["filename"], ann["width"], ann["height"], ann["boxes"], ann["names"],
                            folder=ann["folder"], path=ann["path"], difficult=ann["difficult"], truncated=ann["truncated"])
        assert out.read_bytes() == xml.read_bytes()


def test_full_image_box_and_empty_annotation(tmp_path):
    path = write_voc_xml(tmp_path / "full.xml", "f.jpg", 30, 20, [[0, 0, 30, 20]], ["joker_face"])
    text = path.read_text()
    assert "<xmin>1</xmin>" in text and "<xmax>30</xmax>" in text and "<truncated>1</truncated>" in text
    empty = read_voc_xml(write_voc_xml(tmp_path / "e.xml", "e.jpg", 30, 20, np.zeros((0, 4)), []))
    assert empty["boxes"].shape == (0, 4) and empty["labels"].dtype == np.int64


def test_writer_refuses_boxes_it_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        write_voc_xml(tmp_path / "x.xml", "x.jpg", 30, 20, [[-1, 0, 10, 10]], ["joker_face"])
    with pytest.raises(ValueError, match="empty box in object 0"):
        write_voc_xml(tmp_path / "x.xml", "x.jpg", 30, 20, [[10, 5, 10.2, 9]], ["joker_face"])
    with pytest.raises(ValueError, match="1 boxes but 2 names"):
        write_voc_xml(tmp_path / "x.xml", "x.jpg", 30, 20, [[0, 0, 10, 10]], ["joker_face", "bat_symbol"])


_GOOD_OBJECT = "<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>2</ymin><xmax>{x2}</xmax><ymax>9</ymax></bndbox></object>"


def _xml(body: str = _GOOD_OBJECT.format(name="bat_symbol", x1=1, x2=10), size="<size><width>20</width><height>10</height><depth>3</depth></size>"):
    return f"<annotation><filename>a.jpg</filename>{size}{body}</annotation>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<annotation><filename>a.jpg</filename>", "malformed XML"),
        ("", "malformed XML"),
        ("<notvoc/>", "expected <annotation>"),
        (_xml().replace("<filename>a.jpg</filename>", ""), "missing <filename>"),
        (_xml(size=""), "missing <size>"),
        (_xml(size="<size><width>20</width></size>"), "missing <height> in <size>"),
        (_xml(size="<size><width>20.5</width><height>10</height></size>"), "positive integers"),
        (_xml(size="<size><width>20</width><height>10</height><depth>RGB</depth></size>"), "<depth> is not a number"),
        (_xml(_GOOD_OBJECT.format(name="penguin", x1=1, x2=10)), "unknown class 'penguin'.*known classes: batman_face, bat_symbol"),
        (_xml("<object><name>bat_symbol</name></object>"), "missing <bndbox> in object 0"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1=1, x2=10).replace("<ymax>9</ymax>", "")), "missing <ymax> in object 0"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1="one", x2=10)), "<xmin> is not a number: 'one'"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1="nan", x2=10)), "not a finite number"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1=12, x2=10)), "empty box in object 0 \\(bat_symbol\\)"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1=1, x2=21)), "box outside the 20x10 image"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1=0, x2=10)), "box outside the 20x10 image.*1-based"),
        (_xml(_GOOD_OBJECT.format(name="bat_symbol", x1=1, x2=10).replace("<name>", "<difficult>2</difficult><name>")),
         "<difficult> must be 0 or 1"),
        (_xml(_GOOD_OBJECT.format(name="", x1=1, x2=10)), "missing <name> in object 0"),
    ],
)
def test_bad_xml_raises_a_clear_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "broken_file.xml"
    path.write_text(text)
    with pytest.raises(VOCFormatError, match=message) as err:
        read_voc_xml(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_good_minimal_xml_reads(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_text(_xml())
    ann = read_voc_xml(path)
    np.testing.assert_array_equal(ann["boxes"], [[0, 1, 10, 9]])
    assert ann["folder"] is None and ann["depth"] == 3


def test_missing_files_and_folders_raise(tmp_path):
    with pytest.raises(VOCFormatError, match="no such annotation file"):
        read_voc_xml(tmp_path / "nope.xml")
    with pytest.raises(VOCFormatError, match="no such dataset folder"):
        data.read_split(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VOCFormatError, match="no XML annotation files"):
        data.read_split(tmp_path / "empty")
    with pytest.raises(VOCFormatError, match="split 'train' needs"):
        data.read_split(tmp_path / "empty", "train")
    (tmp_path / "lonely").mkdir()
    write_voc_xml(tmp_path / "lonely" / "a.xml", "a.jpg", 20, 10, [[0, 0, 5, 5]], ["bat_symbol"])
    with pytest.raises(VOCFormatError, match="a.xml: image 'a.jpg' not found"):
        data.read_split(tmp_path / "lonely")


def test_split_file_listing_a_missing_annotation_raises(dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(dataset[0], root)
    (root / "ImageSets" / "Main" / "val.txt").write_text("batman_99999\n")
    with pytest.raises(VOCFormatError, match="val.txt: 1 listed ids have no annotation file"):
        data.read_split(root, "val")


# ---------------------------------------------------------------------------------------------
# COCO export
# ---------------------------------------------------------------------------------------------
def test_coco_export_loads_in_pycocotools_and_scores_perfect_detections(dataset, tmp_path, capsys):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    root, summary = dataset
    coco_dict = data.voc_to_coco(root, "val")
    path = data.write_coco_json(coco_dict, tmp_path / "val.json")
    coco = COCO(str(path))
    records = data.read_split(root, "val")
    assert len(coco.getImgIds()) == len(records) == len(summary["splits"]["val"])
    assert [c["id"] for c in coco.loadCats(coco.getCatIds())] == [1, 2, 3, 4, 5]
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    for image_id, rec in enumerate(records, start=1):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert coco.loadImgs([image_id])[0]["file_name"] == rec["filename"]
        xywh = np.array([a["bbox"] for a in anns]).reshape(-1, 4)
        np.testing.assert_allclose(xywh[:, :2], rec["boxes"][:, :2])
        np.testing.assert_allclose(xywh[:, :2] + xywh[:, 2:], rec["boxes"][:, 2:])
        np.testing.assert_allclose([a["area"] for a in anns], xywh[:, 2] * xywh[:, 3])
        assert [a["category_id"] for a in anns] == rec["labels"].tolist()
        assert all(a["iscrowd"] == 0 for a in anns)
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in coco.dataset["annotations"]]
    ev = COCOeval(coco, coco.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# torch Dataset and transforms
# ---------------------------------------------------------------------------------------------
def test_dataset_items_are_what_torchvision_detectors_take(dataset):
    import torch

    root, summary = dataset
    ds = data.VOCDetectionDataset(root, "train")
    assert len(ds) == len(summary["splits"]["train"]) and "images=28" in repr(ds)
    image, target = ds[0]
    assert type(image) is torch.Tensor and image.dtype == torch.float32 and image.shape == (3, 320, 320)
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert type(target["boxes"]) is torch.Tensor and target["boxes"].dtype == torch.float32
    assert target["labels"].dtype == torch.int64 and len(target["labels"]) == len(target["boxes"])
    assert target["image_id"] == 1
    rec = ds.records[0]
    np.testing.assert_allclose(target["boxes"].numpy(), rec["boxes"])
    assert target["labels"].tolist() == rec["labels"].tolist()
    assert (target["labels"] >= 1).all() and (target["labels"] <= 5).all()
    pixels = np.asarray(ds.load_image(0), dtype=np.float32) / 255
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), pixels, atol=1e-6)
    images, targets = data.collate_fn([ds[0], ds[1]])
    assert len(images) == len(targets) == 2 and targets[1]["image_id"] == 2


def test_horizontal_flip_keeps_boxes_on_their_objects(dataset):
    import torch
    from torchvision.transforms import v2

    root, _ = dataset
    plain = data.VOCDetectionDataset(root, "val")
    flipped = data.VOCDetectionDataset(root, "val", transforms=v2.RandomHorizontalFlip(p=1.0))
    for i in range(3):
        (img, tgt), (fimg, ftgt) = plain[i], flipped[i]
        torch.testing.assert_close(fimg, torch.flip(img, dims=[2]))
        w = img.shape[2]
        expected = torch.stack([w - tgt["boxes"][:, 2], tgt["boxes"][:, 1], w - tgt["boxes"][:, 0], tgt["boxes"][:, 3]], dim=1)
        torch.testing.assert_close(ftgt["boxes"], expected)
        assert torch.equal(ftgt["labels"], tgt["labels"])
        # the pixels inside each flipped box are the mirrored pixels of the original box
        for (x1, y1, x2, y2), (fx1, fy1, fx2, fy2) in zip(tgt["boxes"].int().tolist(), ftgt["boxes"].int().tolist(), strict=True):
            torch.testing.assert_close(fimg[:, fy1:fy2, fx1:fx2], torch.flip(img[:, y1:y2, x1:x2], dims=[2]))


def test_train_transforms_keep_boxes_valid_and_aligned(dataset):
    import torch

    root, _ = dataset
    torch.manual_seed(0)
    ds = data.VOCDetectionDataset(root, "train", transforms=data.train_transforms())
    sizes, scales = set(), []
    for i in range(8):
        image, target = ds[i]
        _, h, w = image.shape
        sizes.add((h, w))
        b = target["boxes"]
        assert len(b) == len(target["labels"])
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 1] >= 0).all() and (b[:, 3] <= h).all()
        assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
        orig = torch.as_tensor(ds.records[i]["boxes"], dtype=torch.float32)
        if len(b):  # the zoom scales the objects relative to the image (the model's resize keeps that)
            scales.append(float((b[:, 2] - b[:, 0]).max() / (orig[:, 2] - orig[:, 0]).max()))
    assert sizes == {(320, 320)}  # the image keeps its size: a zoom, not a resize a detector would undo
    assert max(scales) / min(scales) > 1.15
    with pytest.raises(ValueError, match="scale_range"):
        data.train_transforms(scale_range=(0, 1))


def test_labelimg_folder_without_imagesets(dataset, tmp_path):
    root, _ = dataset
    flat = tmp_path / "my_photos"
    flat.mkdir()
    for stem in ("batman_00000", "batman_00001"):
        shutil.copy(root / "JPEGImages" / f"{stem}.jpg", flat)
        shutil.copy(root / "Annotations" / f"{stem}.xml", flat)
    ds = data.VOCDetectionDataset(flat)
    assert len(ds) == 2
    image, target = ds[1]
    assert image.shape == (3, 320, 320) and target["image_id"] == 2
    with pytest.raises(VOCFormatError, match="split 'train' needs"):
        data.VOCDetectionDataset(flat, "train")


def test_dataset_refuses_bad_files_when_built_or_read(dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(dataset[0], root)
    xml = root / "Annotations" / "batman_00003.xml"
    xml.write_text(xml.read_text().replace("<name>", "<name>x", 1))
    with pytest.raises(VOCFormatError, match="batman_00003.xml: unknown class"):
        data.VOCDetectionDataset(root)
    with pytest.raises(VOCFormatError, match="unknown class"):
        data.VOCDetectionDataset(root, classes=("a", "b"))
    shutil.copy(dataset[0] / "Annotations" / "batman_00003.xml", xml)
    from PIL import Image

    Image.new("RGB", (100, 80)).save(root / "JPEGImages" / "batman_00003.jpg")
    ds = data.VOCDetectionDataset(root)
    with pytest.raises(VOCFormatError, match="says 320x320 but .*batman_00003.jpg is 100x80"):
        ds[3]


def test_label_names_and_lazy_torch_import():
    assert data.label_names() == {0: "background", 1: "batman_face", 2: "bat_symbol", 3: "robin_face",
                                  4: "robin_symbol", 5: "joker_face"}
    code = "import sys, helpers.data; print(sorted({'torch', 'torchvision', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        data.nope  # noqa: B018


def test_committed_sample_loads_and_matches_its_documented_command(tmp_path):
    import PIL

    from helpers.batman import main

    sample = Path(__file__).resolve().parents[1] / "data" / "batman_sample"
    ds = data.VOCDetectionDataset(sample)
    assert len(ds) == 5 and all(len(ds[i][1]["boxes"]) >= 1 for i in range(len(ds)))
    readme = (sample.parent / "README.md").read_text()
    command = "python -m helpers.batman data/batman_sample --n-images 5 --seed 0 --jpeg-quality 85 --overwrite"
    assert command in readme
    main([str(tmp_path / "again"), *command.split()[4:]])
    meta = json.loads((sample / "batman.json").read_text())
    if meta["pillow"] != PIL.__version__:
        pytest.skip(f"sample drawn with Pillow {meta['pillow']}, this is {PIL.__version__}: bytes may differ")
    assert _files(tmp_path / "again") == _files(sample)


# ---------------------------------------------------------------------------------------------
# a learner's folder is untrusted input (issue 15)
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def small_voc(tmp_path):
    """A 3-image VOC folder inside tmp_path/ds, and a 'secret' image outside it of the same size."""
    root = tmp_path / "ds"
    make_batman_dataset(root, 3, seed=5, image_size=64, split_fractions=(0.34, 0.33, 0.33))
    secret = tmp_path / "secret.jpg"
    shutil.copy(root / "JPEGImages" / "batman_00000.jpg", secret)
    return root, secret


def _set_filename(xml_path: Path, value: str) -> None:
    text = xml_path.read_text()
    start, end = text.index("<filename>") + len("<filename>"), text.index("</filename>")
    xml_path.write_text(text[:start] + value + text[end:])


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_annotation_filename_cannot_leave_the_dataset_folder(small_voc, kind):
    root, secret = small_voc
    xml = root / "Annotations" / "batman_00001.xml"
    value = "../../secret.jpg" if kind == "dotdot" else str(secret)
    _set_filename(xml, value)
    (root / "JPEGImages" / "batman_00001.jpg").unlink()  # nothing inside the folder to fall back on
    with pytest.raises(VOCFormatError) as err:
        data.VOCDetectionDataset(root)
    message = str(err.value)
    assert str(xml) in message and repr(value) in message and str(root) in message, message
    assert ("absolute path" if kind == "absolute" else "leads outside the dataset folder") in message


def test_labelimg_folder_filename_cannot_leave_it(small_voc, tmp_path):
    root, secret = small_voc
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(root / "Annotations" / "batman_00000.xml", flat / "photo.xml")
    _set_filename(flat / "photo.xml", "../secret.jpg")
    with pytest.raises(VOCFormatError, match=r"photo.xml: <filename> '\.\./secret.jpg' leads outside the dataset folder"):
        data.read_split(flat, None)


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_split_file_lines_cannot_leave_the_dataset_folder(small_voc, tmp_path, kind):
    root, _ = small_voc
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(root / "Annotations" / "batman_00000.xml", elsewhere / "x.xml")
    shutil.copy(root / "JPEGImages" / "batman_00000.jpg", elsewhere / "batman_00000.jpg")
    value = "../../elsewhere/x" if kind == "dotdot" else str(elsewhere / "x")
    split_file = root / "ImageSets" / "Main" / "val.txt"
    split_file.write_text(f"batman_00000\n{value}\n")
    with pytest.raises(VOCFormatError) as err:
        data.VOCDetectionDataset(root, "val")
    message = str(err.value)
    assert str(split_file) in message and repr(value + ".xml") in message and str(root) in message, message


def test_truncated_or_broken_image_names_the_image_and_its_annotation(small_voc):
    root, _ = small_voc
    ds = data.VOCDetectionDataset(root)
    jpg = root / "JPEGImages" / "batman_00002.jpg"
    data_bytes = jpg.read_bytes()
    jpg.write_bytes(data_bytes[: len(data_bytes) // 2])
    with pytest.raises(VOCFormatError, match="cannot decode this image") as err:
        ds[2]
    message = str(err.value)
    assert str(jpg) in message and str(root / "Annotations" / "batman_00002.xml") in message, message
    assert isinstance(err.value.__cause__, OSError)  # Pillow's own error, chained
    jpg.write_bytes(b"not a JPEG at all")
    with pytest.raises(VOCFormatError, match="batman_00002.jpg: cannot decode this image"):
        ds[2]
    assert ds[0][0].shape == (3, 64, 64)  # the other samples still load


def _labelimg_folder(root: Path, files: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True)
    from PIL import Image

    for stem, names in files.items():
        Image.new("RGB", (40, 30)).save(root / f"{stem}.jpg")
        write_voc_xml(root / f"{stem}.xml", f"{stem}.jpg", 40, 30, [[k * 5, 0, k * 5 + 4, 10] for k in range(len(names))],
                      names)
    return root


def test_classes_none_numbers_the_whole_folder_once_not_each_file(tmp_path, capsys):
    root = _labelimg_folder(tmp_path / "mine", {"a": ["robin_face"], "b": ["bat_symbol", "robin_face"]})
    records = data.read_split(root, None, classes=None)
    robin = [int(lab) for r in records for n, lab in zip(r["names"], r["labels"], strict=True) if n == "robin_face"]
    assert robin == [2, 2]  # the same class has the same label in every file
    assert capsys.readouterr().out.strip() == ("classes=None: 2 classes found in the folder, labels 1..2: "
                                               "bat_symbol, robin_face")
    assert "labels" not in read_voc_xml(root / "a.xml", None)  # one file cannot number the classes
    assert data.class_counts(root, classes=None) == {"bat_symbol": 1, "robin_face": 2}
    coco = data.voc_to_coco(root, classes=None)
    assert [c["name"] for c in coco["categories"]] == ["bat_symbol", "robin_face"]
    ds = data.VOCDetectionDataset(root, classes=None)
    assert ds.classes == ("bat_symbol", "robin_face") and ds[0][1]["labels"].tolist() == [2]


def test_classes_none_numbers_every_split_alike(small_voc):
    root, _ = small_voc
    val = data.VOCDetectionDataset(root, "val", classes=None)
    train = data.VOCDetectionDataset(root, "train", classes=None)
    assert val.classes == train.classes == data.folder_classes(root, verbose=False)
    assert set(val.classes) <= set(CLASSES)


@pytest.mark.parametrize("bad", ["batman_face", ("a", "a"), ("a", ""), 5])
def test_classes_must_be_a_list_of_distinct_names(small_voc, bad):
    root, _ = small_voc
    with pytest.raises((TypeError, ValueError), match="classes (must|lists)"):
        data.read_split(root, None, classes=bad)


_WRITE_OK = {"filename": "a.jpg", "width": 20, "height": 10, "boxes": [[0, 1, 10, 9]], "names": ["bat_symbol"]}


@pytest.mark.parametrize(
    ("change", "xml"),
    [
        ({"width": 0}, _xml(size="<size><width>0</width><height>10</height><depth>3</depth></size>")),
        ({"height": 2.5}, _xml(size="<size><width>20</width><height>2.5</height><depth>3</depth></size>")),
        ({"names": ["bat\tsymbol"]}, _xml(_GOOD_OBJECT.format(name="bat\tsymbol", x1=1, x2=10))),
        ({"names": [" "]}, _xml(_GOOD_OBJECT.format(name=" ", x1=1, x2=10))),
        ({"filename": ""}, _xml().replace("<filename>a.jpg</filename>", "<filename></filename>")),
        ({"boxes": [[-1, 1, 10, 9]]}, _xml(_GOOD_OBJECT.format(name="bat_symbol", x1=0, x2=10))),
        ({"boxes": [[0, 1, 21, 9]]}, _xml(_GOOD_OBJECT.format(name="bat_symbol", x1=1, x2=21))),
        ({"boxes": [[11, 1, 10, 9]]}, _xml(_GOOD_OBJECT.format(name="bat_symbol", x1=12, x2=10))),
        ({"boxes": [[float("nan"), 1, 10, 9]]}, _xml(_GOOD_OBJECT.format(name="bat_symbol", x1="nan", x2=10))),
        ({"depth": "RGB"}, _xml(size="<size><width>20</width><height>10</height><depth>RGB</depth></size>")),
        ({"names": ["penguin"], "classes": CLASSES}, _xml(_GOOD_OBJECT.format(name="penguin", x1=1, x2=10))),
    ],
)
def test_writer_refuses_what_the_reader_refuses_with_the_same_message(tmp_path, change, xml):
    path = tmp_path / "same.xml"
    path.write_text(xml)
    with pytest.raises(VOCFormatError) as read_err:
        read_voc_xml(path)
    path.unlink()
    kwargs = {**_WRITE_OK, **change}
    with pytest.raises(VOCFormatError) as write_err:
        write_voc_xml(path, kwargs.pop("filename"), kwargs.pop("width"), kwargs.pop("height"), kwargs.pop("boxes"),
                      kwargs.pop("names"), **kwargs)
    assert str(write_err.value) == str(read_err.value)
    assert not path.exists()


def test_writer_refuses_what_xml_cannot_hold_and_letters_for_names(tmp_path):
    path = tmp_path / "w.xml"
    for kwargs in ({"names": ["bat\x01symbol"]}, {"folder": "JPEG\x00Images"}, {"path": "/x/\x1ba.jpg"}):
        args = {**_WRITE_OK, **kwargs}
        with pytest.raises(VOCFormatError, match="control character") as err:
            write_voc_xml(path, args.pop("filename"), args.pop("width"), args.pop("height"), args.pop("boxes"),
                          args.pop("names"), **args)
        assert str(path) in str(err.value)
    (tmp_path / "by_hand.xml").write_text(_xml(_GOOD_OBJECT.format(name="bat\x01symbol", x1=1, x2=10)))
    with pytest.raises(VOCFormatError):  # what the writer refuses, the reader cannot read either
        read_voc_xml(tmp_path / "by_hand.xml")
    with pytest.raises(TypeError, match="names must be a list of class names.*str 'ab'"):
        write_voc_xml(path, "a.jpg", 20, 10, [[0, 0, 5, 5], [5, 5, 9, 9]], "ab")
    assert not path.exists()


def test_entry_points_taking_classes_refuse_none_clearly():
    from helpers.detection import evaluate_predictions

    with pytest.raises(TypeError, match="classes must be a list or tuple of class names, got NoneType"):
        data.label_names(None)
    with pytest.raises(TypeError, match="classes must be a list or tuple of class names, got NoneType"):
        evaluate_predictions([], [], None)
