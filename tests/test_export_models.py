"""helpers.export for every detector build_detector makes: the ONNX graph returns what PyTorch returns.

Faster R-CNN's output dict is (boxes, labels, scores), SSD's and RetinaNet's (boxes, scores, labels):
the exported graph must name its outputs by content, not by position.
"""

import numpy as np
import pytest
import torch

from helpers import detection, export
from helpers.data import VOCDetectionDataset, make_batman_dataset

# a few confident-enough detections from untrained heads, well below each model's cap
# (untrained, Faster R-CNN and SSDlite tie most of their scores; Faster R-CNN's export is tested in
# test_detection.py, SSD's dict order by the test below, and both, trained, by notebook 05's ONNX cell)
KWARGS = {"retinanet_mobilenet_v3_large_fpn": {"score_thresh": 0.0, "detections_per_img": 20}}


@pytest.mark.parametrize("name", list(KWARGS))
def test_onnx_outputs_match_pytorch_by_name(name, tmp_path):
    torch.manual_seed(0)
    model = detection.build_detector(name, 5, image_size=128, **KWARGS[name]).eval()
    # random class layers, so scores are spread, not tied at the prior / at 1/6
    head = model.head if hasattr(model, "head") else model.roi_heads.box_predictor
    if head is not None:
        with torch.no_grad():
            for p in head.parameters():
                p.normal_(0.0, 0.05)
    # a drawn page, not noise: scores then vary from place to place (noise ties them at the cap)
    make_batman_dataset(tmp_path / "data", 2, seed=4, image_size=128, split_fractions=(1.0, 0.0, 0.0))
    image = VOCDetectionDataset(tmp_path / "data", "train")[0][0]
    session = export.onnx_session(export.export_onnx(model, tmp_path / "m.onnx", example=image), threads=1)
    theirs, ours = detection.predict(model, [image])[0], export.onnx_predict(session, image)
    assert len(theirs["scores"]) > 0
    assert np.issubdtype(ours["labels"].dtype, np.integer) and set(ours["labels"]) <= set(range(1, 6))
    # scores and labels agree as sets (tied scores may come out in another order)...
    np.testing.assert_allclose(np.sort(ours["scores"]), np.sort(theirs["scores"]), atol=1e-5)
    assert sorted(ours["labels"].tolist()) == sorted(theirs["labels"].tolist())
    # ...and every detection whose score no other detection shares has the same label and box
    s = theirs["scores"]
    unique = [i for i in range(len(s)) if np.sum(np.abs(s - s[i]) < 1e-4) == 1]
    assert unique, "no detection with a unique score: the comparison would be empty"
    for i in unique:
        j = int(np.argmin(np.abs(ours["scores"] - s[i])))
        assert ours["labels"][j] == theirs["labels"][i]
        np.testing.assert_allclose(ours["boxes"][j], theirs["boxes"][i], atol=1e-2)


class _ScoresBeforeLabels(torch.nn.Module):
    """Returns its detections in SSD's dict order (boxes, scores, labels), values made from the image."""

    def forward(self, images):
        x = images[0]
        boxes = torch.stack([x[0, :4, :4].sum(1) + torch.arange(4.0), x[1, :4, :4].sum(1) + 10.0], 1).repeat(1, 2)
        scores = torch.sigmoid(x[2, :4, 0])
        labels = (torch.arange(4) % 3 + 1).to(torch.int64)
        return [{"boxes": boxes, "scores": scores, "labels": labels}]


def test_onnx_outputs_are_named_by_content_not_by_position(tmp_path):
    model = _ScoresBeforeLabels()
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(2))
    session = export.onnx_session(export.export_onnx(model, tmp_path / "order.onnx", example=image), threads=1)
    ours, theirs = export.onnx_predict(session, image), model([image])[0]
    np.testing.assert_array_equal(ours["labels"], theirs["labels"].numpy())
    np.testing.assert_allclose(ours["scores"], theirs["scores"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours["boxes"], theirs["boxes"].numpy(), rtol=1e-6)
