"""Faster R-CNN, RetinaNet and SSDlite from the same start at the same input size (notebook 05's comparison).

Every model is built once per module with ``weights="shapes"`` (the committed offline backbone)
at ``image_size=256`` and run on 256x256 images, one step at most, so the file stays within a
few seconds per test on 2 CPU cores.
"""

import copy
import math

import numpy as np
import pytest
import torch
import torchvision
from torchvision.models.detection import FasterRCNN, RetinaNet
from torchvision.models.detection.ssd import SSD

from helpers import detection

FRCNN = "fasterrcnn_mobilenet_v3_large_320_fpn"
RETINA = "retinanet_mobilenet_v3_large_fpn"
SSDLITE = "ssdlite320_mobilenet_v3_large"
K = 5  # foreground classes
SIZE = 256
#: score thresholds at 0, so that even random heads return detections whose labels can be checked (and
#: a narrow Faster R-CNN box head, which only makes the test faster: it starts random in any case)
OPTIONS = {FRCNN: {"box_score_thresh": 0.0, "rpn_score_thresh": 0.0, "box_head_size": 64},
           RETINA: {"score_thresh": 0.0}, SSDLITE: {}}
LOSSES = {FRCNN: {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"},
          RETINA: {"classification", "bbox_regression"}, SSDLITE: {"bbox_regression", "classification"}}

pytestmark = pytest.mark.skipif(not detection.SHAPES_BACKBONE.is_file(),
                                reason="no committed shapes checkpoint (run tools/pretrain_backbone.py)")


@pytest.fixture(scope="module")
def parts():
    return detection.load_backbone_state()[0]


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {name: detection.build_detector(name, K, weights="shapes", image_size=SIZE, **OPTIONS[name])
            for name in (FRCNN, RETINA, SSDLITE)}


def _image(seed=0, size=SIZE):
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed))


def _backbone(model):
    """The module holding ``mobilenet_v3_large().features`` (the SSD regroups it at C4)."""
    return model.backbone.features if isinstance(model, SSD) else model.backbone.body


def _tensors(state):
    """(name, tensor) in order, without BatchNorm's step counters (FrozenBatchNorm2d has none)."""
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


@pytest.mark.parametrize("name", [FRCNN, RETINA, SSDLITE])
def test_every_model_starts_from_the_shapes_backbone(models, parts, name):
    model = models[name]
    ours, theirs = _tensors(_backbone(model).state_dict()), _tensors(parts["features"])
    assert len(ours) == len(theirs) > 200  # every conv and BatchNorm tensor of the 17 blocks
    for (k, a), (k2, b) in zip(ours, theirs, strict=True):
        assert a.shape == b.shape and torch.equal(a, b), f"{name}: backbone {k} is not the checkpoint's {k2}"
    if name != SSDLITE:  # the pyramid transfers too
        fpn = model.backbone.fpn.state_dict()
        assert fpn.keys() == parts["fpn"].keys()
        assert all(torch.equal(fpn[k], v) for k, v in parts["fpn"].items())
    assert model.build_recipe["weights"] == "shapes" and model.build_recipe["image_size"] == SIZE


def test_the_three_backbones_see_the_same_input_and_compute_the_same_features(models):
    """Same normalisation, and the same C5 features (SSDlite's BatchNorm uses the checkpoint's epsilon)."""
    frcnn, retina, ssd = models[FRCNN], models[RETINA], models[SSDLITE]
    for m in (retina, ssd):
        assert m.transform.image_mean == frcnn.transform.image_mean == [0.485, 0.456, 0.406]
        assert m.transform.image_std == frcnn.transform.image_std == [0.229, 0.224, 0.225]
    image = _image(1)
    try:
        with torch.no_grad():
            c5 = {}
            for name, m in models.items():
                x = m.eval().transform.normalize(image)[None]
                c5[name] = (ssd.backbone.features[1](ssd.backbone.features[0](x)) if m is ssd
                            else m.backbone.body(x)["1"])
    finally:
        for m in models.values():
            m.train()
    assert c5[FRCNN].shape == (1, 960, SIZE // 32, SIZE // 32)
    torch.testing.assert_close(c5[RETINA], c5[FRCNN], rtol=0, atol=0)  # the very same layout
    torch.testing.assert_close(c5[SSDLITE], c5[FRCNN], rtol=1e-4, atol=1e-4)  # BatchNorm2d vs Frozen: rounding


@pytest.mark.parametrize("name", [FRCNN, RETINA, SSDLITE])
def test_a_training_step_gives_finite_losses(models, name):
    model = copy.deepcopy(models[name]).train()  # a training step updates BatchNorm statistics
    # two images: SSDlite's extra layers end in 1x1 maps, whose training BatchNorm needs a batch of 2
    images = [_image(2), _image(3)]
    targets = [{"boxes": torch.tensor([[30.0, 40.0, 120.0, 150.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[100.0, 60.0, 200.0, 240.0], [10.0, 10.0, 60.0, 50.0]]),
                "labels": torch.tensor([K, 3])}]
    losses = model(images, targets)
    assert set(losses) == LOSSES[name]
    assert all(math.isfinite(v.item()) and v.item() > 0 for v in losses.values()), losses
    sum(losses.values()).backward()
    trained = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert len(trained) > 50 and any(n.startswith("backbone.") for n in trained)
    unreached = [n for n, g in trained.items() if g is None or not torch.isfinite(g).all()]
    assert not unreached, f"{name}: no finite gradient for {unreached[:5]}"


@pytest.mark.parametrize("name", [FRCNN, RETINA, SSDLITE])
def test_eval_on_a_256px_image_returns_labels_1_to_num_classes(models, name):
    (pred,) = detection.predict(models[name], [_image(4)])
    assert models[name].training  # predict puts the model back in train mode
    n = len(pred["labels"])
    assert n > 0 and pred["boxes"].shape == (n, 4) and pred["scores"].shape == (n,)
    assert pred["boxes"].dtype == np.float32 and pred["labels"].dtype == np.int64
    assert pred["labels"].min() >= 1 and pred["labels"].max() <= K, np.unique(pred["labels"])
    assert (pred["boxes"] >= 0).all() and (pred["boxes"] <= SIZE).all()


def test_retinanet_never_predicts_its_background_column(models):
    """torchvision's own post-processing would turn column 0 into label-0 detections (the control)."""
    model = models[RETINA].eval()
    try:
        with torch.no_grad():
            images, _ = model.transform([_image(4)])
            features = list(model.backbone(images.tensors).values())
            head = model.head(features)
            anchors = model.anchor_generator(images, features)
            per_level = [f.shape[-2] * f.shape[-1] * 15 for f in features]
            split = {k: list(v.split(per_level, dim=1)) for k, v in head.items()}
            plain = RetinaNet.postprocess_detections(model, split, [list(a.split(per_level)) for a in anchors],
                                                     images.image_sizes)
            ours = model.postprocess_detections(split, [list(a.split(per_level)) for a in anchors],
                                                images.image_sizes)
    finally:
        model.train()
    assert (plain[0]["labels"] == 0).any()
    assert len(ours[0]["labels"]) > 0 and (ours[0]["labels"] >= 1).all()


@pytest.mark.parametrize("size", [SIZE, 320])
def test_ssdlite_resizes_images_to_image_size(models, size):
    model = models[SSDLITE] if size == SIZE else detection.build_detector(SSDLITE, K)  # 320: the default
    assert model.transform.fixed_size == (size, size)
    with torch.no_grad():
        batch, _ = model.eval().transform([torch.rand(3, 100, 150)])
        maps = model.backbone(batch.tensors)
    model.train()
    assert tuple(batch.tensors.shape[-2:]) == (size, size)
    sides = [f.shape[-1] for f in maps.values()]
    assert sides == ([16, 8, 4, 2, 1, 1] if size == SIZE else [20, 10, 5, 3, 2, 1])


def test_ssdlite_from_shapes_has_the_full_tail_and_torchvisions_trainable_layers(models, parts):
    model = models[SSDLITE]
    bns = [m for m in model.backbone.features.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-5 and m.momentum == 0.03 for m in bns)  # the checkpoint's eps; trains
    assert model.backbone.features[1][-1].out_channels == 960  # full tail (reduced: 480)
    assert all(p.requires_grad for p in model.backbone.features.parameters())  # torchvision's default: 6 of 6
    two = detection.build_detector(SSDLITE, K, weights="shapes", image_size=SIZE, trainable_backbone_layers=2)
    first, second = two.backbone.features
    assert not first[0][0].weight.requires_grad and second[-1][0].weight.requires_grad
    random = detection.build_detector(SSDLITE, K, image_size=SIZE)  # torchvision's random layout
    assert random.backbone.features[1][-1].out_channels == 480 and random.transform.image_mean == [0.5] * 3


def test_retinanet_is_torchvisions_on_the_faster_rcnn_backbone_and_anchors(models):
    retina, frcnn = models[RETINA], models[FRCNN]
    assert isinstance(retina, RetinaNet) and isinstance(frcnn, FasterRCNN)
    assert type(retina.backbone) is type(frcnn.backbone)
    assert {k: v.shape for k, v in retina.backbone.state_dict().items()} == \
           {k: v.shape for k, v in frcnn.backbone.state_dict().items()}
    assert retina.anchor_generator.sizes == frcnn.rpn.anchor_generator.sizes == ((32, 64, 128, 256, 512),) * 3
    assert retina.anchor_generator.aspect_ratios == frcnn.rpn.anchor_generator.aspect_ratios
    assert retina.anchor_generator.num_anchors_per_location() == [15, 15, 15]
    head = retina.head.classification_head
    assert head.num_classes == K + 1 and head.cls_logits.out_channels == 15 * (K + 1)
    assert retina.head.regression_head.bbox_reg.out_channels == 15 * 4
    assert retina.transform.min_size == (SIZE,) and retina.transform.max_size == 2 * SIZE
    frozen = [m for m in retina.backbone.body.modules() if isinstance(m, torchvision.ops.FrozenBatchNorm2d)]
    assert len(frozen) == len([m for m in frcnn.backbone.body.modules()
                               if isinstance(m, torchvision.ops.FrozenBatchNorm2d)]) > 0
    trains = [n for n, p in retina.backbone.body.named_parameters() if p.requires_grad]
    assert trains == [n for n, p in frcnn.backbone.body.named_parameters() if p.requires_grad]  # top 3 stages
    with torch.no_grad():
        maps = retina.backbone(torch.rand(1, 3, SIZE, SIZE))
    assert list(maps) == ["0", "1", "pool"] and all(f.shape[1] == 256 for f in maps.values())
    random = detection.build_detector(RETINA, K, image_size=SIZE)  # nothing pretrained: BatchNorm trains
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in random.backbone.body.modules())
    assert all(p.requires_grad for p in random.backbone.body.parameters())


def test_retinanet_refuses_coco_weights_and_box_head_size():
    with pytest.raises(ValueError, match=r"no COCO weights for retinanet.*ResNet-50-FPN.*retinanet_resnet50_fpn.*"
                                         r"weights='shapes'"):
        detection.build_detector(RETINA, K, weights="coco")
    with pytest.raises(ValueError, match="box_head_size is a Faster R-CNN option; RetinaNet has no box head"):
        detection.build_detector(RETINA, K, weights="shapes", box_head_size=64)
    assert RETINA in detection.MODELS and RETINA not in detection.COCO_MODELS
    reachable, why = detection.coco_weights_reachable(RETINA)
    assert not reachable and "no COCO weights" in why


@pytest.mark.parametrize("name", [RETINA, SSDLITE])
def test_checkpoint_round_trip_rebuilds_the_same_model(models, name, tmp_path):
    model = models[name]
    path = detection.save_checkpoint(tmp_path / f"{name}.pt", model)
    loaded, _ = detection.load_checkpoint(path)  # rebuilt from the recipe, nothing downloaded
    assert type(loaded) is type(model) and loaded.build_recipe == model.build_recipe
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert str(loaded.transform) == str(model.transform)
    assert loaded.transform.fixed_size == model.transform.fixed_size
    norms = [(type(m).__name__, getattr(m, "eps", None), getattr(m, "momentum", None)) for m in model.modules()]
    assert norms == [(type(m).__name__, getattr(m, "eps", None), getattr(m, "momentum", None))
                     for m in loaded.modules()]
    assert [p.requires_grad for p in model.parameters()] == [p.requires_grad for p in loaded.parameters()]
    image = _image(5)
    a, b = detection.predict(model, [image])[0], detection.predict(loaded, [image])[0]
    assert len(a["labels"]) > 0
    np.testing.assert_array_equal(a["labels"], b["labels"])
    np.testing.assert_allclose(a["boxes"], b["boxes"], atol=1e-4)


class _TwoScenes:
    """The least ``evaluate_detector`` reads: ``(image, target)`` items and ``records``; no class names,
    so the classes come from the model's ``build_recipe["num_classes"]``."""

    records = [{"boxes": [[30.0, 40.0, 120.0, 150.0]], "labels": [1], "width": SIZE, "height": SIZE},
               {"boxes": [[100.0, 60.0, 200.0, 240.0]], "labels": [K], "width": SIZE, "height": SIZE}]

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return _image(10 + i), {}


@pytest.mark.parametrize("name", [FRCNN, RETINA, SSDLITE])
def test_evaluate_detector_scores_every_model(models, name):
    out = detection.evaluate_detector(models[name], _TwoScenes())
    assert set(out["AP50_per_class"]) == set(range(1, K + 1))
    assert 0.0 <= out["coco"]["AP50"] <= 1.0 and len(out["predictions"]) == 2
    assert {d["category_id"] for d in out["detections"]} <= set(range(1, K + 1))
