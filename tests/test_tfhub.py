"""helpers.tfhub: the offline stand-ins keep the TF-Hub `default` signature; cache hits; bad names.

No network is used: the offline path is forced with COURSE_OFFLINE=1 (or ``online=False``), and
the online path's download failure is simulated by making ``hub.load`` raise for URLs.
"""

import os

import numpy as np
import pytest

from helpers import tfhub

pytest.importorskip("tensorflow_hub")

OUTPUT_KEYS = {"detection_boxes", "detection_scores", "detection_class_entities", "detection_class_names",
               "detection_class_labels"}


@pytest.fixture
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    return tmp_path


def check_detections(result, tf, max_n=tfhub.MAX_DETECTIONS):
    """The output contract of the real models (module docstring), checked on one result."""
    assert set(result) == OUTPUT_KEYS
    assert result["detection_boxes"].dtype == tf.float32
    assert result["detection_scores"].dtype == tf.float32
    assert result["detection_class_labels"].dtype == tf.int64
    assert result["detection_class_entities"].dtype == tf.string
    assert result["detection_class_names"].dtype == tf.string
    out = tfhub.to_numpy(result)
    boxes, scores = out["detection_boxes"], out["detection_scores"]
    n = len(scores)
    assert 1 <= n <= max_n
    assert boxes.shape == (n, 4)
    for key in ("detection_class_entities", "detection_class_names", "detection_class_labels"):
        assert out[key].shape == (n,), key
    assert ((boxes >= 0) & (boxes <= 1)).all(), "boxes are normalised"
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all(), "[ymin, xmin, ymax, xmax]"
    assert ((scores >= 0) & (scores <= 1)).all() and (np.diff(scores) <= 1e-7).all(), "scores in [0, 1], descending"
    labels = out["detection_class_labels"]
    assert ((labels >= 1) & (labels <= tfhub.NUM_CLASSES)).all()
    assert all(e == f"stand-in class {k}" for e, k in zip(out["detection_class_entities"], labels, strict=True))
    assert all(m.startswith("/m/") for m in out["detection_class_names"])
    return out


def test_offline_ssd_stand_in_end_to_end(tf, monkeypatch, capsys):
    """The real offline path: COURSE_OFFLINE=1, default variant, default cache (data/cache)."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    fn, info = tfhub.load_detector("ssd_mobilenet_v2", return_info=True)
    notice = capsys.readouterr().out.strip().splitlines()
    assert len(notice) == 1, "one clear line"
    assert notice[0].startswith("[offline]") and tfhub.HANDLES["ssd_mobilenet_v2"] in notice[0]
    assert "stand-in" in notice[0] and "random weights" in notice[0] and "meaningless" in notice[0]
    assert info.source == "stand-in" and info.variant == "full"
    assert 3e6 < info.n_params < 3e7 and info.size_mib > 10  # MobileNetV2 + SSD heads for 601 classes
    assert os.path.isfile(os.path.join(info.path, "saved_model.pb"))
    images = tf.constant(tfhub.prepare_image(np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)))
    check_detections(fn(images=images), tf)
    # any image size, like the real model (it resizes to 300x300 inside)
    check_detections(fn(images=tf.zeros([1, 123, 77, 3])), tf)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):  # one image per call, as the real one
        fn(images=tf.zeros([2, 64, 64, 3]))


def test_tiny_faster_rcnn_stand_in_has_the_same_outputs(tf, tmp_cache, capsys):
    fn, info = tfhub.load_detector("faster_rcnn_inception_resnet_v2", variant="tiny", online=False,
                                   return_info=True)
    assert "[offline]" in capsys.readouterr().out
    assert info.path.startswith(str(tmp_cache)) and info.build_s > 0
    images = tf.constant(np.random.default_rng(1).random((1, 200, 300, 3), dtype=np.float32))
    out = check_detections(fn(images=images), tf)
    again = tfhub.to_numpy(fn(images=images))
    np.testing.assert_array_equal(out["detection_boxes"], again["detection_boxes"])  # deterministic


def test_second_load_is_a_cache_hit_and_a_new_version_rebuilds(tf, tmp_cache, monkeypatch, capsys):
    before = tfhub.BUILD_COUNT["n"]
    _, first = tfhub.load_detector("ssd_mobilenet_v2", variant="tiny", online=False, return_info=True)
    pb = os.path.join(first.path, "saved_model.pb")
    mtime = os.path.getmtime(pb)
    assert tfhub.BUILD_COUNT["n"] == before + 1 and first.build_s > 0
    fn, second = tfhub.load_detector("ssd_mobilenet_v2", variant="tiny", online=False, return_info=True)
    assert tfhub.BUILD_COUNT["n"] == before + 1, "cache hit: nothing rebuilt"
    assert second.build_s == 0.0 and second.path == first.path and os.path.getmtime(pb) == mtime
    check_detections(fn(images=tf.zeros([1, 96, 96, 3])), tf)
    # a stale stand-in (older version string) is rebuilt under the new name, and the old one removed
    monkeypatch.setattr(tfhub, "STANDIN_VERSION", "test-next")
    _, third = tfhub.load_detector("ssd_mobilenet_v2", variant="tiny", online=False, return_info=True)
    assert tfhub.BUILD_COUNT["n"] == before + 2 and third.path != first.path
    assert not os.path.exists(first.path)
    assert not list(tmp_cache.glob("standins/*.tmp*")), "no half-built folder left behind"


def test_failed_download_falls_back_to_the_stand_in_with_the_reason(tf, tmp_cache, monkeypatch, capsys):
    import tensorflow_hub as hub

    real_load = hub.load

    def offline_load(handle, *args, **kwargs):
        if str(handle).startswith("http"):
            raise OSError("simulated: no route to host")
        return real_load(handle, *args, **kwargs)

    monkeypatch.setattr(hub, "load", offline_load)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_cache / "tfhub"))
    fn, info = tfhub.load_detector("ssd_mobilenet_v2", variant="tiny", online=True, return_info=True)
    line = capsys.readouterr().out.strip()
    assert "download failed" in line and "simulated" in line and info.source == "stand-in"
    assert (tmp_cache / "tfhub").is_dir(), "the online path prepares TF-Hub's cache directory"


@pytest.mark.parametrize("name", ["ssd", "faster_rcnn", "", None, "SSD_MOBILENET_V2"])
def test_unknown_detector_name_lists_the_valid_ones(name):
    with pytest.raises(ValueError, match="ssd_mobilenet_v2, faster_rcnn_inception_resnet_v2"):
        tfhub.load_detector(name, online=False)


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="variant must be one of"):
        tfhub.load_detector("ssd_mobilenet_v2", variant="huge", online=False)
    with pytest.raises(ValueError, match="variant must be one of"):
        tfhub.standin_dir("ssd_mobilenet_v2", "huge")


def test_prepare_image_and_box_conversion():
    image = np.full((4, 6, 3), 255, np.uint8)
    x = tfhub.prepare_image(image)
    assert x.shape == (1, 4, 6, 3) and x.dtype == np.float32 and x.max() == 1.0
    assert tfhub.prepare_image(image, size=(12, 8)).shape == (1, 8, 12, 3)
    with pytest.raises(ValueError, match="RGB"):
        tfhub.prepare_image(np.zeros((4, 6)))
    boxes = tfhub.boxes_to_pixels([[0.1, 0.2, 0.5, 1.0]], height=100, width=200)
    np.testing.assert_allclose(boxes, [[40.0, 10.0, 200.0, 50.0]])  # xyxy pixels
    assert tfhub.boxes_to_pixels(np.zeros((0, 4)), 10, 10).shape == (0, 4)
