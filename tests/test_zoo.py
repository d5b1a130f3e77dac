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


def test_architecture_cost_rows_print_as_a_table():
    rows = [zoo.architecture_cost("ssdlite320_mobilenet_v3_large", torch.rand(3, 40, 40), repeat=1, warmup=0, count=False)]
    assert rows[0]["params_M"] * 1e6 == zoo.published("ssdlite320_mobilenet_v3_large")["num_params"]
    assert rows[0]["coco_box_ap"] == 21.3 and "features_gmacs" not in rows[0]
    text = format_table(rows, ["model", "input", "total_ms", "coco_box_ap"], formats={"total_ms": ".0f"})
    assert "SSDlite320 MobileNetV3-L" in text and "320x320" in text and "21.3" in text


def test_format_table_layout_and_errors():
    text = format_table([{"a": "x", "b": 1.5}, {"a": "yy"}], formats={"b": ".2f"})
    assert text.splitlines() == ["| a  |    b |", "|----|-----:|", "| x  | 1.50 |", "| yy |    - |"]
    with pytest.raises(TypeError):
        format_table({"a": 1})


def test_time_interleaved_alternates_and_times_every_round():
    calls = []
    times = zoo.time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=4, warmup=1)
    assert calls == ["a", "b"] + ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert set(times) == {"a", "b"} and all(t.shape == (4,) and (t >= 0).all() for t in times.values())
    with pytest.raises(ValueError, match="repeat"):
        zoo.time_interleaved({"a": lambda: None}, repeat=0)
    with pytest.raises(ValueError, match="callables"):
        zoo.time_interleaved({})


def test_ssd_parts_count_the_published_multiply_adds_and_cover_the_model():
    # backbone + heads hold every convolution of SSDlite: their count is torchvision's _ops exactly
    row = zoo.architecture_cost("ssdlite320_mobilenet_v3_large", torch.rand(3, 60, 80), repeat=1, warmup=0)
    assert row["input"] == "320x320" and row["proposals"] is None
    assert round(row["features_gmacs"] + row["heads_gmacs"], 3) == zoo.published("ssdlite320_mobilenet_v3_large")["gflops"]
    assert 0 < row["total_min_ms"] <= row["total_ms"] and row["fps"] == pytest.approx(1000 / row["total_ms"])
    model = zoo.build_detector("ssdlite320_mobilenet_v3_large")
    parts = zoo.detector_parts(model, torch.rand(3, 60, 80))
    with torch.inference_mode():
        head = parts["heads"](parts["features"]())
    assert head["cls_logits"].shape == (1, 3234, 91) and head["bbox_regression"].shape == (1, 3234, 4)


def test_faster_rcnn_parts_run_the_box_head_on_as_many_proposals_as_the_rpn_keeps():
    model = zoo.build_detector("fasterrcnn_mobilenet_v3_large_320_fpn")
    parts = zoo.detector_parts(model, torch.rand(3, 48, 64))
    assert parts["proposals"] == model.rpn.post_nms_top_n() == 150
    assert parts["input_size"] == (320, 426)
    with torch.inference_mode():
        class_logits, box_regression = parts["heads"](parts["features"]())
    assert class_logits.shape == (150, 91) and box_regression.shape == (150, 91 * 4)
    with pytest.raises(TypeError, match="unsupported"):
        zoo.detector_parts(torch.nn.Identity(), torch.rand(3, 8, 8))


def test_ssd_nms_candidates_mirror_torchvision_postprocessing():
    # Same candidates as SSD.postprocess_detections: NMS over them, top detections_per_img, equals the model's output.
    from torchvision.ops import batched_nms

    model = zoo.build_detector("ssdlite320_mobilenet_v3_large")
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    boxes, scores, labels = zoo.ssd_nms_candidates(model, image)
    assert len(boxes) == len(scores) == len(labels) == 90 * model.topk_candidates  # random weights: every class full
    keep = batched_nms(boxes, scores, labels, model.nms_thresh)[: model.detections_per_img]
    with torch.inference_mode():
        images, _ = model.transform([image])
        expected = model.postprocess_detections(model.head(list(model.backbone(images.tensors).values())),
                                                model.anchor_generator(images, list(model.backbone(images.tensors).values())),
                                                images.image_sizes)[0]
    torch.testing.assert_close(scores[keep], expected["scores"])
    torch.testing.assert_close(boxes[keep], expected["boxes"])
    with pytest.raises(TypeError, match="SSD"):
        zoo.ssd_nms_candidates(zoo.build_detector("fasterrcnn_mobilenet_v3_large_320_fpn"), image)
