"""Both frameworks work in one test process, thanks to the import order fixed in conftest.py."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def test_torch_is_imported_before_tensorflow():
    tf = pytest.importorskip("tensorflow")
    import torchvision.ops

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert kept.tolist() == [0, 2]
    # the same numbers through TensorFlow's NMS (boxes as [y1, x1, y2, x2])
    tf_kept = tf.image.non_max_suppression(tf.constant(boxes.numpy()[:, [1, 0, 3, 2]]), [0.9, 0.8, 0.7], 3, 0.5)
    assert tf_kept.numpy().tolist() == [0, 2]


def test_helpers_refuse_torch_after_tensorflow():
    """In a fresh process, TF first then a torch-based helper gets a clear error, not a crash."""
    pytest.importorskip("tensorflow")
    code = (
        "import tensorflow\n"
        "from helpers.env import check_torch_import_order\n"
        "try:\n"
        "    check_torch_import_order()\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: TensorFlow is already imported" in out.stdout
