"""helpers.zoo: detectors built offline, counted against torchvision's published metadata (one small model)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from helpers import zoo  # noqa: E402
from helpers.tables import format_table  # noqa: E402


def test_published_metadata_is_read_offline():
    meta = zoo.published("fasterrcnn_resnet50_fpn")
    assert meta["box_ap"] == 37.0 and meta["num_params"] == 41755286
    assert meta["weights"] == "FasterRCNN_ResNet50_FPN_Weights.COCO_V1"
    with pytest.raises(ValueError, match="unknown detector"):
        zoo.published("yolov8")


def test_built_detector_has_the_published_parameter_count():
    model = zoo.build_detector("fasterrcnn_mobilenet_v3_large_fpn")
    assert not model.training
    assert zoo.count_parameters(model) == zoo.published("fasterrcnn_mobilenet_v3_large_fpn")["num_params"]


def test_freeze_batchnorm_keeps_eval_outputs_and_moves_affine_to_buffers():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 2)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    before = net(x)
    zoo.freeze_batchnorm(net)
    assert zoo.count_parameters(net) == 3 * 4 * 9 + 4
    torch.testing.assert_close(net(x), before, rtol=1e-5, atol=1e-6)


def test_count_macs_is_half_the_flops_of_convs_and_linears():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.Flatten(), torch.nn.Linear(8 * 10 * 10, 5))
    assert zoo.count_macs(net, torch.zeros(1, 3, 10, 10)) == 3 * 8 * 9 * 100 + 800 * 5


def test_ssdlite_table_row_matches_published_gflops():
    # SSDlite resizes every input to 320x320 and has no per-proposal stage: its count is exact.
    rows = zoo.detector_table(["ssdlite320_mobilenet_v3_large"], image_size=(64, 80), warmup=0, repeat=1, progress=False)
    (row,) = rows
    assert round(row["gmacs"], 3) == row["published_gflops"] == 0.583
    assert row["params_M"] == row["published_params_M"] and row["coco_box_ap"] == 21.3
    assert row["latency_ms"] > 0 and row["fps"] == pytest.approx(1000 / row["latency_ms"])
    text = format_table(rows, ["model", "gmacs", "coco_box_ap"], formats={"gmacs": ".3f"})
    assert "SSDlite320 MobileNetV3-L" in text and "0.583" in text and "21.3" in text


def test_format_table_layout_and_errors():
    text = format_table([{"a": "x", "b": 1.5}, {"a": "yy"}], formats={"b": ".2f"})
    assert text.splitlines() == ["| a  |    b |", "|----|-----:|", "| x  | 1.50 |", "| yy |    - |"]
    with pytest.raises(TypeError):
        format_table({"a": 1})
