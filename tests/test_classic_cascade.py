"""helpers.classic.opencv_cascade_size on the cascade files the installed packages ship."""

import pytest

from helpers import classic

cv2 = pytest.importorskip("cv2")


def test_haar_frontalface_default_size():
    size = classic.opencv_cascade_size(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert size["feature_type"] == "HAAR" and size["window"] == (24, 24)
    assert size["stages"] == 25
    assert size["features"] == size["weak_classifiers"] == 2913  # one stump per feature in this file
    assert not cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml").empty()


def test_lbp_cascade_of_scikit_image():
    from skimage import data

    size = classic.opencv_cascade_size(data.lbp_frontal_face_cascade_filename())
    assert size["feature_type"] == "LBP" and size["stages"] >= 1 and size["features"] >= size["stages"]


def test_not_a_cascade(tmp_path):
    bad = tmp_path / "x.xml"
    bad.write_text("<opencv_storage><other/></opencv_storage>")
    with pytest.raises(ValueError, match="not an OpenCV cascade"):
        classic.opencv_cascade_size(bad)
