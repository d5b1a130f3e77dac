"""helpers.augment: boxes follow geometry, photometric style steps leave them alone; the
rotation pitfall's arithmetic against torchvision's own box rotation."""

import math

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from helpers.augment import (
    RandomHorizontalFlipUnless,
    RandomSketch,
    rotation_box_inflation,
    sketch,
    style_transforms,
)


def sample(h=60, w=80, labels=(1, 2)):
    image = torch.zeros(3, h, w, dtype=torch.uint8)
    image[:, 10:30, 20:50] = 255  # a white rectangle on black
    boxes = tv_tensors.BoundingBoxes([[20, 10, 50, 30], [5, 5, 15, 25]][: len(labels)], format="XYXY",
                                     canvas_size=(h, w))
    return tv_tensors.Image(image), {"boxes": boxes, "labels": torch.tensor(labels)}


def test_sketch_draws_dark_edges_on_white():
    image, _ = sample()
    out = sketch(image.as_subclass(torch.Tensor))
    assert out.shape == image.shape and out.dtype == torch.uint8
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert out[0, 40:, :].min() == 255 and out[0, 15:25, 30:40].min() == 255  # flat regions: white
    assert out[0, 10, 30] < 64 and out[0, 20, 20] < 64  # the rectangle's top and left edges: ink
    with pytest.raises(ValueError, match="uint8"):
        sketch(torch.zeros(3, 4, 4))


def test_style_steps_never_move_boxes():
    torch.manual_seed(0)
    t = style_transforms(grey=1.0, sketch_p=1.0, color_jitter=0.4)
    image, target = sample()
    out_image, out_target = t(image, target)
    assert isinstance(out_target["boxes"], tv_tensors.BoundingBoxes)
    assert torch.equal(out_target["boxes"], target["boxes"])
    assert torch.equal(out_target["labels"], target["labels"])
    assert not torch.equal(out_image, image)
    _, same = RandomSketch(p=0.0)(image, target)
    assert torch.equal(same["boxes"], target["boxes"])


def test_flip_unless_protected_label():
    image, target = sample(labels=(1, 2))
    out_image, out_target = RandomHorizontalFlipUnless(protected=[2], p=1.0)(image, target)
    assert torch.equal(out_image, image) and torch.equal(out_target["boxes"], target["boxes"])
    image, target = sample(labels=(1,))
    out_image, out_target = RandomHorizontalFlipUnless(protected=[2], p=1.0)(image, target)
    assert out_target["boxes"].tolist() == [[80 - 50, 10, 80 - 20, 30]]  # x -> W - x
    assert torch.equal(out_image, image.flip(-1))
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlipUnless([1], p=2)


@pytest.mark.parametrize("w,h,angle", [(10, 10, 45), (40, 10, 30), (10, 40, 90), (25, 15, 12)])
def test_rotation_inflation_matches_torchvisions_rotated_box(w, h, angle):
    size = 200
    x0, y0 = (size - w) / 2, (size - h) / 2  # centred, so the rotated box stays in the canvas
    boxes = tv_tensors.BoundingBoxes([[x0, y0, x0 + w, y0 + h]], format="XYXY", canvas_size=(size, size))
    rotated = v2.functional.rotate(boxes, angle=angle)
    x1, y1, x2, y2 = rotated[0].tolist()
    assert (x2 - x1) * (y2 - y1) / (w * h) == pytest.approx(rotation_box_inflation(w, h, angle), rel=1e-4)
    assert rotation_box_inflation(10, 10, 45) == pytest.approx(2.0)
    assert rotation_box_inflation(10, 10, 0) == 1.0 and math.isclose(rotation_box_inflation(7, 3, 180), 1.0)
    with pytest.raises(ValueError):
        rotation_box_inflation(0, 1, 10)
    assert np.isfinite(rotation_box_inflation(1, 1, 1e-9))
