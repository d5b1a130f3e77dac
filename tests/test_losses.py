"""helpers.losses against the reference implementations: torch, torchvision and tf.keras.

Random inputs at several scales (logits up to +/-100, and +/-1000 for the logit forms), the
extremes (probabilities of exactly 0 and 1), gradients against torch.autograd, and bad input.
torch is imported first by conftest.py; TensorFlow is imported inside the Keras tests.
"""

import math

import numpy as np
import pytest

from helpers import losses as L

torch = pytest.importorskip("torch")
F = torch.nn.functional
ops = pytest.importorskip("torchvision.ops")

TOL = dict(rtol=1e-6, atol=1e-6)
SCALES = [0.01, 1.0, 10.0, 100.0]
REDUCTIONS = ["none", "mean", "sum"]


def t64(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def close(ours, ref, **tol):
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), ref, **(tol or TOL))


def random_logits(rng, scale, shape=(64, 5)):
    return rng.normal(size=shape) * scale


def binary_targets(rng, shape):
    return (rng.random(shape) < 0.3).astype(np.float64)


# --------------------------------------------------------------------------- torch: cross-entropy


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities_matches_torch(rng, scale, reduction):
    p = L.sigmoid(random_logits(rng, scale, (200,)))  # at scale 100 many p are exactly 0 or 1
    p[:4] = [0.0, 1.0, 0.0, 1.0]
    y = binary_targets(rng, p.shape)
    y[:4] = [1.0, 0.0, 0.0, 1.0]
    y[4:20] = rng.random(16)  # soft targets too
    close(L.binary_cross_entropy(p, y, reduction), F.binary_cross_entropy(t64(p), t64(y), reduction=reduction))


def test_bce_extremes_follow_torch_clamp():
    # torch clamps log(p) at -100: a certain wrong answer costs 100, a certain right one 0
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-300])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    ours = L.binary_cross_entropy(p, y, "none")
    np.testing.assert_array_equal(ours, [100.0, 100.0, 0.0, 0.0, 100.0])
    close(ours, F.binary_cross_entropy(t64(p), t64(y), reduction="none"))


@pytest.mark.parametrize("scale", SCALES + [1000.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(rng, scale, reduction):
    x = random_logits(rng, scale)
    y = binary_targets(rng, x.shape)
    y[0] = rng.random(x.shape[1])
    ours = L.binary_cross_entropy_with_logits(x, y, reduction)
    close(ours, F.binary_cross_entropy_with_logits(t64(x), t64(y), reduction=reduction))
    assert np.isfinite(ours).all()


def test_bce_with_logits_is_exact_at_1000():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(L.binary_cross_entropy_with_logits(x, y, "none"), [0.0, 1000.0, 1000.0, 0.0])


@pytest.mark.parametrize("scale", SCALES + [1000.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_labels_matches_torch(rng, scale, reduction):
    x = random_logits(rng, scale, (50, 7))
    labels = rng.integers(0, 7, size=50)
    ours = L.cross_entropy(x, labels, reduction)
    close(ours, F.cross_entropy(t64(x), torch.as_tensor(labels), reduction=reduction))
    assert np.isfinite(ours).all()


@pytest.mark.parametrize("scale", SCALES + [1000.0])
def test_cross_entropy_with_one_hot_and_probabilities_matches_torch(rng, scale):
    x = random_logits(rng, scale, (40, 4))
    labels = rng.integers(0, 4, size=40)
    one_hot = np.eye(4)[labels]
    close(L.cross_entropy(x, one_hot), F.cross_entropy(t64(x), t64(one_hot)))
    close(L.cross_entropy(x, one_hot, "none"), L.cross_entropy(x, labels, "none"), rtol=0, atol=0)
    probs = L.softmax(rng.normal(size=(40, 4)))  # soft targets (label smoothing, distillation)
    close(L.cross_entropy(x, probs, "none"), F.cross_entropy(t64(x), t64(probs), reduction="none"))


def test_cross_entropy_single_sample_and_extremes():
    # one sample: logits (C,), label scalar; the teaching example [0.1, 0.5, 0.4] vs cat
    q = np.array([0.1, 0.5, 0.4])
    assert L.cross_entropy(np.log(q), 0) == pytest.approx(-math.log(0.1), rel=1e-15)
    assert L.cross_entropy(np.log(q), [1.0, 0.0, 0.0]) == pytest.approx(-math.log(0.1), rel=1e-15)
    # logits of magnitude 1000: a naive softmax overflows, log-sum-exp does not
    x = np.array([[1000.0, 0.0, -1000.0]])
    ours = L.cross_entropy(np.repeat(x, 3, axis=0), np.array([0, 1, 2]), "none")
    np.testing.assert_allclose(ours, [0.0, 1000.0, 2000.0], rtol=1e-15)
    assert not np.signbit(ours[0])  # a perfect prediction costs +0.0, not -0.0


def test_empty_mean_is_nan_like_torch():
    empty = np.zeros((0,))
    assert math.isnan(L.mse(empty, empty))
    assert math.isnan(F.mse_loss(t64(empty), t64(empty)).item())
    assert L.mse(empty, empty, "sum") == 0.0
    assert L.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int), "none").shape == (0,)


# --------------------------------------------------------------------------- torch: regression


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_mae_match_torch(rng, scale, reduction):
    a, b = rng.normal(size=(30, 4)) * scale, rng.normal(size=(30, 4)) * scale
    close(L.mse(a, b, reduction), F.mse_loss(t64(a), t64(b), reduction=reduction))
    close(L.mae(a, b, reduction), F.l1_loss(t64(a), t64(b), reduction=reduction))


@pytest.mark.parametrize("scale", SCALES)
def test_rmse_is_sqrt_of_torch_mse(rng, scale):
    a, b = rng.normal(size=(30, 4)) * scale, rng.normal(size=(30, 4)) * scale
    close(L.rmse(a, b), torch.sqrt(F.mse_loss(t64(a), t64(b))))


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 1 / 9, 3.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_and_huber_match_torch(rng, scale, beta, reduction):
    a, b = rng.normal(size=(30, 4)) * scale, rng.normal(size=(30, 4)) * scale
    close(L.smooth_l1(a, b, beta, reduction), F.smooth_l1_loss(t64(a), t64(b), reduction=reduction, beta=beta))
    if beta > 0:
        close(L.huber(a, b, beta, reduction), F.huber_loss(t64(a), t64(b), reduction=reduction, delta=beta))


def test_smooth_l1_with_beta_zero_is_l1(rng):
    a, b = rng.normal(size=20), rng.normal(size=20)
    assert L.smooth_l1(a, b, beta=0.0) == L.mae(a, b)


# --------------------------------------------------------------------------- torchvision: focal loss


@pytest.mark.parametrize("scale", SCALES + [1000.0])
@pytest.mark.parametrize("alpha", [0.25, 0.5, -1.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_sigmoid_focal_loss_matches_torchvision(rng, scale, alpha, gamma):
    x = random_logits(rng, scale, (80, 3))
    y = binary_targets(rng, x.shape)
    for reduction in REDUCTIONS:
        ours = L.sigmoid_focal_loss(x, y, alpha, gamma, reduction)
        ref = ops.sigmoid_focal_loss(t64(x), t64(y), alpha=alpha, gamma=gamma, reduction=reduction)
        close(ours, ref)
        assert np.isfinite(ours).all()


def test_sigmoid_focal_loss_soft_targets_match_torchvision(rng):
    x, y = random_logits(rng, 3.0, (50, 2)), rng.random((50, 2))
    close(L.sigmoid_focal_loss(x, y), ops.sigmoid_focal_loss(t64(x), t64(y)))


def test_sigmoid_focal_loss_gamma0_no_alpha_is_bce(rng):
    x, y = random_logits(rng, 5.0), binary_targets(rng, (64, 5))
    close(L.sigmoid_focal_loss(x, y, alpha=None, gamma=0.0), L.binary_cross_entropy_with_logits(x, y, "none"),
          rtol=1e-15, atol=0)


def test_sigmoid_focal_loss_at_1000():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(L.sigmoid_focal_loss(x, y), [0.0, 0.25 * 1000.0, 0.75 * 1000.0, 0.0])


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
def test_focal_loss_on_probabilities_matches_torchvision(rng, gamma):
    # moderate logits: sigmoid(x) is not clamped, so the probability form equals the logit form
    x = random_logits(rng, 4.0, (60, 3))
    y = binary_targets(rng, x.shape)
    ref = ops.sigmoid_focal_loss(t64(x), t64(y), alpha=0.25, gamma=gamma, reduction="none")
    close(L.focal_loss(L.sigmoid(x), y, 0.25, gamma), ref, rtol=1e-9, atol=1e-12)


def test_focal_loss_extreme_probabilities_match_torch_composition():
    # p of exactly 0 or 1: torch's clamped BCE times the modulating and alpha factors
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    pt = t64(p) * t64(y) + (1 - t64(p)) * (1 - t64(y))
    alpha_t = 0.25 * t64(y) + 0.75 * (1 - t64(y))
    ref = alpha_t * (1 - pt) ** 2 * F.binary_cross_entropy(t64(p), t64(y), reduction="none")
    close(L.focal_loss(p, y), ref, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(L.focal_loss(p, y)[:4], [25.0, 75.0, 0.0, 0.0])


def test_focal_loss_teaching_scenarios():
    # alpha=0.25, gamma=2, natural log: CE/FL = 1 / (alpha_t (1 - p_t)^gamma), any log base
    p = np.array([0.9, 0.1, 0.1, 0.9, 0.99, 0.01])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    ratio = L.binary_cross_entropy(p, y, "none") / L.focal_loss(p, y)
    np.testing.assert_allclose(ratio, [400.0, 400 / 3, 1 / (0.25 * 0.81), 1 / (0.75 * 0.81), 40000.0, 40000 / 3],
                               rtol=1e-9)


# --------------------------------------------------------------------------- gradients vs autograd


def autograd(fn, x, *args, **kwargs):
    xt = t64(x).requires_grad_(True)
    fn(xt, *args, **kwargs).backward()
    return xt.grad


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_smooth_l1_grad_matches_autograd(rng, reduction):
    residuals = np.concatenate([np.linspace(-3, 3, 61), rng.normal(size=40) * 5])  # the plotted curve
    target = rng.normal(size=residuals.size)
    pred = target + residuals
    for beta in [0.0, 0.5, 1.0, 1 / 9]:
        ref = autograd(F.smooth_l1_loss, pred, t64(target), beta=beta, reduction=reduction)
        close(L.smooth_l1_grad(pred, target, beta, reduction), ref, rtol=1e-12, atol=1e-15)


def stable_focal_torch(x, t, alpha, gamma, reduction):
    """Focal loss for 0/1 targets with (1 - p_t)^gamma = exp(gamma * logsigmoid(-z)), z = +/-x."""
    z = torch.where(t > 0.5, x, -x)
    loss = -F.logsigmoid(z) * torch.exp(gamma * F.logsigmoid(-z))
    if alpha >= 0:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    return loss.sum() if reduction == "sum" else loss.mean()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [0.25, -1.0])
def test_sigmoid_focal_loss_grad_matches_autograd(rng, gamma, alpha):
    # the teaching scenarios (p = 0.9/0.1/0.99/0.01 and misclassified), then random logits
    p = np.array([0.9, 0.1, 0.1, 0.9, 0.99, 0.01])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    x = np.concatenate([np.log(p / (1 - p)), rng.normal(size=200) * 10, [40.0, -40.0, 100.0, -100.0]])
    y = np.concatenate([y, binary_targets(rng, (200,)), [1.0, 0.0, 0.0, 1.0]])
    for reduction in ["sum", "mean"]:
        ours = L.sigmoid_focal_loss_grad(x, y, alpha, gamma, reduction)
        ref = autograd(ops.sigmoid_focal_loss, x, t64(y), alpha=alpha, gamma=gamma, reduction=reduction)
        # torchvision forms 1 - p_t by subtraction: at |x| = 40 it rounds to 0 and for gamma < 1
        # the gradient of 0**gamma is NaN there; ours stays finite. Compare where torch is finite,
        # and everywhere against a log-space torch formulation (binary targets).
        finite = torch.isfinite(ref).numpy()
        assert finite[:-4].all() and np.isfinite(ours).all()
        close(ours[finite], ref[finite], rtol=1e-9, atol=1e-15)
        close(ours, autograd(stable_focal_torch, x, t64(y), alpha=alpha, gamma=gamma, reduction=reduction),
              rtol=1e-9, atol=1e-15)


def test_sigmoid_focal_loss_grad_soft_targets_and_extremes(rng):
    x, y = rng.normal(size=100) * 4, rng.random(100)
    ref = autograd(ops.sigmoid_focal_loss, x, t64(y), reduction="sum")
    close(L.sigmoid_focal_loss_grad(x, y, reduction="sum"), ref, rtol=1e-9, atol=1e-15)
    g = L.sigmoid_focal_loss_grad([1000.0, -1000.0, 1000.0, -1000.0], [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(g, [0.0, -0.25, 0.75, 0.0])  # saturated: like BCE, |grad| = alpha_t


def test_cross_entropy_and_bce_grads_match_autograd(rng):
    x = random_logits(rng, 3.0, (20, 4))
    labels = rng.integers(0, 4, 20)
    ref = autograd(F.cross_entropy, x, torch.as_tensor(labels))
    close(L.cross_entropy_grad(x, labels), ref, rtol=1e-12, atol=1e-15)
    y = binary_targets(rng, x.shape)
    ref = autograd(F.binary_cross_entropy_with_logits, x, t64(y), reduction="sum")
    close(L.binary_cross_entropy_with_logits_grad(x, y, "sum"), ref, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- tf.keras


@pytest.fixture(scope="module")
def keras_losses():
    tf = pytest.importorskip("tensorflow")  # torch is already imported (conftest): safe order
    return tf.keras.losses


# Keras computes in float32 by default (relative error ~1e-7, i.e. > 1e-6 absolute on losses of
# a few nats); dtype="float64" makes it compute in float64 so the comparison is about the
# definitions. Keras reduces the last axis (mean) in every loss: we compare per-sample values.
K64 = dict(reduction="none", dtype="float64")


@pytest.mark.parametrize("scale", SCALES)
def test_keras_binary_crossentropy(keras_losses, rng, scale):
    # Keras clips probabilities to [1e-7, 1 - 1e-7] (torch clamps log p at -100 instead): the
    # definitions coincide inside that interval, so compare there; the extremes are tested below.
    p = np.clip(L.sigmoid(random_logits(rng, scale, (40, 3))), 1e-7, 1 - 1e-7)
    y = binary_targets(rng, p.shape)
    ref = keras_losses.BinaryCrossentropy(**K64)(y, p)
    close(L.binary_cross_entropy(p, y, "none").mean(-1), ref)
    x = random_logits(rng, scale, (40, 3))
    ref = keras_losses.BinaryCrossentropy(from_logits=True, **K64)(y, x)
    close(L.binary_cross_entropy_with_logits(x, y, "none").mean(-1), ref)


def test_keras_binary_crossentropy_differs_only_by_its_clipping(keras_losses):
    # a certain wrong answer (p = 0 for y = 1): Keras caps the cost at -ln(1e-7) = 16.118, torch and
    # we at 100; from logits neither needs a cap
    ref = keras_losses.BinaryCrossentropy(**K64)(np.array([[1.0]]), np.array([[0.0]])).numpy()
    np.testing.assert_allclose(ref, [-math.log(1e-7)], rtol=1e-9)
    assert L.binary_cross_entropy([0.0], [1.0]) == 100.0
    ref = keras_losses.BinaryCrossentropy(from_logits=True, **K64)(np.array([[1.0]]), np.array([[-1000.0]]))
    close(L.binary_cross_entropy_with_logits([-1000.0], [1.0], "none"), ref)


@pytest.mark.parametrize("scale", SCALES + [1000.0])
def test_keras_categorical_crossentropies_from_logits(keras_losses, rng, scale):
    x = random_logits(rng, scale, (30, 6))
    labels = rng.integers(0, 6, 30)
    one_hot = np.eye(6)[labels]
    ref = keras_losses.CategoricalCrossentropy(from_logits=True, **K64)(one_hot, x)
    close(L.cross_entropy(x, one_hot, "none"), ref)
    ref = keras_losses.SparseCategoricalCrossentropy(from_logits=True, **K64)(labels, x)
    close(L.cross_entropy(x, labels, "none"), ref)


def test_keras_default_float32_agrees_to_float32_precision(keras_losses, rng):
    x = random_logits(rng, 10.0, (30, 6))
    labels = rng.integers(0, 6, 30)
    ref = keras_losses.SparseCategoricalCrossentropy(from_logits=True)(labels, x.astype(np.float32))
    close(L.cross_entropy(x.astype(np.float32), labels), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", SCALES)
def test_keras_regression_losses(keras_losses, rng, scale):
    a, b = rng.normal(size=(30, 4)) * scale, rng.normal(size=(30, 4)) * scale
    close(L.mse(b, a, "none").mean(-1), keras_losses.MeanSquaredError(**K64)(a, b))
    close(L.mae(b, a, "none").mean(-1), keras_losses.MeanAbsoluteError(**K64)(a, b))
    for delta in [0.5, 1.0, 2.0]:
        close(L.huber(b, a, delta, "none").mean(-1), keras_losses.Huber(delta=delta, **K64)(a, b))


@pytest.mark.parametrize("scale", SCALES + [1000.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [0.25, 0.6])
def test_keras_binary_focal_crossentropy_with_class_balancing(keras_losses, rng, scale, gamma, alpha):
    x = random_logits(rng, scale, (40, 3))
    y = binary_targets(rng, x.shape)
    loss = keras_losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma,
                                                from_logits=True, **K64)
    close(L.sigmoid_focal_loss(x, y, alpha, gamma).mean(-1), loss(y, x))
    # on probabilities, Keras clips to [1e-7, 1 - 1e-7] as for BCE: compare inside that interval
    p = np.clip(L.sigmoid(x), 1e-7, 1 - 1e-7)
    loss = keras_losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma, **K64)
    close(L.focal_loss(p, y, alpha, gamma).mean(-1), loss(y, p))


# --------------------------------------------------------------------------- information theory


def test_entropy_cross_entropy_kl_cat_dog_mouse():
    truth, pred = [1.0, 0.0, 0.0], [0.1, 0.5, 0.4]
    assert L.entropy(truth) == 0.0
    assert L.distribution_cross_entropy(truth, pred) == pytest.approx(math.log(10), rel=1e-15)
    assert L.distribution_cross_entropy(truth, pred, base=2) == pytest.approx(math.log2(10), rel=1e-15)
    assert L.kl_divergence(truth, pred, base=2) == pytest.approx(math.log2(10), rel=1e-15)
    assert L.kl_divergence(pred, truth) == math.inf  # the one-hot rules out what pred allows
    assert L.distribution_cross_entropy(truth, pred) == pytest.approx(L.cross_entropy(np.log(pred), 0))


@pytest.mark.parametrize("base", [2.0, math.e, 10.0])
def test_information_helpers_match_scipy(rng, base):
    stats = pytest.importorskip("scipy.stats")
    p, q = L.softmax(rng.normal(size=(10, 5)) * 2), L.softmax(rng.normal(size=(10, 5)))
    p[0] = [0.0, 0.2, 0.3, 0.5, 0.0]  # zeros count 0
    close(L.entropy(p, base), stats.entropy(p, base=base, axis=-1), rtol=1e-12, atol=1e-15)
    close(L.kl_divergence(p, q, base), stats.entropy(p, q, base=base, axis=-1), rtol=1e-12, atol=1e-15)
    close(L.distribution_cross_entropy(p, q, base), L.entropy(p, base) + L.kl_divergence(p, q, base),
          rtol=1e-12, atol=1e-15)


def test_kl_matches_torch_kl_div(rng):
    p, q = L.softmax(rng.normal(size=(8, 4))), L.softmax(rng.normal(size=(8, 4)))
    ref = F.kl_div(torch.log(t64(q)), t64(p), reduction="none").sum(-1)
    close(L.kl_divergence(p, q), ref, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: L.binary_cross_entropy([0.5, 0.5], [1.0]), "same shape"),
        (lambda: L.binary_cross_entropy([1.5], [1.0]), r"probabilities p must lie in \[0, 1\]"),
        (lambda: L.binary_cross_entropy([-0.1], [1.0]), r"must lie in \[0, 1\]"),
        (lambda: L.binary_cross_entropy([0.5], [2.0]), r"targets y must lie in \[0, 1\]"),
        (lambda: L.binary_cross_entropy([np.nan], [1.0]), "NaN"),
        (lambda: L.binary_cross_entropy([0.5], [1.0], reduction="avg"), "reduction must be one of"),
        (lambda: L.binary_cross_entropy_with_logits([np.inf], [1.0]), "NaN or infinite"),
        (lambda: L.binary_cross_entropy_with_logits([[1.0, 2.0]], [1.0, 0.0]), "same shape"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), [0, 3]), r"labels y must be in \[0, 2\]"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), [-1, 0]), r"labels y must be in \[0, 2\]"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), [0.5, 1]), "whole numbers"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), [0, 1, 2]), "integer labels of shape"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.ones((2, 3))), "sum to 1"),
        (lambda: L.cross_entropy(np.zeros((2, 3)), np.full((2, 3), -0.5)), r"must lie in \[0, 1\]"),
        (lambda: L.cross_entropy(np.array([[np.nan, 0.0]]), [0]), "NaN"),
        (lambda: L.cross_entropy(1.0, 0), "class axis"),
        (lambda: L.mse([1.0, 2.0], [1.0]), "same shape"),
        (lambda: L.mae([1.0], [np.nan]), "NaN"),
        (lambda: L.rmse([1.0], [1.0, 2.0]), "same shape"),
        (lambda: L.smooth_l1([1.0], [0.0], beta=-1.0), "beta"),
        (lambda: L.smooth_l1([1.0], [0.0], reduction="max"), "reduction"),
        (lambda: L.huber([1.0], [0.0], delta=0.0), "delta"),
        (lambda: L.sigmoid_focal_loss([1.0], [0.5, 0.5]), "same shape"),
        (lambda: L.sigmoid_focal_loss([1.0], [1.0], gamma=-1.0), "gamma"),
        (lambda: L.sigmoid_focal_loss([1.0], [1.0], alpha=1.5), "alpha"),
        (lambda: L.sigmoid_focal_loss([1.0], [3.0]), r"targets must lie in \[0, 1\]"),
        (lambda: L.focal_loss([1.2], [1.0]), r"\[0, 1\]"),
        (lambda: L.entropy([0.5, 0.6]), "sum to 1"),
        (lambda: L.entropy([0.5, 0.5], base=1), "base"),
        (lambda: L.kl_divergence([0.5, 0.5], [1.0, 0.0, 0.0]), "same shape"),
        (lambda: L.distribution_cross_entropy([1.0, 0.0], [1.2, -0.2]), r"\[0, 1\]"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: L.sigmoid_focal_loss([1.0], [1.0], alpha=float("nan")), ValueError, "alpha"),
        (lambda: L.sigmoid_focal_loss([1.0], [1.0], gamma=float("nan")), ValueError, "gamma"),
        (lambda: L.sigmoid_focal_loss([1.0], [1.0], alpha="0.25"), TypeError, "alpha"),
        (lambda: L.focal_loss(["a"], [1.0]), TypeError, "must hold numbers"),
        (lambda: L.mse(None, [1.0]), TypeError, "must hold numbers"),
        (lambda: L.sigmoid_focal_loss_grad([1.0], [1.0], gamma="2"), TypeError, "gamma must be a number"),
        (lambda: L.focal_loss([0.5], [1.0], alpha=float("nan")), ValueError, "alpha"),
        (lambda: L.smooth_l1([1.0], [0.0], beta="1"), TypeError, "beta must be a number"),
        (lambda: L.smooth_l1_grad([1.0], [0.0], beta=float("nan")), ValueError, "beta"),
        (lambda: L.huber([1.0], [0.0], delta=float("nan")), ValueError, "delta"),
        (lambda: L.entropy([0.5, 0.5], base="2"), TypeError, "base"),
    ],
)
def test_loss_parameters_are_checked_by_type_and_nan(call, error, message):
    """NaN parameters used to give NaN losses silently, strings a bare TypeError from a comparison."""
    with pytest.raises(error, match=message):
        call()
