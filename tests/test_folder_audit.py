"""helpers.phone_folder, helpers.folder_audit, helpers.operating_point: notebook 07's data path.

The phone folder plants known problems (helpers.phone_folder.PLANTED); the audit must find each
one, at the right level, naming the file, and keep everything else. The split must reach every
class in val and be reproducible; the threshold choice is checked against a brute-force count.
"""

import numpy as np
import pytest
from PIL import Image

from helpers.folder_audit import audit_folder, split_counts, stratified_split, write_split
from helpers.operating_point import best_f1_threshold, f1_curve, scores_at
from helpers.phone_folder import PLANTED, make_phone_folder
from helpers.voc import VOCFormatError, annotation_files, read_split, write_voc_xml


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    root = tmp_path_factory.mktemp("phone") / "my_photos"
    summary = make_phone_folder(root, 40, seed=0)
    return root, summary


def _files(root):
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


def test_same_seed_same_bytes_and_reuse(tmp_path, phone):
    root, _ = phone
    make_phone_folder(tmp_path / "a", 40, seed=0)
    assert _files(tmp_path / "a") == _files(root)
    make_phone_folder(tmp_path / "b", 40, seed=1)
    assert _files(tmp_path / "b")["IMG_0010.xml"] != _files(root)["IMG_0010.xml"]
    stamp = (root / "IMG_0001.jpg").stat().st_mtime_ns
    make_phone_folder(root, 40, seed=0)  # same arguments: nothing redrawn
    assert (root / "IMG_0001.jpg").stat().st_mtime_ns == stamp
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("a learner's file")
    with pytest.raises(FileExistsError):
        make_phone_folder(tmp_path / "mine", 20)
    with pytest.raises(ValueError, match="12"):
        make_phone_folder(tmp_path / "c", 5)


def test_the_folder_holds_what_a_phone_writes(phone):
    root, summary = phone
    orientations = set()
    for path in root.glob("IMG_*.jpg"):
        with Image.open(path) as im:
            orientations.add(int(im.getexif().get(0x0112, 1)))
    assert {1, 6, 8, 3} <= orientations
    assert summary["formats"]["PNG"] >= 2 and summary["formats"]["grayscale"] >= 2
    with Image.open(root / "IMG_0008.png") as im:
        assert im.mode in ("I;16", "I")
    assert all((root / name).exists() for name in PLANTED if not name.startswith("IMG_9001.jpg"))
    assert not (root / "IMG_9001.jpg").exists()
    assert "C:\\Users\\learner" in (root / "IMG_0001.xml").read_text()  # the labeller's Windows path


def test_audit_finds_every_planted_problem_and_keeps_the_rest(phone):
    root, _ = phone
    audit = audit_folder(root, image_size=320)
    refused = set(audit.files("refused"))
    assert refused == {"IMG_0002 - Copy.xml", "IMG_0003.xml", "IMG_0004.xml", "IMG_0005.xml", "IMG_0006.xml",
                       "IMG_9001.xml"}
    notes = set(audit.files("note"))
    assert {"IMG_0007.xml", "IMG_0008.png", "IMG_9002.jpg", "IMG_9003.jpg"} <= notes
    msg = {p.file: p.message for p in audit.problems}
    assert "EXIF orientation 6" in msg["IMG_0003.xml"]
    assert "IMG_0002.xml" in msg["IMG_0002 - Copy.xml"] and "twice" in msg["IMG_0002 - Copy.xml"]
    assert "'Batman_face'" in msg["IMG_0005.xml"] and "'batman_face'" in msg["IMG_0005.xml"]
    assert "truncated" in msg["IMG_0004.xml"] and "outside" in msg["IMG_0006.xml"]
    assert "16-bit" in msg["IMG_0008.png"]
    assert len(audit.records) == 40 - 4  # 40 labelled photos, 4 refused (the copy and the deleted one are extra)
    assert audit.classes == ("bat_symbol", "batman_face", "joker_face", "robin_face", "robin_symbol")
    turned = [r for r in audit.records if r["orientation"] != 1]
    assert len(turned) >= 5
    text = audit.report()
    assert all(len(line) <= 120 for line in text.splitlines())
    assert str(root.parent) not in text  # no local path in a notebook's output
    for name in refused:
        assert f"refused  {name}:" in text


def test_audited_records_load_as_a_dataset_with_boxes_on_the_objects(phone, tmp_path):
    torch = pytest.importorskip("torch")
    from helpers.voc_dataset import VOCDetectionDataset

    root, _ = phone
    audit = audit_folder(root)
    splits = stratified_split(audit.records, audit.classes, seed=0)
    write_split(root, splits)
    sets = {s: VOCDetectionDataset(root, s, classes=audit.classes) for s in splits}
    assert sum(len(d) for d in sets.values()) == len(audit.records)
    image, target = sets["train"][0]
    assert image.dtype == torch.float32 and image.shape[0] == 3
    # every record of a rotated photo comes back at its displayed size
    rotated = [r for r in audit.records if r["orientation"] in (6, 8)]
    assert rotated
    for r in rotated[:3]:
        split = next(s for s, ids in splits.items() if r["id"] in ids)
        d = sets[split]
        k = [x["xml_path"].stem for x in d.records].index(r["id"])
        assert tuple(d[k][0].shape[1:]) == (r["height"], r["width"])


def test_split_is_stratified_deterministic_and_reaches_every_class(phone):
    root, _ = phone
    audit = audit_folder(root)
    a = stratified_split(audit.records, audit.classes, seed=0)
    assert a == stratified_split(audit.records, audit.classes, seed=0)
    ids = [i for v in a.values() for i in v]
    assert sorted(ids) == sorted(r["id"] for r in audit.records) and len(ids) == len(set(ids))
    rows = {r["split"]: r for r in split_counts(audit.records, a, audit.classes)}
    for c in audit.classes:
        assert rows["val"][c] >= 1 and rows["test"][c] >= 1
        total = sum(rows[s][c] for s in rows)
        assert abs(rows["train"][c] - 0.7 * total) <= 0.15 * total + 2
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(audit.records, audit.classes, fractions=(0.5, 0.2))


def test_rare_class_is_moved_into_val():
    recs = [{"id": f"a{i}", "names": ["common"]} for i in range(20)] + [{"id": "r1", "names": ["rare"]},
                                                                        {"id": "r2", "names": ["rare"]},
                                                                        {"id": "r3", "names": ["rare"]}]
    s = stratified_split(recs, ["common", "rare"], fractions=(0.7, 0.15, 0.15))
    for split in ("train", "val", "test"):
        assert any(i.startswith("r") for i in s[split]), s


def test_split_file_in_a_labelimg_folder_and_ids_with_spaces(tmp_path):
    for stem in ("my photo 1", "b"):
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / f"{stem}.jpg")
        write_voc_xml(tmp_path / f"{stem}.xml", f"{stem}.jpg", 30, 20, [[2, 2, 10, 10]], ["x"])
    write_split(tmp_path, {"train": ["my photo 1", "b"]})
    assert [f.name for f in annotation_files(tmp_path, "train")] == ["my photo 1.xml", "b.xml"]
    assert [r["filename"] for r in read_split(tmp_path, "train", ("x",))] == ["my photo 1.jpg", "b.jpg"]


def test_audit_of_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(VOCFormatError, match="no such folder"):
        audit_folder(tmp_path / "nope")
    with pytest.raises(VOCFormatError, match="LabelImg"):
        audit_folder(tmp_path)


def test_audit_with_given_classes_refuses_unknown_names(phone):
    root, _ = phone
    audit = audit_folder(root, classes=("batman_face", "bat_symbol", "robin_face", "robin_symbol"))
    joker = [p for p in audit.problems if p.level == "refused" and "unknown class 'joker_face'" in p.message]
    assert joker and all(all(n != "joker_face" for n in r["names"]) for r in audit.records)


# ---------------------------------------------------------------------------------------------
# the operating point
# ---------------------------------------------------------------------------------------------
def _brute_f1(gts, preds, t):
    tp = fp = 0
    n_gt = sum(len(g["labels"]) for g in gts)
    for g, p in zip(gts, preds, strict=True):
        keep = [j for j in np.argsort(-p["scores"], kind="stable") if p["scores"][j] >= t]
        used = set()
        for j in keep:
            best, bi = 0.5, None
            for i, (gb, gl) in enumerate(zip(g["boxes"], g["labels"], strict=True)):
                if i in used or gl != p["labels"][j]:
                    continue
                a, b = gb, p["boxes"][j]
                iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
                ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
                inter = iw * ih
                iou = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
                if iou >= best:
                    best, bi = iou, i
            if bi is None:
                fp += 1
            else:
                used.add(bi)
                tp += 1
    prec = tp / max(tp + fp, 1)
    rec = tp / n_gt
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


def test_best_f1_threshold_equals_a_brute_force_search():
    rng = np.random.default_rng(0)
    gts, preds = [], []
    for _ in range(12):
        g = rng.uniform(0, 60, (4, 2))
        gb = np.concatenate([g, g + rng.uniform(10, 30, (4, 2))], axis=1)
        gl = rng.integers(1, 4, 4)
        pb = np.concatenate([gb + rng.normal(0, 3, gb.shape), rng.uniform(0, 80, (3, 4))])
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 2)
        pl = np.concatenate([np.where(rng.random(4) < 0.8, gl, 1), rng.integers(1, 4, 3)])
        ps = np.round(rng.uniform(0, 1, 7), 2)
        gts.append({"boxes": gb, "labels": gl})
        preds.append({"boxes": pb, "labels": pl, "scores": ps})
    best = best_f1_threshold(gts, preds)
    thresholds = sorted({float(s) for p in preds for s in p["scores"]})
    brute = {t: _brute_f1(gts, preds, t) for t in thresholds}
    top = max(brute.values())
    assert best["f1"] == pytest.approx(top, abs=1e-12)
    assert best["threshold"] == max(t for t, f in brute.items() if abs(f - top) < 1e-12)
    curve = f1_curve(gts, preds)
    for t, f in zip(curve["threshold"], curve["f1"], strict=True):
        assert f == pytest.approx(brute[float(t)], abs=1e-12)
    for t in (0.0, 0.333, 0.5, thresholds[-1], 0.999):  # between and beyond the scores too
        assert scores_at(gts, preds, t)["f1"] == pytest.approx(_brute_f1(gts, preds, t), abs=1e-12)


def test_best_f1_threshold_without_detections():
    out = best_f1_threshold([{"boxes": np.zeros((1, 4)), "labels": np.array([1])}],
                            [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0), "scores": np.zeros(0)}])
    assert out["f1"] == 0.0 and out["threshold"] == 1.0


def test_open_photo_folder_from_a_zip_with_a_top_folder(tmp_path, phone):
    import zipfile

    from helpers.phone_folder import open_photo_folder

    root, _ = phone
    zpath = tmp_path / "my_photos.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(root.iterdir()):
            if p.is_file():
                zf.write(p, f"my_photos/{p.name}")
        zf.writestr("__MACOSX/my_photos/._IMG_0001.xml", b"\x00\x05junk")
    folder, line = open_photo_folder(str(zpath), tmp_path / "work")
    assert folder == tmp_path / "work" / "my_photos" / "my_photos" and "my_photos.zip" in line
    assert len(audit_folder(folder).records) == 36
    folder2, line2 = open_photo_folder(root, tmp_path / "work")
    assert folder2 == root and "your folder" in line2
    with pytest.raises(FileNotFoundError, match="PHOTOS"):
        open_photo_folder(tmp_path / "nothing_here", tmp_path / "work")


def test_zip_members_leaving_the_folder_are_refused(tmp_path):
    import zipfile

    from helpers.phone_folder import extract_zip

    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../outside.xml", b"<annotation/>")
    with pytest.raises(ValueError, match="outside"):
        extract_zip(zpath, tmp_path / "out")
    assert not (tmp_path / "outside.xml").exists()
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("a.jpg", b"not labelled")
    with pytest.raises(ValueError, match="no XML"):
        extract_zip(tmp_path / "empty.zip", tmp_path / "out2")


def test_audit_plot_is_readable(phone):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.viz import readability_problems, use_course_style

    use_course_style()
    fig = audit_folder(phone[0], image_size=256).plot()
    try:
        assert fig.get_size_inches()[0] <= 8.8 and readability_problems(fig) == []
    finally:
        plt.close(fig)
