"""What a learner's phone folder holds (issue 21): EXIF orientations, Windows split files, 16-bit
PNGs, copied annotation files, class names in two Unicode forms.

Each test builds the input the way a phone, LabelImg or a Windows tool writes it, independently
of the code under test (the EXIF transforms below follow the EXIF 2.3 specification's table, not
Pillow), and checks what the loader makes of it.
"""

import unicodedata
import warnings

import numpy as np
import pytest
from PIL import Image

from helpers.voc import (
    VOCFormatError,
    annotation_files,
    folder_classes,
    load_rgb,
    read_split,
    read_text_file,
    write_voc_xml,
)

# ---------------------------------------------------------------------------------------------
# EXIF orientation: boxes drawn on the image as displayed (what LabelImg shows)
# ---------------------------------------------------------------------------------------------
W, H = 96, 64                 # the displayed image (landscape)
BOX = (10, 8, 40, 30)         # xyxy pixel edges on the displayed image: top-left, not symmetric


def displayed_image() -> np.ndarray:
    img = np.full((H, W, 3), 30, np.uint8)
    x1, y1, x2, y2 = BOX
    img[y1:y2, x1:x2] = (230, 20, 20)  # the object, red
    return img


def stored_pixels(display: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that a viewer applying ``orientation`` shows ``display``.

    EXIF 2.3, tag 0x0112: where the stored image's 0th row and 0th column are on the display.
    1 top/left, 2 top/right (mirrored), 3 bottom/right (180), 4 bottom/left (flipped),
    5 left/top (transpose), 6 right/top (the viewer turns it 90 cw), 7 right/bottom (transverse),
    8 left/bottom (the viewer turns it 90 ccw).
    """
    d = display
    return {
        1: d,
        2: d[:, ::-1],
        3: d[::-1, ::-1],
        4: d[::-1, :],
        5: d.transpose(1, 0, 2),
        6: np.rot90(d, k=1),      # stored turned 90 ccw; the viewer turns it back clockwise
        7: d[::-1, ::-1].transpose(1, 0, 2),
        8: np.rot90(d, k=-1),
    }[orientation]


def write_phone_photo(path, orientation: int, fmt: str = "JPEG"):
    stored = np.ascontiguousarray(stored_pixels(displayed_image(), orientation))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    return stored


def labelimg_folder(tmp_path, orientation: int, size=(W, H)):
    """A LabelImg folder: one phone photo, its XML beside it, the box drawn on the displayed image."""
    write_phone_photo(tmp_path / "photo.jpg", orientation)
    write_voc_xml(tmp_path / "photo.xml", "photo.jpg", size[0], size[1], [BOX], ["thing"], folder=tmp_path.name)
    return tmp_path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_as_labelimg_displays_it(tmp_path, orientation):
    stored = write_phone_photo(tmp_path / "p.jpg", orientation)
    assert stored.shape[:2] == ((W, H) if orientation >= 5 else (H, W))
    image, found = load_rgb(tmp_path / "p.jpg", (W, H))
    assert found == orientation
    arr = np.asarray(image).astype(float)
    assert arr.shape == (H, W, 3)
    assert np.abs(arr - displayed_image()).mean() < 4  # JPEG noise only


@pytest.mark.parametrize("orientation", range(2, 9))
def test_dataset_boxes_cover_the_object_for_every_orientation(tmp_path, orientation):
    pytest.importorskip("torch")
    from helpers.voc_dataset import VOCDetectionDataset

    ds = VOCDetectionDataset(labelimg_folder(tmp_path, orientation), None, classes=("thing",))
    image, target = ds[0]
    assert tuple(image.shape) == (3, H, W)
    x1, y1, x2, y2 = (int(v) for v in target["boxes"][0])
    inside = image[:, y1:y2, x1:x2].mean(dim=(1, 2))
    assert inside[0] > 0.8 and inside[1] < 0.2, (orientation, inside)  # the box is over the red object


@pytest.mark.parametrize("orientation", [6, 8, 5, 7])
def test_size_mismatch_explained_by_exif_says_so(tmp_path, orientation):
    # labelled by a tool that ignored EXIF: <size> is the stored (portrait) size
    labelimg_folder(tmp_path, orientation, size=(H, W))
    with pytest.raises(VOCFormatError) as info:
        load_rgb(tmp_path / "photo.jpg", (H, W), tmp_path / "photo.xml")
    msg = str(info.value)
    assert "photo.xml" in msg and f"EXIF orientation {orientation}" in msg and "LabelImg" in msg, msg


def test_size_mismatch_without_exif_does_not_blame_exif(tmp_path):
    labelimg_folder(tmp_path, 1, size=(H, W))
    with pytest.raises(VOCFormatError) as info:
        load_rgb(tmp_path / "photo.jpg", (H, W), tmp_path / "photo.xml")
    assert "EXIF" not in str(info.value) and "<size> says 64x96" in str(info.value)


# ---------------------------------------------------------------------------------------------
# split files written by Windows tools
# ---------------------------------------------------------------------------------------------
def voc_folder(tmp_path, ids=("a", "b")):
    (tmp_path / "JPEGImages").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    for i in ids:
        Image.fromarray(displayed_image()).save(tmp_path / "JPEGImages" / f"{i}.jpg")
        write_voc_xml(tmp_path / "Annotations" / f"{i}.xml", f"{i}.jpg", W, H, [BOX], ["thing"])
    return tmp_path / "ImageSets" / "Main" / "train.txt"


@pytest.mark.parametrize("encoding, bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                                           ("utf-16-be", b"\xfe\xff"), ("utf-8", b"")])
def test_split_file_with_a_bom_is_read(tmp_path, encoding, bom):
    split = voc_folder(tmp_path)
    split.write_bytes(bom + "a\r\nb\r\n".encode(encoding))  # Notepad / PowerShell 5.1, CRLF
    files = annotation_files(tmp_path, "train")
    assert [f.name for f in files] == ["a.xml", "b.xml"]


@pytest.mark.parametrize("data, words", [
    ("a\r\nb\r\n".encode("utf-16-le"), "UTF-16"),          # UTF-16 without its BOM
    ("a\ncaf\u00e9\n".encode("latin-1"), "UTF-8"),          # Latin-1 (Windows-1252) accent
    (b"\xff\xfe" + b"a\x00\x00\xd8", "UTF-16"),             # a BOM, then a broken surrogate
])
def test_undecodable_split_file_names_the_file(tmp_path, data, words):
    split = voc_folder(tmp_path)
    split.write_bytes(data)
    with pytest.raises(VOCFormatError) as info:
        annotation_files(tmp_path, "train")
    assert str(info.value).startswith(str(split)) and words in str(info.value), str(info.value)


def test_read_text_file_utf32(tmp_path):
    (tmp_path / "t.txt").write_bytes("x\ny\n".encode("utf-32"))
    assert read_text_file(tmp_path / "t.txt").split() == ["x", "y"]


# ---------------------------------------------------------------------------------------------
# 16-bit PNGs
# ---------------------------------------------------------------------------------------------
def test_16bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, W).round().astype(np.uint16), (H, 1))
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode in ("I;16", "I")
    image, _ = load_rgb(tmp_path / "deep.png", (W, H))
    arr = np.asarray(image)
    assert arr.dtype == np.uint8 and arr.shape == (H, W, 3)
    np.testing.assert_allclose(arr[..., 0], ramp / 257.0, atol=0.51)
    assert (arr[..., 0] == 255).mean() < 0.05  # clipping made 99 % of the pixels 255


def test_16bit_png_through_the_dataset(tmp_path):
    pytest.importorskip("torch")
    from helpers.voc_dataset import VOCDetectionDataset

    ramp = np.tile(np.linspace(0, 65535, W).round().astype(np.uint16), (H, 1))
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    write_voc_xml(tmp_path / "deep.xml", "deep.png", W, H, [BOX], ["thing"])
    image, _ = VOCDetectionDataset(tmp_path, None, classes=("thing",))[0]
    assert abs(float(image.mean()) - 0.5) < 0.02


def test_32bit_integer_image_out_of_16bit_range_is_refused(tmp_path):
    Image.fromarray(np.full((H, W), 1 << 20, np.int32), "I").save(tmp_path / "odd.tif")
    with pytest.raises(VOCFormatError, match=r"odd\.tif.*mode I|odd\.tif.* I image"):
        load_rgb(tmp_path / "odd.tif")


# ---------------------------------------------------------------------------------------------
# copies of annotation files, class names in two Unicode forms
# ---------------------------------------------------------------------------------------------
def test_two_annotation_files_for_one_image_are_refused_naming_both(tmp_path):
    Image.fromarray(displayed_image()).save(tmp_path / "a.jpg")
    write_voc_xml(tmp_path / "a.xml", "a.jpg", W, H, [BOX], ["thing"])
    write_voc_xml(tmp_path / "a - Copy.xml", "a.jpg", W, H, [BOX], ["thing"])
    with pytest.raises(VOCFormatError) as info:
        read_split(tmp_path, None, ("thing",))
    msg = str(info.value)
    assert "a - Copy.xml" in msg and "a.xml" in msg and "twice" in msg, msg
    # the copy is the one to delete, although " - Copy" sorts (and is read) before ".xml"
    assert msg.startswith(str(tmp_path / "a - Copy.xml")) and "already annotated by a.xml" in msg, msg


def test_class_names_in_nfc_and_nfd_are_one_class_and_said_so(tmp_path, capsys):
    nfc, nfd = unicodedata.normalize("NFC", "caf\u00e9"), unicodedata.normalize("NFD", "caf\u00e9")
    assert nfc != nfd and nfc.encode() != nfd.encode()
    for name, cls in (("a", nfc), ("b", nfd)):
        Image.fromarray(displayed_image()).save(tmp_path / f"{name}.jpg")
        write_voc_xml(tmp_path / f"{name}.xml", f"{name}.jpg", W, H, [BOX], ["x"])
        text = (tmp_path / f"{name}.xml").read_text(encoding="utf-8").replace("<name>x</name>", f"<name>{cls}</name>")
        (tmp_path / f"{name}.xml").write_bytes(text.encode("utf-8"))  # as another system's LabelImg wrote it
    assert folder_classes(tmp_path) == (nfc,)
    out = capsys.readouterr().out
    assert "NFD" in out and "b.xml" in out, out
    records = read_split(tmp_path, None, None)
    assert [r["labels"].tolist() for r in records] == [[1], [1]]
    assert read_split(tmp_path, None, (nfd,))[1]["names"] == [nfc]  # classes given in NFD match too


def test_classes_listing_both_unicode_forms_is_refused():
    from helpers.voc import check_classes

    with pytest.raises(ValueError, match="two Unicode forms"):
        check_classes([unicodedata.normalize("NFC", "caf\u00e9"), unicodedata.normalize("NFD", "caf\u00e9")])


# ---------------------------------------------------------------------------------------------
# helpers.export.onnx_predict scales as helpers.detection.predict does
# ---------------------------------------------------------------------------------------------
class _Recorder:
    """Stands in for an onnxruntime session and for a torch detector: records what it is fed."""

    def __init__(self):
        self.seen = []

    def run(self, names, feeds):  # onnxruntime's InferenceSession.run
        self.seen.append(np.array(feeds["image"]))
        return [np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32)]


def _predict_input(image):
    """What helpers.detection.predict hands the model for ``image``."""
    torch = pytest.importorskip("torch")
    from helpers import detection

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = []

        def forward(self, batch):
            self.seen += [b.numpy().copy() for b in batch]
            return [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
                     "scores": torch.zeros(0)} for _ in batch]

    model = Model()
    detection.predict(model, [image])
    return model.seen[0]


@pytest.mark.parametrize("kind", ["uint8 tensor", "float tensor", "uint8 HWC array", "float HWC array"])
def test_onnx_predict_scales_like_predict(kind):
    torch = pytest.importorskip("torch")
    from helpers import export

    u8 = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    image = {"uint8 tensor": torch.from_numpy(u8).permute(2, 0, 1).contiguous(),
             "float tensor": torch.from_numpy(u8).permute(2, 0, 1).float() / 255,
             "uint8 HWC array": u8, "float HWC array": u8.astype(np.float32) / 255}[kind]
    session = _Recorder()
    export.onnx_predict(session, image)
    fed, expected = session.seen[0], _predict_input(image)
    assert fed.dtype == np.float32 and fed.shape == (3, 24, 32)
    np.testing.assert_allclose(fed, expected, rtol=0, atol=1e-7)
    assert fed.max() <= 1.0


def test_onnx_predict_keeps_a_chw_float_array_and_refuses_other_shapes():
    pytest.importorskip("torch")
    from helpers import export

    chw = np.random.default_rng(1).uniform(0, 1, (3, 8, 10)).astype(np.float64)
    session = _Recorder()
    export.onnx_predict(session, chw)
    np.testing.assert_allclose(session.seen[0], chw.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        export.onnx_predict(session, np.zeros((1, 3, 8, 8), np.float32))


# ---------------------------------------------------------------------------------------------
# helpers.video.save_gif validates its frames
# ---------------------------------------------------------------------------------------------
def _gif_frames(path):
    import imageio.v3 as iio

    return np.asarray(iio.imread(path, index=None))


def test_save_gif_scales_float_frames_in_0_1(tmp_path):
    from helpers.video import save_gif

    frames = [np.full((16, 16, 3), v, np.float64) for v in (0.25, 0.5, 1.0)]
    out = _gif_frames(save_gif(frames, tmp_path / "f.gif", fps=4))
    means = out[..., :3].reshape(len(frames), -1).mean(axis=1)
    np.testing.assert_allclose(means, [64, 128, 255], atol=3)  # not an all-black GIF


@pytest.mark.parametrize("bad, words", [(np.full((8, 8, 3), 300, np.int64), "0..255"),
                                        (np.full((8, 8, 3), -1.0), "[0, 1]"),
                                        (np.full((8, 8, 3), 2.0, np.float32), "[0, 1]"),
                                        (np.full((8, 8, 3), np.nan), "NaN"),
                                        (np.zeros((8, 8, 5), np.uint8), "shape")])
def test_save_gif_refuses_out_of_range_frames(tmp_path, bad, words):
    from helpers.video import save_gif

    ok = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="frame 1") as info:
        save_gif([ok, bad], tmp_path / "b.gif")
    assert words in str(info.value)
    assert not (tmp_path / "b.gif").exists()


@pytest.mark.parametrize("fps", [0, -2, float("nan"), float("inf"), "8"])
def test_save_gif_fps_must_be_positive(tmp_path, fps):
    from helpers.video import save_gif

    with pytest.raises(ValueError, match="fps"):
        save_gif([np.zeros((8, 8, 3), np.uint8)], tmp_path / "c.gif", fps=fps)


def test_save_gif_uint8_frames_unchanged(tmp_path):
    from helpers.video import save_gif

    frames = [np.full((8, 8, 3), v, np.uint8) for v in (10, 200)]
    out = _gif_frames(save_gif(frames, tmp_path / "u.gif"))
    np.testing.assert_allclose(out[..., :3].reshape(2, -1).mean(axis=1), [10, 200], atol=2)


# ---------------------------------------------------------------------------------------------
# helpers.env on a minimal install, is_online with huge timeouts
# ---------------------------------------------------------------------------------------------
def test_in_colab_false_without_a_google_package(monkeypatch):
    import sys

    from helpers import env

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "google", None)  # `import google` fails, as without protobuf & co.
    assert env.in_colab() is False
    line = env.describe_environment(check_network=False)
    assert "platform: " in line and "Colab" not in line


@pytest.mark.parametrize("timeout", [float("inf"), 1e300, 2**64])
def test_is_online_clamps_huge_timeouts(monkeypatch, timeout):
    import socket
    import time

    from helpers import env

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    with socket.socket() as s:  # a local port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tic = time.monotonic()
    assert env.is_online(timeout=timeout, hosts=(("127.0.0.1", port),)) is False
    assert time.monotonic() - tic < 10


# ---------------------------------------------------------------------------------------------
# helpers.cold_start: the fresh process is immune to the caller's folder and to "-" paths
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")

    class Tiny(torch.nn.Module):  # the exported detectors' interface: image -> boxes, labels, scores
        def forward(self, image):
            m = image.mean()
            return m.reshape(1, 1).repeat(1, 4), (m > 2).to(torch.int64).reshape(1), m.reshape(1)

    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "-model.onnx"  # a name that starts with "-"
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(Tiny(), (torch.rand(3, 8, 8),), str(path), input_names=["image"],
                          output_names=["boxes", "labels", "scores"], dynamo=False,
                          dynamic_axes={"image": {1: "h", 2: "w"}})
    return path


def test_cold_start_ignores_the_callers_folder_and_dash_paths(tiny_onnx, monkeypatch):
    from helpers import cold_start

    folder = tiny_onnx.parent
    (folder / "helpers.py").write_text("raise SystemExit('a helpers.py in the caller folder ran')\n")
    (folder / "numpy.py").write_text("raise SystemExit('a numpy.py in the caller folder ran')\n")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    result = cold_start.fresh_process_latency("onnxruntime", "-model.onnx", np.full((3, 8, 8), 0.5, np.float32),
                                              repeat=2)
    assert result.runtime == "onnxruntime" and result.first_call_ms > 0
    # the cold start is import + load + first call, each reported
    assert result.import_s > 0.05  # numpy, onnxruntime and helpers.export (torch) are imported in it
    assert result.cold_s == pytest.approx(result.import_s + result.load_s + result.first_call_ms / 1000)
    assert result.as_dict()["cold_s"] == result.cold_s
    text = str(result)
    assert f"cold start {result.cold_s:.2f} s = import {result.import_s:.2f} s + load" in text
    assert "first call" in text
