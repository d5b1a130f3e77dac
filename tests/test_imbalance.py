"""helpers.imbalance: the MLP's backward pass, the losses' logit gradients and the ranked AP."""

import numpy as np
import pytest

from helpers import imbalance as I


def _numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def test_mlp_grads_match_finite_differences():
    rng = np.random.default_rng(0)
    X, dz = rng.normal(size=(30, 2)), rng.normal(size=30)
    params = I.init_mlp(hidden=4, seed=1)
    analytic = I.mlp_grads(params, X, dz)
    for k, p in enumerate(params):
        p = np.array(p, dtype=float)
        params[k] = p
        numeric = _numeric_grad(lambda: float(dz @ I.mlp_logits(params, X)), p)
        np.testing.assert_allclose(analytic[k], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", I.LOSSES)
def test_logit_grad_is_the_derivative_of_the_summed_loss(kind):
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(40), np.ones(4)]
    z = rng.normal(0, 2, y.size)
    numeric = _numeric_grad(lambda: float(I.loss_per_anchor(z, y, kind).sum()), z)
    np.testing.assert_allclose(I.logit_grad(z, y, kind), numeric, rtol=1e-5, atol=1e-8)


def test_ranked_average_precision_by_hand():
    # ranking: pos, neg, pos, neg, pos -> precision at the positives 1, 2/3, 3/5
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 0, 1])
    assert I.ranked_average_precision(scores, labels) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert I.ranked_average_precision(scores, np.array([1, 1, 0, 0, 0])) == 1.0


def test_ranked_average_precision_equals_area_under_raw_pr_steps():
    rng = np.random.default_rng(3)
    labels = (rng.random(200) < 0.1).astype(int)
    scores = rng.random(200) + labels * 0.5
    order = np.argsort(-scores)
    tp = np.cumsum(labels[order])
    recall, precision = tp / labels.sum(), tp / np.arange(1, 201)
    area = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    assert I.ranked_average_precision(scores, labels) == pytest.approx(area, abs=1e-12)


def test_prior_bias_gives_pi_and_data_is_seeded():
    assert 1 / (1 + np.exp(-I.prior_bias(0.01))) == pytest.approx(0.01)
    X1, y1 = I.make_data(5, n_neg=100, n_pos=10, n_hard=20)
    X2, y2 = I.make_data(5, n_neg=100, n_pos=10, n_hard=20)
    assert X1.shape == (130, 2) and y1.sum() == 10
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_loss_shares_sum_to_one_and_training_lowers_the_loss():
    X, y = I.make_data(0, n_neg=2000, n_pos=20, n_hard=50)
    shares = I.loss_shares(I.mlp_logits(I.init_mlp(), X), y)
    for key, share in shares.items():
        if key != "counts":
            assert sum(share.values()) == pytest.approx(1.0)
    _, history = I.train("FL", X, y, (X, y), steps=30, record=(30,))
    assert history["loss"][-1] < history["loss"][0]
    assert 0 < history["ap"][30] <= 1
