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
    assert len(notice) <= 4 and all(len(line) <= 120 for line in notice), "one short notice, lines a learner can read"
    assert notice[0].startswith("[offline]") and tfhub.HANDLES["ssd_mobilenet_v2"] in notice[0]
    text = " ".join(notice)
    assert "stand-in" in text and "random weights" in text and "meaningless" in text
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
    assert "simulated: no route to host" in info.fallback_reason and not info.published_weights
    assert str(tmp_cache) not in line, "the notice names $TFHUB_CACHE_DIR, not this machine's path"
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


def _save_frozen_graph(path, tf, with_weights=True):
    """A TF1 SavedModel without variables, its weights frozen into Const ops (as the TF-Hub detectors)."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="images")
        if with_weights:
            w = tf.constant(np.full((3, 3, 3, 8), 0.5, np.float32), name="conv_w")
            b = tf.constant(np.zeros((8,), np.float32), name="conv_b")
            y = tf.nn.conv2d(images, w, 1, "SAME") + b
        else:
            y = tf.tile(images, [1, 1, 1, 2])  # no float constant at all
        scores = tf.identity(tf.reduce_mean(y, axis=[1, 2])[0], name="detection_scores")
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(str(path))
            signature = tf.compat.v1.saved_model.predict_signature_def({"images": images},
                                                                       {"detection_scores": scores})
            builder.add_meta_graph_and_variables(session, [], signature_def_map={"default": signature})
            builder.save()


def test_parameters_of_a_frozen_graph_are_its_float_constants(tf, tmp_path):
    hub = tfhub._import_hub()
    _save_frozen_graph(tmp_path / "frozen", tf)
    fn = hub.load(str(tmp_path / "frozen")).signatures["default"]
    assert len(fn.variables) == 0, "a frozen graph has no variables: counting them gives 0"
    assert tfhub.count_weights(fn) == (3 * 3 * 3 * 8 + 8, "float constants of the frozen graph")
    assert tfhub.count_parameters(fn) == 224
    # the constants are the weights it computes with: 0.5 * 3 channels * (4, 6 or 9 pixels in the 3x3 window)
    np.testing.assert_allclose(fn(images=tf.ones([1, 4, 4, 3]))["detection_scores"].numpy(), 1.5 * 100 / 16)
    _save_frozen_graph(tmp_path / "empty", tf, with_weights=False)
    empty = hub.load(str(tmp_path / "empty")).signatures["default"]
    assert tfhub.count_weights(empty) == (None, "unavailable")
    info = tfhub.DetectorInfo("ssd_mobilenet_v2", "h", "tfhub", None, "p", 1.0, None, 0.1, 0.0,
                              loaded_from="TF-Hub handle h", params_from="unavailable")
    assert "parameters unavailable" in str(info) and info.params_text() == "unavailable"


def test_stand_in_parameters_come_from_its_variables(tf, tmp_cache):
    fn, info = tfhub.load_detector("ssd_mobilenet_v2", variant="tiny", online=False, return_info=True, verbose=False)
    assert info.params_from == "variables"
    assert info.n_params == sum(int(np.prod(v.shape)) for v in fn.variables) > 0


def _fake_tfhub(monkeypatch, hub, folder):
    """TF-Hub whose handles resolve to ``folder`` (a pre-filled cache, as the Colab rehearsal has)."""
    real_load = hub.load
    monkeypatch.setattr(hub, "load", lambda handle, *a, **k: real_load(str(folder) if str(handle).startswith("http")
                                                                        else handle, *a, **k))
    monkeypatch.setattr(hub, "resolve", lambda handle: str(folder))


def test_a_tfhub_load_says_what_loaded_and_claims_nothing_it_cannot_check(tf, tmp_cache, monkeypatch, capsys):
    """TF-Hub's cache pre-filled with random-weight files (the Colab rehearsal): the handle loads,
    the notice names it, and nothing claims real or accurate weights."""
    hub = tfhub._import_hub()
    built, _ = tfhub.ensure_standin("ssd_mobilenet_v2", "tiny")
    _fake_tfhub(monkeypatch, hub, built)
    fn, info = tfhub.load_detector("ssd_mobilenet_v2", online=True, return_info=True)
    line = capsys.readouterr().out.strip()
    handle = tfhub.HANDLES["ssd_mobilenet_v2"]
    assert info.source == "tfhub" and info.published_weights and info.variant is None
    assert line.startswith("[TF-Hub]") and f"loaded from TF-Hub handle {handle}" in line
    assert info.loaded_from == f"TF-Hub handle {handle}" and info.loaded_from in str(info)
    for word in ("real weights", "tf-hub weights", "accurate", "pretrained", "offline", "stand-in"):
        assert word not in line.lower() and word not in str(info).lower(), word
    assert info.params_from == "variables" and info.n_params > 0
    check_detections(fn(images=tf.zeros([1, 96, 96, 3])), tf)


def test_offline_notice_and_info_name_the_local_stand_in_without_an_absolute_path(tf, tmp_cache, capsys):
    _, info = tfhub.load_detector("faster_rcnn_inception_resnet_v2", variant="tiny", online=False, return_info=True)
    line = capsys.readouterr().out.strip()
    assert info.loaded_from == "local path <course cache>/" + f"standins/{os.path.basename(info.path)}"
    assert info.loaded_from in line and str(tmp_cache) not in line and str(tmp_cache) not in str(info)
    assert info.fallback_reason is None and "random" in info.weights


def test_startup_noise_is_dropped_and_other_lines_kept():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1.2 1 port.cc:153] oneDNN custom operations are on. You may see ...\n"
            "I0000 00:00:1.2 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
            "E0000 00:00:1.2 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n\n"
            "E0000 something that went really wrong\n")
    assert tfhub.drop_startup_noise(text) == "E0000 something that went really wrong\n"
    assert tfhub.drop_startup_noise("") == ""


def test_quiet_import_fixed_threads_and_runtime_start_in_a_fresh_process():
    """In a new process: no start-up noise on stderr, the thread pools as asked, the first ops run."""
    import subprocess
    import sys

    code = ("from helpers import tfhub; tf = tfhub.import_tensorflow(); print(tfhub.configure_threads(1, 2)); "
            "print(tfhub.start_runtime()); print(tf.config.threading.get_intra_op_parallelism_threads())")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert out[0] == "(1, 2)" and out[2] == "1"
    assert "CPU" in out[1] or "GPU" in out[1]
    for noise in ("oneDNN", "cuInit", "absl::InitializeLog", "cuda drivers"):
        assert noise not in done.stderr, done.stderr


def test_threads_cannot_be_changed_once_tensorflow_ran_and_bad_counts_are_rejected(tf):
    tf.constant(1.0) + 1.0  # the runtime is up in this test process
    current = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    if current != (3, 3):
        with pytest.raises(RuntimeError, match="restart the kernel"):
            tfhub.configure_threads(3, 3)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="must be an int >= 1"):
            tfhub.configure_threads(bad, 1)


def test_every_stand_in_says_what_it_keeps_and_changes():
    assert set(tfhub.STANDIN_DIFFERENCES) == set(tfhub.MODEL_NAMES)
    for name, diff in tfhub.STANDIN_DIFFERENCES.items():
        assert diff["keeps"] and diff["changes"], name
        assert any("random weights" in c for c in diff["changes"])
    assert any("stride 16" in c and "stride 8" in c for c in tfhub.STANDIN_DIFFERENCES["faster_rcnn_inception_resnet_v2"]["changes"])
