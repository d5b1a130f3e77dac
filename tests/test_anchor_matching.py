"""Anchor assignment (match_anchors, ssd_match, sample_balanced) against torchvision's Matcher,
SSDMatcher and BalancedPositiveNegativeSampler, on random and adversarial IoU matrices."""

import numpy as np
import pytest

from helpers import anchors as ha
from helpers.boxes import box_iou

torch = pytest.importorskip("torch")
from torchvision.models.detection._utils import (  # noqa: E402
    BalancedPositiveNegativeSampler,
    Matcher,
    SSDMatcher,
)


def random_matrices(n=100, seed=0):
    """Continuous IoUs, coarse (many ties) IoUs, and IoUs of real boxes with real anchors."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        g, a = int(rng.integers(1, 7)), int(rng.integers(1, 60))
        q = rng.random((g, a)) * rng.uniform(0.2, 1.0)
        if i % 3 == 1:
            q = np.round(q * 10) / 10  # ties everywhere, values on the thresholds
        out.append(q)
    grid = ha.grid_anchors((8, 8), 16, scales=(32, 64), ratios=(0.5, 1.0, 2.0), offset=0.5)
    for _ in range(20):
        c = rng.uniform(0, 128, (4, 2))
        s = rng.uniform(10, 90, (4, 2))
        gt = np.concatenate([c - s / 2, c + s / 2], axis=1)
        out.append(box_iou(gt, grid))
    return out


ADVERSARIAL = {
    "all zero": np.zeros((3, 10)),
    "all below low": np.full((2, 5), 0.1),
    "all between": np.full((2, 5), 0.5),
    "all above high": np.full((2, 5), 0.9),
    "exactly on the thresholds": np.array([[0.3, 0.7, 0.29999, 0.69999, 0.5]]),
    "two gts tie on an anchor": np.array([[0.8, 0.2, 0.6], [0.8, 0.1, 0.6]]),
    "a gt's best anchor tied": np.array([[0.4, 0.4, 0.1, 0.4], [0.0, 0.2, 0.2, 0.1]]),
    "two gts share a best anchor": np.array([[0.6, 0.1, 0.2], [0.65, 0.3, 0.1]]),
    "one anchor": np.array([[0.2], [0.9], [0.4]]),
    "one gt": np.array([[0.1, 0.25, 0.2]]),
    "identical gts": np.tile([[0.1, 0.75, 0.45, 0.75]], (3, 1)),
}


def test_match_anchors_equals_torchvision_matcher_on_random_matrices():
    for q in random_matrices():
        for allow in (True, False):
            for high, low in ((0.7, 0.3), (0.5, 0.4)):
                ref = Matcher(high, low, allow)(torch.from_numpy(q)).numpy()
                np.testing.assert_array_equal(ha.match_anchors(q, high, low, allow), ref)


@pytest.mark.parametrize("name", list(ADVERSARIAL))
@pytest.mark.parametrize("allow", [True, False])
def test_match_anchors_equals_torchvision_matcher_on_adversarial_cases(name, allow):
    q = ADVERSARIAL[name]
    for dtype in (np.float64, np.float32):
        ref = Matcher(0.7, 0.3, allow)(torch.from_numpy(q.astype(dtype))).numpy()
        np.testing.assert_array_equal(ha.match_anchors(q.astype(dtype), 0.7, 0.3, allow), ref)


def test_match_anchors_rule_by_hand():
    q = np.array([[0.8, 0.5, 0.1, 0.0], [0.1, 0.2, 0.25, 0.0]])
    # anchor 0 foreground, 1 ignored, 2 is gt 1's best anchor (low-quality match), 3 background
    assert ha.match_anchors(q).tolist() == [0, -2, 1, -1]
    assert ha.match_anchors(q, allow_low_quality_matches=False).tolist() == [0, -2, -1, -1]
    # a low-quality match goes to the anchor's own best gt, not to the gt that chose it
    q = np.array([[0.5, 0.1], [0.4, 0.0]])
    assert ha.match_anchors(q).tolist() == [0, -1]


def test_match_anchors_without_ground_truth_or_anchors():
    with pytest.raises(ValueError):  # torchvision refuses; its detectors then label everything background
        Matcher(0.7, 0.3, True)(torch.zeros(0, 5))
    assert ha.match_anchors(np.zeros((0, 5))).tolist() == [-1] * 5
    assert ha.ssd_match(np.zeros((0, 5))).tolist() == [-1] * 5
    assert ha.match_anchors(np.zeros((3, 0))).shape == (0,)
    assert ha.ssd_match(np.zeros((3, 0))).shape == (0,)
    assert ha.match_anchors(np.zeros((0, 0))).dtype == np.int64


def test_match_anchors_rejects_bad_input():
    with pytest.raises(ValueError, match="low <= high"):
        ha.match_anchors(np.zeros((1, 2)), high=0.3, low=0.7)
    with pytest.raises(ValueError, match=r"\(G, A\)"):
        ha.match_anchors(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        ha.ssd_match(np.array([[0.5, np.nan]]))
    with pytest.raises(TypeError):
        ha.match_anchors([["a", "b"]])


def test_ssd_match_equals_torchvision_ssd_matcher():
    for q in random_matrices(seed=1) + list(ADVERSARIAL.values()):
        for threshold in (0.5,):
            ref = SSDMatcher(threshold)(torch.from_numpy(q)).numpy()
            np.testing.assert_array_equal(ha.ssd_match(q, threshold), ref)


def test_ssd_match_gives_every_ground_truth_an_anchor():
    q = np.array([[0.1, 0.2, 0.05], [0.55, 0.3, 0.0], [0.0, 0.0, 0.01]])
    m = ha.ssd_match(q)
    assert m.tolist() == [1, 0, 2]  # gt 0 and gt 2 get their best anchor although below 0.5
    assert set(m[m >= 0]) == {0, 1, 2}


def torchvision_counts(matches, batch_size, fraction):
    labels = torch.from_numpy(np.where(matches >= 0, 1, np.where(matches == -1, 0, -1)))
    pos, neg = BalancedPositiveNegativeSampler(batch_size, fraction)([labels])
    return int(pos[0].sum()), int(neg[0].sum())


@pytest.mark.parametrize("n_pos, n_neg, n_ign", [(500, 5000, 300), (40, 5000, 10), (0, 5000, 0), (300, 20, 5),
                                                 (0, 0, 7), (3, 2, 0)])
def test_sample_balanced_counts_equal_torchvision(n_pos, n_neg, n_ign):
    rng = np.random.default_rng(n_pos + n_neg)
    matches = rng.permutation(np.r_[rng.integers(0, 4, n_pos), np.full(n_neg, -1), np.full(n_ign, -2)]).astype(np.int64)
    for batch_size, fraction in ((256, 0.5), (512, 0.25), (64, 1.0)):
        pos, neg = ha.sample_balanced(matches, batch_size, fraction, rng=0)
        assert (len(pos), len(neg)) == torchvision_counts(matches, batch_size, fraction)
        assert (matches[pos] >= 0).all() and (matches[neg] == -1).all()
        assert len(np.unique(pos)) == len(pos) and len(np.unique(neg)) == len(neg)


def test_sample_balanced_draws_uniformly_like_torchvision():
    matches = np.r_[np.zeros(200, np.int64), np.full(1000, -1), np.full(50, -2)]
    labels = torch.from_numpy(np.r_[np.ones(200), np.zeros(1000), -np.ones(50)].astype(np.int64))
    sampler = BalancedPositiveNegativeSampler(256, 0.5)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ours, ref = np.zeros(len(matches)), np.zeros(len(matches))
    trials = 400
    for _ in range(trials):
        pos, neg = ha.sample_balanced(matches, rng=rng)
        ours[pos] += 1
        ours[neg] += 1
        p, n = sampler([labels])
        ref += p[0].numpy() + n[0].numpy()
    # every positive is drawn with probability 128/200, every negative 128/1000, ignored never
    for freq in (ours / trials, ref / trials):
        assert abs(freq[:200].mean() - 128 / 200) < 1e-9 and abs(freq[200:1200].mean() - 128 / 1000) < 1e-9
        assert freq[1200:].max() == 0
        # binomial spread: 400 trials, p = 0.64 -> sd 0.024; p = 0.128 -> sd 0.017
        assert np.abs(freq[:200] - 0.64).max() < 6 * 0.024
        assert np.abs(freq[200:1200] - 0.128).max() < 6 * 0.017


def test_sample_balanced_is_seeded_and_rejects_bad_input():
    m = np.r_[np.zeros(300, np.int64), np.full(300, -1)]
    a, b = ha.sample_balanced(m, rng=3), ha.sample_balanced(m, rng=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="matches"):
        ha.sample_balanced(np.zeros(3))
    with pytest.raises(ValueError, match="positive_fraction"):
        ha.sample_balanced(m, positive_fraction=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        ha.sample_balanced(m, batch_size=-1)


def test_ssd300_paper_scales_and_torchvision_default_box_generator():
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.image_list import ImageList

    np.testing.assert_allclose(ha.SSD300_PAPER_SCALES, [0.1, 0.2, 0.375, 0.55, 0.725, 0.9, 1.0])
    ours = ha.ssd_default_boxes(scales=ha.SSD300_PAPER_SCALES)
    gen = DefaultBoxGenerator([list(r) for r in ha.SSD300_ASPECT_RATIOS], scales=list(ha.SSD300_PAPER_SCALES))
    ref = gen(ImageList(torch.zeros(1, 3, 300, 300), [(300, 300)]),
              [torch.zeros(1, 1, f, f) for f in ha.SSD300_FEATURE_SIZES])[0].numpy()
    assert ours.shape == (8732, 4)
    np.testing.assert_array_equal(ours, ref)
    # conv4_3's boxes: side 0.1 * 300 = 30 px and sqrt(0.1 * 0.2) * 300 = 42.4 px
    first = ours[:4]
    np.testing.assert_allclose(first[:2, 2] - first[:2, 0], [30.0, 300 * np.sqrt(0.02)], rtol=1e-5)
