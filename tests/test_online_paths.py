"""The online code paths, run without a network against pre-filled caches (issue 10, item 6).

``build_detector(..., weights="coco")`` asks torchvision for its COCO weights; online, torch hub
downloads them once into ``$TORCH_HOME/hub/checkpoints``. Here that cache is pre-filled with
random-weight state dicts under torchvision's real file names (``tools/colab/prefill.py``, the
Colab rehearsal's code) and downloading is made to fail, so each test proves the online branch
loads from the cache, exactly as a connected learner's second run does.
"""

import math
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from helpers import detection, train
from helpers.data import CLASSES, VOCDetectionDataset, make_batman_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "colab"))
import prefill  # noqa: E402

FRCNN = "fasterrcnn_mobilenet_v3_large_320_fpn"  # notebook 05's detector
SSD = "ssdlite320_mobilenet_v3_large"
#: notebook 05's settings for the COCO start (05_batman_detector, CONFIG with WEIGHTS == "coco")
NB05_COCO = {"image_size": 128, "box_batch_size_per_image": 64, "box_head_size": None, "trainable_backbone_layers": 6}


@pytest.fixture(scope="module")
def coco_cache(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds random COCO checkpoints for FRCNN and SSD; name -> state dict."""
    home = tmp_path_factory.mktemp("torch_home")
    needed = prefill.torchvision_weights_needed()
    states = {}
    for name in (FRCNN, SSD):
        states[name] = prefill.random_state_dict(name, needed[name], seed=1)
        path = prefill.torch_checkpoint_path(needed[name], home)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(states[name], path)
    return home, states


@pytest.fixture
def offline_torch_hub(coco_cache, monkeypatch):
    """TORCH_HOME -> the pre-filled cache; any download attempt fails the test."""
    home, states = coco_cache

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}: the pre-filled cache was not used")

    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return states


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    root = tmp_path_factory.mktemp("batman")
    make_batman_dataset(root, 8, seed=5, image_size=128, split_fractions=(0.5, 0.25, 0.25))
    return VOCDetectionDataset(root, "train")


def _equal_except_head(model, state, head_prefix):
    own = model.state_dict()
    compared = [k for k in state if not k.startswith(head_prefix)]
    assert compared, "nothing to compare"
    differing = [k for k in compared if k not in own or not torch.equal(own[k], state[k])]
    return compared, differing


def test_faster_rcnn_coco_start_loads_torchvision_weights_from_the_cache(offline_torch_hub, tiny_train):
    state = offline_torch_hub[FRCNN]
    torch.manual_seed(0)
    model = detection.build_detector(FRCNN, len(CLASSES), weights="coco", **NB05_COCO)
    compared, differing = _equal_except_head(model, state, "roi_heads.box_predictor.")
    assert not differing, f"{len(differing)} of {len(compared)} tensors were not loaded from the cache: {differing[:5]}"
    assert any(k.startswith("roi_heads.box_head.") for k in compared)  # box_head_size=None keeps COCO's head
    predictor = model.roi_heads.box_predictor
    assert predictor.cls_score.out_features == len(CLASSES) + 1 and predictor.bbox_pred.out_features == 4 * (len(CLASSES) + 1)
    assert model.build_recipe["weights"] == "coco"
    frozen = [m for m in model.backbone.body.modules() if isinstance(m, torchvision.ops.FrozenBatchNorm2d)]
    assert frozen, "a pretrained start keeps torchvision's frozen batch norm"
    # ... and it trains (notebook 05's online branch: fine-tuning the COCO start)
    before = model.roi_heads.box_predictor.cls_score.weight.detach().clone()
    hist = train.train_detector(model, tiny_train, iterations=1, batch_size=2, lr=0.01, warmup=0, progress=False)
    assert math.isfinite(hist["loss"][0]) and hist["loss"][0] > 0
    assert not torch.equal(before, model.roi_heads.box_predictor.cls_score.weight)


def test_ssdlite_coco_start_loads_torchvision_weights_from_the_cache(offline_torch_hub):
    state = offline_torch_hub[SSD]
    torch.manual_seed(0)
    model = detection.build_detector(SSD, len(CLASSES), weights="coco")
    compared, differing = _equal_except_head(model, state, "head.classification_head.")
    assert not differing, f"{len(differing)} of {len(compared)} tensors were not loaded from the cache: {differing[:5]}"
    assert model.head.classification_head.num_columns == len(CLASSES) + 1
    with torch.no_grad():
        out = model.eval()([torch.rand(3, 160, 160)])
    assert out[0]["boxes"].shape[1] == 4


def test_ssdlite_coco_start_at_another_image_size_keeps_the_weights_and_resizes(offline_torch_hub):
    """SSDlite's image_size applies to the COCO start too: the same weights, run at 256x256."""
    state = offline_torch_hub[SSD]
    model = detection.build_detector(SSD, len(CLASSES), weights="coco", image_size=256)
    compared, differing = _equal_except_head(model, state, "head.classification_head.")
    assert not differing, f"{len(differing)} of {len(compared)} tensors were not loaded from the cache"
    assert model.transform.fixed_size == (256, 256) and model.transform.image_mean == [0.5, 0.5, 0.5]
    with torch.no_grad():
        batch, _ = model.eval().transform([torch.rand(3, 160, 200)])
    assert tuple(batch.tensors.shape[-2:]) == (256, 256)
    assert detection.build_detector(SSD, len(CLASSES), weights="coco").transform.fixed_size == (320, 320)


def test_without_the_cache_the_coco_start_tries_to_download(monkeypatch, tmp_path):
    """The control: an empty TORCH_HOME makes torchvision download (so the tests above used the cache)."""
    tried = []

    def no_download(url, *args, **kwargs):
        tried.append(url)
        raise OSError("no network in the test")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    url = prefill.torchvision_weights_needed()[FRCNN].url
    with pytest.raises(RuntimeError, match=r"COCO weights for .* could not be loaded from .*no network.*weights='shapes'"):
        detection.build_detector(FRCNN, len(CLASSES), weights="coco", **NB05_COCO)
    assert tried == [url]


def test_a_failed_coco_download_falls_back_to_the_shapes_backbone_and_says_why(monkeypatch, tmp_path):
    """Online (the probe answers) but the download fails: start from 'shapes', naming the failure."""
    def no_download(url, *args, **kwargs):
        raise OSError("download refused")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    weights, why = detection.default_weights(online=True)
    assert weights == "shapes"
    assert why.startswith(f"online, but torchvision's COCO weights for {FRCNN} could not be loaded (OSError: download refused)")
    assert "Numbers below are for that backbone, not for COCO pretraining" in why
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "colab"))
    import checks

    assert checks.OFFLINE_NOTICE.search(why), "the rehearsal's scan must see this fallback as an offline notice"


def test_coco_weights_reachable_reads_the_cache(offline_torch_hub):
    assert detection.coco_weights_reachable(FRCNN) == (True, prefill.torchvision_weights_needed()[FRCNN].url)


def test_course_online_makes_default_weights_choose_coco_without_probing(monkeypatch, offline_torch_hub):
    """COURSE_ONLINE=1 and the checkpoint in torch hub's cache: "coco", no probe, no download."""
    from helpers import env

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_ONLINE", "1")
    monkeypatch.setattr(env.socket, "create_connection", lambda *a, **k: pytest.fail("probed the network"))
    weights, why = detection.default_weights()
    assert weights == "coco" and why.startswith("online:")


def test_amp_on_the_cpu_is_refused_with_a_clear_error(tiny_train):
    torch.manual_seed(0)
    model = detection.build_detector(FRCNN, len(CLASSES), image_size=128, box_head_size=64)
    with pytest.raises(ValueError, match="amp .* needs a CUDA device"):
        train.train_detector(model, tiny_train, iterations=1, batch_size=2, device="cpu", amp=True, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the AMP (float16) training path needs a CUDA GPU")
def test_amp_training_step_on_cuda(tiny_train):
    torch.manual_seed(0)
    model = detection.build_detector(FRCNN, len(CLASSES), image_size=128, box_head_size=64)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    hist = train.train_detector(model, tiny_train, iterations=2, batch_size=2, lr=0.01, warmup=0, progress=False)
    assert hist["amp"] is True and hist["device"].startswith("cuda")
    assert all(math.isfinite(v) and v > 0 for v in hist["loss"])
    changed = [k for k, v in model.named_parameters() if not torch.equal(v.cpu(), before[k])]
    assert "roi_heads.box_predictor.cls_score.weight" in changed
