"""Images a detector would misread are refused, the same way by predict and by the ONNX path."""

import numpy as np
import pytest
import torch

from helpers import detection, export


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return detection.build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=128).eval()


def photo(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (60, 90, 3), dtype=np.uint8)


@pytest.mark.parametrize("bad, message", [
    (photo().astype(np.float32), r"must lie in \[0, 1\], got 0\.\.255.*divide a 0\.\.255 image by 255"),
    (photo().astype(np.int64), r"dtype int64 is ambiguous: pass uint8"),
    (photo() > 128, r"uint8 \(0\.\.255\) or float \(0\.\.1\), got dtype bool"),
    (np.full((60, 90, 3), np.nan, np.float32), "NaN or infinite"),
])
def test_predict_and_onnx_input_refuse_an_ambiguous_or_mis_scaled_image(model, bad, message):
    with pytest.raises(ValueError, match=message):
        detection.predict(model, [bad])
    with pytest.raises(ValueError, match=message):
        export.onnx_input(bad)
    with pytest.raises(ValueError, match=message):
        detection.predict(model, [torch.from_numpy(np.ascontiguousarray(bad)).permute(2, 0, 1)])


def test_uint8_and_unit_float_give_the_same_detections_and_the_same_onnx_input(model):
    from PIL import Image

    u8 = photo(1)
    unit = u8.astype(np.float32) / 255
    a, b, c = detection.predict(model, [u8, unit, Image.fromarray(u8)])
    for other in (b, c):
        np.testing.assert_allclose(a["scores"], other["scores"], atol=1e-6)
        np.testing.assert_allclose(a["boxes"], other["boxes"], atol=1e-3)
    np.testing.assert_allclose(export.onnx_input(u8), export.onnx_input(unit), atol=1e-7)
    overshoot = np.clip(unit * 1.1, 0, 1.1)  # a bicubic resize may overshoot 1 a little: still accepted
    detection.predict(model, [overshoot])  # no error
    export.onnx_input(overshoot)
