"""helpers.viola_jones against scikit-image (integral image, Haar features) and brute force (boosting)."""

import numpy as np
import pytest

from helpers import viola_jones as vj

feature = pytest.importorskip("skimage.feature")
transform = pytest.importorskip("skimage.transform")


def test_integral_image_matches_skimage_and_rect_sum_matches_slicing(rng):
    images = rng.random((3, 9, 7))
    ii = vj.integral_image(images)
    assert ii.shape == (3, 10, 8) and (ii[:, 0] == 0).all() and (ii[:, :, 0] == 0).all()
    np.testing.assert_allclose(ii[1, 1:, 1:], transform.integral_image(images[1]))
    r0, c0 = rng.integers(0, 9, 50), rng.integers(0, 7, 50)
    r1, c1 = r0 + rng.integers(0, 9 - r0), c0 + rng.integers(0, 7 - c0)
    sums = vj.rect_sum(ii, r0, c0, r1, c1)
    expected = np.array([[img[a:b + 1, c:d + 1].sum() for a, c, b, d in zip(r0, c0, r1, c1, strict=True)] for img in images])
    np.testing.assert_allclose(sums, expected)
    with pytest.raises(ValueError, match="rectangles"):
        vj.rect_sum(ii, 0, 0, 9, 0)
    with pytest.raises(ValueError, match="images"):
        vj.integral_image(np.zeros(5))


@pytest.mark.parametrize("ftype", ["type-2-x", "type-2-y", "type-3-x", "type-3-y", "type-4"])
def test_haar_features_match_skimage(rng, ftype):
    images = rng.random((4, 8, 8))
    coords, types = feature.haar_like_feature_coord(8, 8, ftype)
    pick = rng.choice(len(coords), size=min(60, len(coords)), replace=False)
    ours = vj.haar_features(vj.integral_image(images), coords[pick])
    for n, img in enumerate(images):
        theirs = feature.haar_like_feature(transform.integral_image(img), 0, 0, 8, 8,
                                           feature_type=types[pick], feature_coord=coords[pick])
        np.testing.assert_allclose(ours[n], theirs, atol=1e-12)


def _brute_stump_error(X, y, w):
    best = np.inf
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        cuts = np.concatenate([[values[0] - 1], (values[1:] + values[:-1]) / 2, [values[-1] + 1]])
        for t in cuts:
            for p in (1, -1):
                pred = np.where(p * (X[:, f] - t) > 0, 1, -1)
                best = min(best, w[pred != y].sum())
    return best


def test_fit_stump_finds_the_brute_force_optimum(rng):
    X = rng.integers(0, 6, size=(40, 5)).astype(float)  # many ties
    y = np.where(rng.random(40) < 0.5, 1, -1)
    w = rng.random(40)
    w /= w.sum()
    stump, err = vj.fit_stump(X, y, w)
    assert err == pytest.approx(_brute_stump_error(X, y, w))
    assert w[stump.predict(X) != y].sum() == pytest.approx(err)


def test_adaboost_separates_a_learnable_problem_and_cascade_counts(rng):
    X = rng.normal(size=(300, 6))
    y = np.where((X[:, 1] > 0.2) & (X[:, 4] < 0.5), 1, -1)
    stumps = vj.adaboost(X, y, 30)
    assert np.mean(np.sign(vj.boosted_score(X, stumps)) == y) > 0.97
    stages = vj.train_cascade(X[y > 0], X[y < 0], (1, 2, 4), min_detection_rate=0.99)
    assert 1 <= len(stages) <= 3
    counts = vj.cascade_survivors(X[y < 0], stages)
    assert counts[0] == (y < 0).sum() and (np.diff(counts) <= 0).all()
    assert np.mean(vj.cascade_predict(X[y > 0], stages)) >= 0.99 ** len(stages) - 1e-9
    assert counts[-1] == vj.cascade_predict(X[y < 0], stages).sum()


def test_boosting_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        vj.fit_stump(np.zeros((3, 2)), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="n_rounds"):
        vj.adaboost(np.zeros((3, 2)), np.array([1, -1, 1]), 0)
    with pytest.raises(ValueError, match="same F"):
        vj.train_cascade(np.zeros((3, 2)), np.zeros((3, 3)), (1,))


def test_run_cascade_computes_lazily_what_the_full_features_give(rng):
    coords, _ = feature.haar_like_feature_coord(6, 6, "type-2-x")
    images = rng.random((200, 6, 6))
    images[:100, :, 3:] += 0.8  # "faces": right half brighter
    ii = vj.integral_image(images)
    X = vj.haar_features(ii, coords)
    y = np.r_[np.ones(100), -np.ones(100)]
    stages = vj.train_cascade(X[y > 0], X[y < 0], (1, 3), 0.99)
    passed, counts = vj.run_cascade(ii, coords, stages)
    np.testing.assert_array_equal(counts, vj.cascade_survivors(X, stages))
    np.testing.assert_array_equal(passed, vj.cascade_predict(X, stages))
    assert all(len(u) <= len(s.stumps) for u, s in zip(vj.stage_features(stages), stages, strict=True))


def test_haar_features_at_offsets_equal_features_of_crops(rng):
    coords, _ = feature.haar_like_feature_coord(5, 5, ["type-2-y", "type-3-x", "type-4"])
    image = rng.random((12, 15))
    offsets = np.array([[0, 0], [7, 10], [3, 4], [7, 0]])
    crops = np.stack([image[r:r + 5, c:c + 5] for r, c in offsets])
    np.testing.assert_allclose(vj.haar_features_at(vj.integral_image(image), coords, offsets),
                               vj.haar_features(vj.integral_image(crops), coords), atol=1e-12)
    X = vj.haar_features(vj.integral_image(crops), coords)
    stages = vj.train_cascade(X[:2], X[2:], (1,), 1.0)
    passed, counts = vj.run_cascade(vj.integral_image(image), coords, stages, offsets=offsets)
    np.testing.assert_array_equal(passed, vj.cascade_predict(X, stages))
    with pytest.raises(ValueError, match="rectangles"):
        vj.haar_features_at(vj.integral_image(image), coords, [[8, 0]])


def test_scaled_features_on_an_upsampled_image_equal_the_base_features(rng):
    coords, _ = feature.haar_like_feature_coord(6, 6, ["type-2-x", "type-3-y", "type-4"])
    assert vj.scale_feature_coord(coords, 1.0) == [[list(map(tuple, r)) for r in f] for f in coords]
    crops = rng.random((20, 6, 6))
    base = vj.haar_features(vj.integral_image(crops), coords)
    big = np.kron(crops, np.ones((1, 3, 3)))  # each pixel becomes a 3x3 block: an exact 3x zoom
    scaled = vj.haar_features(vj.integral_image(big), vj.scale_feature_coord(coords, 3)) / 9
    np.testing.assert_allclose(scaled, base, atol=1e-9)
    # run_cascade on the zoomed image with scaled features decides as the cascade does on the crops
    stages = vj.train_cascade(base[:10], base[10:], (1, 2), 0.9)
    image = np.hstack(list(big))  # the 20 zoomed crops side by side
    offsets = np.column_stack([np.zeros(20, int), np.arange(20) * 18])
    passed, counts = vj.run_cascade(vj.integral_image(image), vj.scale_feature_coord(coords, 3), stages,
                                    offsets=offsets, value_scale=9)
    np.testing.assert_array_equal(passed, vj.cascade_predict(base, stages))
    np.testing.assert_array_equal(counts, vj.cascade_survivors(base, stages))
    with pytest.raises(ValueError, match="scale"):
        vj.scale_feature_coord(coords, 0.5)
