"""helpers.tiny_detectors: the tiny FCOS loss equals torchvision's FCOSHead.compute_loss on the same
outputs and assignment; the torch DETR set loss equals helpers.detr.set_loss; the duplicate count."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torchvision.models.detection.fcos import FCOSHead  # noqa: E402

from helpers import detr, fcos, shapes  # noqa: E402
from helpers import tiny_detectors as td  # noqa: E402
from helpers.ssd import to_tensor, train_model  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return shapes.make_split(6, seed=3)


def test_fcos_loss_equals_torchvision_fcos_head(data):
    images, targets = data
    torch.manual_seed(0)
    model = td.TinyFCOS(3).eval()
    batch = to_tensor(images)
    ours = td.fcos_batch_loss(model, batch, targets)
    with torch.no_grad():
        cls, ltrb, ctr = model(batch)
    s = torch.as_tensor(model.point_strides, dtype=torch.float32)[:, None]
    pts = torch.as_tensor(model.points, dtype=torch.float32)
    anchors = torch.cat([pts - s / 2, pts + s / 2], 1)  # centre = our point, size = stride
    matched = [torch.from_numpy(fcos.assign_points(model.points, model.point_strides, model.levels, t["boxes"],
                                                   model.ranges, model.center_radius)) for t in targets]
    assert sum(int((m >= 0).sum()) for m in matched) > 10
    tv_targets = [{"boxes": torch.tensor(t["boxes"], dtype=torch.float32), "labels": torch.tensor(t["labels"] - 1)}
                  for t in targets]
    head = FCOSHead(32, 1, 3, num_convs=1)
    ref = head.compute_loss(tv_targets, {"cls_logits": cls, "bbox_regression": ltrb / s, "bbox_ctrness": ctr[..., None]},
                            [anchors] * len(targets), matched)
    for k in ("classification", "bbox_regression"):
        assert ours[k].item() == pytest.approx(ref[k].item(), rel=1e-5), k
    assert ours["centerness"].item() == pytest.approx(ref["bbox_ctrness"].item(), rel=1e-5)


def test_detr_torch_set_loss_equals_numpy_set_loss(data):
    _, targets = data
    torch.manual_seed(1)
    logits, boxes = torch.randn(1, 8, 4, dtype=torch.float64), torch.rand(1, 8, 4, dtype=torch.float64) * 0.5 + 0.1
    for t in td.detr_targets(targets, 96) + [(np.zeros(0, np.int64), np.zeros((0, 4)))]:
        ours = td.detr_set_loss(logits, boxes, [t])
        ref = detr.set_loss(logits[0].numpy(), boxes[0].numpy(), *t)
        assert ours["classification"].item() == pytest.approx(ref["classification"], rel=1e-9)
        assert ours["bbox"].item() == pytest.approx(5 * ref["bbox"], rel=1e-9, abs=1e-12)
        assert ours["giou"].item() == pytest.approx(2 * ref["giou"], rel=1e-6, abs=1e-9)  # torchvision's eps


def test_detr_targets_are_normalised_cxcywh_with_0_based_labels():
    (labels, boxes), = td.detr_targets([{"boxes": np.array([[0.0, 48, 48, 96]]), "labels": np.array([3])}], 96)
    assert labels.tolist() == [2] and boxes.tolist() == [[0.25, 0.75, 0.5, 0.5]]


@pytest.mark.parametrize("name", td.ARM_NAMES)
def test_each_arm_trains_and_detects(name, data):
    images, targets = data
    model = td.build_arm(name, 3, seed=0)
    loss = {"SSD": None, "FCOS": td.fcos_batch_loss, "DETR": td.detr_batch_loss}[name]
    if loss is None:
        from helpers.ssd import ssd_batch_loss as loss
    h = train_model(model, images, targets, loss, iterations=2, batch_size=3, warmup=1, progress=False,
                    evaluate=lambda m: {"n": len(td.detect_arm(name, m, images[:2]))}, eval_at=[2])
    assert np.isfinite(h["loss"]).all() and h["checkpoints"] == [{"iteration": 2, "seconds": h["seconds"], "n": 2}]
    for nms in (True, False):
        dets = td.detect_arm(name, model, images[:2], nms=nms)
        for d in dets:
            assert d["boxes"].shape[1] == 4 and len(d["boxes"]) == len(d["scores"]) == len(d["labels"])
            assert ((d["labels"] >= 1) & (d["labels"] <= 3)).all() and (np.diff(d["scores"]) <= 0).all()
    with pytest.raises(ValueError, match="unknown detector"):
        td.build_arm("YOLO", 3)


def test_count_duplicates():
    gt = [{"boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "labels": np.array([1, 2])}]
    det = [{"boxes": np.array([[0.0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [20, 20, 30, 30], [50, 50, 60, 60]]),
            "scores": np.array([0.9, 0.8, 0.7, 0.6, 0.3]), "labels": np.array([1, 1, 1, 2, 1])}]
    c = td.count_duplicates(gt, det, score_threshold=0.5)
    # box 2 has the wrong class (a false positive, not a duplicate); box 4 is below the threshold
    assert c == {"detections": 4, "true_positives": 2, "duplicates": 1, "objects": 2}


def test_torchvision_fcos_targets_agree_with_helpers_fcos():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 120, (4, 2))
    boxes = np.round(np.concatenate([xy, xy + rng.uniform(20, 120, (4, 2))], 1), 1)
    matched, ctr = td.torchvision_fcos_targets(boxes, 256)
    pts, strides, levels = fcos.feature_points([256 // s for s in td.STRIDES], td.STRIDES, offset=0.0)
    _, _, _, ours, m = fcos.fcos_targets(pts, strides, levels, boxes, [1] * 4, fcos.level_ranges(td.STRIDES))
    assert (m >= 0).sum() > 0
    np.testing.assert_array_equal(matched, m)
    np.testing.assert_allclose(ctr, ours[m >= 0], rtol=1e-5, atol=1e-6)


def test_load_torchvision_fcos_offline_is_a_stand_in_and_says_so(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    model, used, line = td.load_torchvision_fcos(min_size=320)
    assert used == "random" and "COURSE_OFFLINE=1" in line and "none are shown" in line
    assert not model.training and model.transform.min_size == (320,)


def test_detr_layers_equal_nn_transformer_and_aux_loss_sums_the_layers(data):
    images, targets = data
    torch.manual_seed(2)
    model = td.TinyDETR(3, positions="input").eval()
    batch = to_tensor(images[:2])
    with torch.no_grad():
        logits, boxes = model.forward_all(batch)
        f16 = model.down[0](model.stem(batch))
        tokens = model.proj16(f16) + torch.nn.functional.interpolate(model.proj32(model.down[1](f16)), size=(6, 6))
        pos = torch.cat([model.row_embed[:, None].expand(-1, 6, -1), model.col_embed[None].expand(6, -1, -1)], -1)
        hs = model.transformer(tokens.flatten(2).transpose(1, 2) + pos.flatten(0, 1), model.query_embed.expand(2, -1, -1))
    assert logits.shape == (2, 2, 10, 4) and boxes.shape == (2, 2, 10, 4)
    torch.testing.assert_close(logits[-1], model.class_head(hs))
    t = td.detr_targets(targets[:2], 96)
    with torch.no_grad():
        total = td.detr_batch_loss(model, batch, targets[:2])
        last = td.detr_batch_loss(model, batch, targets[:2], aux=False)
        per_layer = [td.detr_set_loss(logits[k], boxes[k], t) for k in range(2)]
    for key in ("classification", "bbox", "giou"):
        assert total[key].item() == pytest.approx(sum(p[key].item() for p in per_layer), rel=1e-6)
        assert last[key].item() == pytest.approx(per_layer[-1][key].item(), rel=1e-6)


def test_detr_batch_loss_uses_the_models_no_object_weight(data):
    images, targets = data
    batch, t = to_tensor(images[:2]), td.detr_targets(targets[:2], 96)
    losses = {}
    for eos in (0.1, 0.5):
        torch.manual_seed(2)
        model = td.TinyDETR(3, eos_coef=eos).eval()
        with torch.no_grad():
            logits, boxes = model.forward_all(batch)
            losses[eos] = td.detr_batch_loss(model, batch, targets[:2], aux=False)["classification"].item()
            expected = td.detr_set_loss(logits[-1], boxes[-1], t, eos_coef=eos)["classification"].item()
        assert losses[eos] == pytest.approx(expected, rel=1e-6)
    assert losses[0.1] != pytest.approx(losses[0.5], rel=1e-3)  # same weights, another weight: another loss
    with pytest.raises(ValueError, match="eos_coef"):
        td.TinyDETR(3, eos_coef=0.0)


def test_detr_layers_are_torch_layers_with_positions_on_queries_and_keys_only():
    torch.manual_seed(0)
    d, src, memory, tgt = 16, torch.randn(2, 5, 16), torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    pos, query_pos = torch.randn(2, 5, d), torch.randn(2, 3, d)
    enc, dec = td.DETREncoderLayer(d, 4, 32).eval(), td.DETRDecoderLayer(d, 4, 32).eval()
    ref_enc = torch.nn.TransformerEncoderLayer(d, 4, 32, dropout=0.0, batch_first=True).eval()
    ref_dec = torch.nn.TransformerDecoderLayer(d, 4, 32, dropout=0.0, batch_first=True).eval()
    enc.load_state_dict(ref_enc.state_dict())  # same parameter names: torch's post-norm layers
    dec.load_state_dict(ref_dec.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(enc(src, torch.zeros_like(src)), ref_enc(src))
        torch.testing.assert_close(dec(tgt, memory, torch.zeros_like(tgt), torch.zeros_like(memory)), ref_dec(tgt, memory))
        x = ref_enc.norm1(src + ref_enc.self_attn(src + pos, src + pos, src)[0])  # values carry no positions
        torch.testing.assert_close(enc(src, pos), ref_enc.norm2(x + ref_enc.linear2(F.relu(ref_enc.linear1(x)))))
        y = ref_dec.norm1(tgt + ref_dec.self_attn(tgt + query_pos, tgt + query_pos, tgt)[0])
        y = ref_dec.norm2(y + ref_dec.multihead_attn(y + query_pos, memory + pos, memory)[0])
        torch.testing.assert_close(dec(tgt, memory, query_pos, pos),
                                   ref_dec.norm3(y + ref_dec.linear2(F.relu(ref_dec.linear1(y)))))


def test_tiny_detr_positions_every_layer_is_the_default_and_shapes_hold(data):
    images, _ = data
    torch.manual_seed(0)
    model = td.TinyDETR(3, num_queries=7).eval()
    assert model.positions == "every_layer" and not hasattr(model, "transformer")
    with torch.no_grad():
        logits, boxes = model.forward_all(to_tensor(images[:2]))
    assert logits.shape == (2, 2, 7, 4) and boxes.shape == (2, 2, 7, 4)
    assert float(boxes.min()) > 0 and float(boxes.max()) < 1
    with pytest.raises(ValueError, match="positions"):
        td.TinyDETR(3, positions="everywhere")


def test_tiny_detr_param_groups_give_the_cnn_its_own_rate_and_train_model_uses_them(data, monkeypatch):
    images, targets = data
    model = td.TinyDETR(3, backbone_lr_factor=10)
    groups = model.param_groups(1e-3)
    cnn = {id(p) for m in (model.stem, model.down, model.proj16, model.proj32) for p in m.parameters()}
    assert [g["lr"] for g in groups] == [pytest.approx(1e-2), pytest.approx(1e-3)]
    assert {id(p) for p in groups[0]["params"]} == cnn
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))
    seen = []
    adamw = torch.optim.AdamW

    def spy(params, **kwargs):
        optimizer = adamw(params, **kwargs)
        seen.append([g["lr"] for g in optimizer.param_groups])
        return optimizer

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    train_model(model, images[:4], targets[:4], td.detr_batch_loss, iterations=1, batch_size=2, lr=1e-3, warmup=0,
                progress=False)
    assert seen == [[pytest.approx(1e-2), pytest.approx(1e-3)]]  # the optimiser got both rates


def test_copy_backbone_copies_the_shared_cnn_and_nothing_else(data):
    from helpers.ssd import TinySSD

    torch.manual_seed(0)
    ssd, detr_model = TinySSD(3), td.TinyDETR(3)
    head_before = {k: v.clone() for k, v in detr_model.state_dict().items() if not k.startswith(("stem.", "down."))}
    assert td.copy_backbone(ssd, detr_model) is detr_model
    for part in ("stem", "down"):
        for (k, a), b in zip(getattr(ssd, part).state_dict().items(), getattr(detr_model, part).state_dict().values(),
                             strict=True):
            assert torch.equal(a, b), k
    for k, v in detr_model.state_dict().items():
        if k in head_before:
            assert torch.equal(v, head_before[k]), k
    with pytest.raises(RuntimeError):
        td.copy_backbone(TinySSD(3, width=16), detr_model)


def test_detr_detect_reads_any_decoder_layer_and_the_last_is_the_models_output(data):
    images, _ = data
    torch.manual_seed(0)
    model = td.TinyDETR(3, num_decoder_layers=3)
    last, default = td.detr_detect(model, images[:3], layer=2), td.detr_detect(model, images[:3])
    first = td.detr_detect(model, images[:3], layer=0)
    with torch.no_grad():
        logits, _ = model(to_tensor(images[:3]))
    for a, b in zip(last, default, strict=True):
        np.testing.assert_array_equal(a["boxes"], b["boxes"])
    np.testing.assert_allclose(np.sort(default[0]["scores"])[::-1],
                               np.sort(logits[0].softmax(-1)[:, :-1].max(-1).values.numpy())[::-1], rtol=1e-6)
    assert any(not np.array_equal(a["scores"], b["scores"]) for a, b in zip(first, last, strict=True))
