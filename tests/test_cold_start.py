"""helpers.cold_start: a detector's cold start timed in a fresh process (torch checkpoint and ONNX)."""

import numpy as np
import pytest
import torch

from helpers import cold_start, detection


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = detection.build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 5, image_size=128,
                                     box_head_size=32).eval()
    return detection.save_checkpoint(tmp_path_factory.mktemp("cold") / "m.pt", model)


def test_fresh_process_times_import_load_first_and_warm_calls(checkpoint):
    image = torch.rand(3, 128, 128)
    result = cold_start.fresh_process_latency("torch", checkpoint, image, threads=1, repeat=3)
    assert result.runtime == "torch" and result.threads == 1 and result.repeat == 3
    assert 0 < result.import_s and 0 < result.load_s and result.first_call_ms > 0
    assert result.warm_min_ms <= result.warm_median_ms <= result.warm_max_ms
    # the parent's view of the child includes every part the child timed
    assert result.process_s > result.import_s + result.load_s + result.first_call_ms / 1000
    assert "fresh process (torch, 1 thread(s))" in str(result)
    # torch alone takes well over 100 MiB; the model (a few MiB of weights) adds to that
    assert result.peak_rss_mib > 100 and 0 < result.model_rss_mib < result.peak_rss_mib


def test_child_failure_and_bad_arguments_are_reported(checkpoint, tmp_path):
    image = np.zeros((3, 64, 64), np.float32)
    not_a_checkpoint = tmp_path / "bad.pt"
    torch.save({"something": 1}, not_a_checkpoint)
    with pytest.raises(RuntimeError, match="not a detector checkpoint"):
        cold_start.fresh_process_latency("torch", not_a_checkpoint, image, repeat=1)
    with pytest.raises(FileNotFoundError):
        cold_start.fresh_process_latency("torch", tmp_path / "missing.pt", image)
    with pytest.raises(ValueError, match="runtime"):
        cold_start.fresh_process_latency("tensorrt", checkpoint, image)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        cold_start.fresh_process_latency("torch", checkpoint, np.zeros((64, 64, 3)))
    with pytest.raises(ValueError, match="repeat"):
        cold_start.fresh_process_latency("torch", checkpoint, image, repeat=0)


def test_fresh_process_runs_an_onnx_file(checkpoint, tmp_path):
    from helpers import export

    model, _ = detection.load_checkpoint(checkpoint)
    image = torch.rand(3, 128, 128)
    path = export.export_onnx(model.eval(), tmp_path / "m.onnx", example=image)
    result = cold_start.fresh_process_latency("onnxruntime", path, image, threads=1, repeat=2)
    assert result.runtime == "onnxruntime" and result.repeat == 2
    assert result.load_s > 0 and result.first_call_ms > 0 and result.warm_median_ms > 0
    assert result.model_rss_mib > 0
