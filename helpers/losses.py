"""Loss functions of object detection in NumPy: cross-entropy, regression losses, GIoU, focal loss.

Framework-free and numerically stable; every loss agrees with its reference implementation
(``torch.nn.functional``, ``torchvision.ops.sigmoid_focal_loss``, ``tf.keras.losses``, see
``tests/test_losses.py``). All computation is in float64.

Conventions
-----------
- ``reduction`` is ``"none"`` (element-wise losses), ``"mean"`` or ``"sum"``. As in torch, the
  mean of an empty input is NaN (there is nothing to average).
- Losses *from logits* (:func:`binary_cross_entropy_with_logits`, :func:`cross_entropy`,
  :func:`sigmoid_focal_loss`) use log-sigmoid and log-sum-exp forms: logits of any finite
  magnitude (1000, 1e30) give finite, exact values.
- Losses *on probabilities* (:func:`binary_cross_entropy`, :func:`focal_loss`) follow
  ``torch.nn.functional.binary_cross_entropy``: each log term is clamped to ``>= -100``, so a
  probability of exactly 0 for the true class costs 100 instead of infinity (and gives a
  finite gradient). Keras instead clips probabilities to ``[1e-7, 1 - 1e-7]`` (a cost of at
  most ``-ln(1e-7) = 16.1``); the two agree wherever ``1e-7 <= p <= 1 - 1e-7``. Prefer the
  logit forms when you have logits: they need no clamp at all.
- Class probabilities / one-hot targets and logits put the class axis last, ``(..., C)``
  (torch puts it at dim 1; for the usual ``(N, C)`` the two coincide).
- Information-theory helpers (:func:`entropy`, :func:`kl_divergence`,
  :func:`distribution_cross_entropy`) take a ``base``: ``math.e`` (nats, the default, what every
  framework's loss uses) or ``2`` (bits).

Bad input (shape mismatch, labels out of range, probabilities outside [0, 1], NaN or infinite
values, an unknown reduction) raises ``ValueError`` naming the problem.
"""

from __future__ import annotations

import math

import numpy as np

from helpers.boxes import as_float_array
from helpers.validate import real

__all__ = [
    "REDUCTIONS",
    "LOG_CLAMP",
    "sigmoid",
    "log_sigmoid",
    "softmax",
    "log_softmax",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "mse",
    "mae",
    "rmse",
    "smooth_l1",
    "smooth_l1_grad",
    "huber",
    "giou_loss",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "focal_loss",
    "entropy",
    "distribution_cross_entropy",
    "kl_divergence",
]

REDUCTIONS = ("none", "mean", "sum")
#: Lower bound on log(p) in the probability-input losses, as in torch's binary_cross_entropy.
LOG_CLAMP = -100.0


# --------------------------------------------------------------------------- input checks


def _array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array, refusing NaN and infinities."""
    if getattr(x, "requires_grad", False):  # a torch tensor in a graph: NumPy would drop its gradient
        raise TypeError(f"{name} requires grad, but these losses are NumPy references without gradients: "
                        "train with torch's own (e.g. torchvision.ops.generalized_box_iou_loss), or pass "
                        f"{name}.detach() to compare values")
    arr = as_float_array(x, name).astype(np.float64, copy=False)  # TypeError for None, strings, ragged lists
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")


def _in_unit_interval(x: np.ndarray, name: str) -> None:
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{x.min():.6g}, {x.max():.6g}]")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss: np.ndarray, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return float(loss.sum())
    return float(loss.mean()) if loss.size else math.nan  # torch: mean of nothing is NaN


def _check_alpha_gamma(alpha, gamma) -> float | None:
    real(gamma, "gamma", low=0.0)
    if alpha is None:
        return None
    alpha = real(alpha, "alpha (in [0, 1], or negative/None for no weighting)")
    if alpha < 0:  # torchvision: a negative alpha switches weighting off
        return None
    if alpha > 1:
        raise ValueError(f"alpha must be in [0, 1] (or negative/None for no weighting), got {alpha}")
    return alpha


def _grad_scale(n: int, reduction: str) -> float:
    _check_reduction(reduction)
    return 1.0 / n if reduction == "mean" and n else 1.0


# --------------------------------------------------------------------------- building blocks


def log_sigmoid(x) -> np.ndarray:
    """``log(sigmoid(x)) = -log(1 + exp(-x))``, exact for every finite ``x`` (no overflow)."""
    x = np.asarray(x, dtype=np.float64)
    return -np.logaddexp(0.0, -x)


def sigmoid(x) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow warnings for large ``|x|``."""
    return np.exp(log_sigmoid(x))


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """``log(softmax(logits))`` by the log-sum-exp trick: subtract the max before ``exp``."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable for logits of any finite magnitude."""
    return np.exp(log_softmax(logits, axis=axis))


def _clamped_log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped right away
        return np.maximum(np.log(p), LOG_CLAMP)


def _clamped_log1m(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log1p(-p), LOG_CLAMP)  # log1p: exact log(1 - p) for tiny p


# --------------------------------------------------------------------------- cross-entropy


def binary_cross_entropy(p, y, reduction: str = "mean"):
    """Binary cross-entropy on probabilities: ``-(y log p + (1 - y) log(1 - p))``, in nats.

    Parameters
    ----------
    p : array_like, any shape
        Predicted probabilities of the positive class, in [0, 1].
    y : array_like, same shape as ``p``
        Targets in [0, 1] (hard 0/1 labels or soft targets).
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float, or ndarray of ``p``'s shape for ``reduction="none"``.

    Notes
    -----
    Each log is clamped to ``>= -100`` exactly as ``torch.nn.functional.binary_cross_entropy``
    does, so ``p = 0`` with ``y = 1`` costs 100, not infinity.
    """
    _check_reduction(reduction)
    p, y = _array(p, "p"), _array(y, "y")
    _same_shape(p, y, "p and y")
    _in_unit_interval(p, "probabilities p")
    _in_unit_interval(y, "targets y")
    loss = 0.0 - (y * _clamped_log(p) + (1.0 - y) * _clamped_log1m(p))  # 0.0 - x: no -0.0
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, y, reduction: str = "mean"):
    """Binary cross-entropy on logits, ``bce(sigmoid(logits), y)`` without computing the sigmoid.

    Uses ``-log sigmoid(x) = softplus(-x)`` and ``-log(1 - sigmoid(x)) = softplus(x)``, so no
    clamp is needed: ``logits = -1000`` with ``y = 1`` gives exactly 1000.

    Parameters
    ----------
    logits : array_like, any shape
    y : array_like, same shape, targets in [0, 1]
    reduction : {"mean", "sum", "none"}
    """
    _check_reduction(reduction)
    x, y = _array(logits, "logits"), _array(y, "y")
    _same_shape(x, y, "logits and y")
    _in_unit_interval(y, "targets y")
    loss = 0.0 - (y * log_sigmoid(x) + (1.0 - y) * log_sigmoid(-x))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits_grad(logits, y, reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` w.r.t. the logits: ``sigmoid(x) - y``.

    Returns an array of ``logits``' shape (divided by the element count for ``"mean"``;
    ``"none"`` and ``"sum"`` give the gradient of the summed loss).
    """
    x, y = _array(logits, "logits"), _array(y, "y")
    _same_shape(x, y, "logits and y")
    _in_unit_interval(y, "targets y")
    return (sigmoid(x) - y) * _grad_scale(x.size, reduction)


def _class_targets(logits: np.ndarray, y) -> np.ndarray:
    """Targets of :func:`cross_entropy` as a distribution of ``logits``' shape ``(..., C)``."""
    num_classes = logits.shape[-1]
    y_arr = np.asarray(y)
    if y_arr.shape == logits.shape[:-1]:  # integer labels
        labels = _array(y_arr, "labels y")
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError("integer labels y must be whole numbers (give one-hot or probability "
                             "targets the same shape as logits)")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels y must be in [0, {num_classes - 1}] for {num_classes} classes, "
                             f"got values in [{int(labels.min())}, {int(labels.max())}]")
        return np.eye(num_classes)[labels.astype(np.int64)]
    if y_arr.shape == logits.shape:  # one-hot or class probabilities
        target = _array(y_arr, "targets y")
        _in_unit_interval(target, "target probabilities y")
        sums = target.sum(axis=-1)
        if sums.size and not np.allclose(sums, 1.0, atol=1e-6):
            raise ValueError("one-hot / probability targets y must sum to 1 over the class axis "
                             f"(last axis), got sums in [{sums.min():.6g}, {sums.max():.6g}]")
        return target
    raise ValueError(f"y must be integer labels of shape {logits.shape[:-1]} or one-hot/probabilities "
                     f"of shape {logits.shape} for logits of shape {logits.shape}, got {y_arr.shape}")


def _check_logits_2plus(logits) -> np.ndarray:
    z = _array(logits, "logits")
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"logits must have a class axis (last) with at least one class, got shape {z.shape}")
    return z


def cross_entropy(logits, y, reduction: str = "mean"):
    """Softmax cross-entropy from logits, in nats: ``-sum_c y_c log softmax(logits)_c``.

    Parameters
    ----------
    logits : array_like, shape (..., C)
        Unnormalised class scores, class axis last (e.g. ``(N, C)``, or ``(C,)`` for one sample).
    y : array_like
        Either integer labels of shape ``(...)`` (values in ``[0, C)``), or one-hot / class
        probabilities of shape ``(..., C)`` summing to 1 over the last axis.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns shape ``(...)``; ``"mean"`` averages over samples as torch does.

    Notes
    -----
    ``log softmax`` is computed by log-sum-exp, so logits of magnitude 1000 are fine.
    """
    _check_reduction(reduction)
    z = _check_logits_2plus(logits)
    target = _class_targets(z, y)
    logp = log_softmax(z)
    # 0 * log p is 0 even where log p is -huge: skip zero-target terms explicitly
    loss = 0.0 - np.where(target > 0, target * logp, 0.0).sum(axis=-1)
    return _reduce(loss, reduction)


def cross_entropy_grad(logits, y, reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`cross_entropy` w.r.t. the logits: ``softmax(logits) - y_onehot``.

    Returns shape ``(..., C)``, divided by the number of samples for ``"mean"``.
    """
    z = _check_logits_2plus(logits)
    target = _class_targets(z, y)
    n = int(np.prod(z.shape[:-1]))
    return (softmax(z) - target) * _grad_scale(n, reduction)


# --------------------------------------------------------------------------- regression


def _residual(pred, target) -> np.ndarray:
    pred, target = _array(pred, "pred"), _array(target, "target")
    _same_shape(pred, target, "pred and target")
    return pred - target


def mse(pred, target, reduction: str = "mean"):
    """Mean squared error ``(pred - target)^2``: the **L2** loss. Shapes: any, equal."""
    _check_reduction(reduction)
    return _reduce(_residual(pred, target) ** 2, reduction)


def mae(pred, target, reduction: str = "mean"):
    """Mean absolute error ``|pred - target|``: the **L1** loss. Shapes: any, equal."""
    _check_reduction(reduction)
    return _reduce(np.abs(_residual(pred, target)), reduction)


def rmse(pred, target) -> float:
    """Root mean squared error ``sqrt(mean((pred - target)^2))``, in the units of the target."""
    r = _residual(pred, target)
    return math.sqrt(float((r**2).mean())) if r.size else math.nan


def smooth_l1(pred, target, beta: float = 1.0, reduction: str = "mean"):
    """Smooth L1 loss (Fast R-CNN), as ``torch.nn.functional.smooth_l1_loss``.

    ``0.5 x^2 / beta`` for ``|x| < beta``, else ``|x| - 0.5 beta``, with ``x = pred - target``:
    quadratic (gentle gradients) near 0, linear (bounded gradient ``+/-1``) for outliers.
    ``beta = 0`` is the L1 loss. Fast R-CNN uses ``beta = 1`` on encoded box offsets.

    Parameters
    ----------
    pred, target : array_like, same shape (e.g. ``(N, 4)`` encoded box deltas)
    beta : float >= 0
    reduction : {"mean", "sum", "none"}
    """
    _check_reduction(reduction)
    beta = real(beta, "beta", low=0.0)
    a = np.abs(_residual(pred, target))
    if beta == 0:
        return _reduce(a, reduction)
    loss = np.where(a < beta, 0.5 * a**2 / beta, a - 0.5 * beta)
    return _reduce(loss, reduction)


def smooth_l1_grad(pred, target, beta: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`smooth_l1` w.r.t. ``pred``: ``x / beta`` inside ``|x| < beta``, else ``sign(x)``."""
    beta = real(beta, "beta", low=0.0)
    x = _residual(pred, target)
    grad = np.sign(x) if beta == 0 else np.where(np.abs(x) < beta, x / beta, np.sign(x))
    return grad * _grad_scale(x.size, reduction)


def huber(pred, target, delta: float = 1.0, reduction: str = "mean"):
    """Huber loss: ``0.5 x^2`` for ``|x| <= delta``, else ``delta (|x| - 0.5 delta)``.

    Equals ``delta * smooth_l1(pred, target, beta=delta)``: same shape, different scale (its
    linear part has slope ``delta``, smooth L1's has slope 1). As ``torch.nn.functional.huber_loss``
    and ``tf.keras.losses.Huber``.
    """
    delta = real(delta, "delta", low=0.0, low_open=True)
    loss = smooth_l1(pred, target, beta=delta, reduction="none") * delta
    _check_reduction(reduction)
    return _reduce(loss, reduction)


def giou_loss(pred, target, reduction: str = "mean", eps: float = 1e-7):
    """Generalized IoU loss of matched box pairs: ``1 - giou(pred_i, target_i)``, in [0, 2].

    An IoU-based loss compares boxes by their overlap, a ratio of areas, so it is scale invariant:
    the same relative error costs the same on a 10-pixel and a 500-pixel box, where an L1 loss on
    pixel coordinates grows with the size. The IoU alone is 0 for every pair of disjoint boxes, so
    it gives no signal which way to move; GIoU's enclosing-box term keeps growing with the distance
    (see :func:`helpers.boxes.generalized_box_iou`). Used by FCOS and DETR.

    Parameters
    ----------
    pred, target : (N, 4) or (4,) array-like, xyxy, one target per predicted box (same shape)
    reduction : ``"none"`` (per pair), ``"mean"`` or ``"sum"``
    eps : added to the union and to the enclosing area before dividing, as torchvision

    Returns
    -------
    (N,) array (``"none"``) or float. Equal to ``torchvision.ops.generalized_box_iou_loss``
    (computed in float64); like it, the mean over no pairs is 0.0 (not NaN, unlike the other
    losses here), so an image without objects adds nothing.
    """
    from helpers.boxes import check_boxes

    _check_reduction(reduction)
    eps = real(eps, "eps", low=0.0)
    p, t = _array(pred, "pred"), _array(target, "target")
    _same_shape(p, t, "pred and target")
    if p.ndim not in (1, 2) or p.shape[-1] != 4:
        raise ValueError(f"pred and target must have shape (N, 4) or (4,), got {p.shape}")
    one = p.ndim == 1
    p, t = check_boxes(p.reshape(-1, 4), "pred"), check_boxes(t.reshape(-1, 4), "target")
    inter_wh = np.minimum(p[:, 2:], t[:, 2:]) - np.maximum(p[:, :2], t[:, :2])
    inter = np.where((inter_wh > 0).all(axis=1), inter_wh.prod(axis=1), 0.0)
    union = (p[:, 2:] - p[:, :2]).prod(axis=1) + (t[:, 2:] - t[:, :2]).prod(axis=1) - inter
    enclosing = (np.maximum(p[:, 2:], t[:, 2:]) - np.minimum(p[:, :2], t[:, :2])).prod(axis=1)
    loss = 1.0 - (inter / (union + eps) - (enclosing - union) / (enclosing + eps))
    if reduction == "mean":
        return float(loss.mean()) if loss.size else 0.0  # torchvision: 0 for no boxes
    return _reduce(loss[0] if one else loss, reduction)


# --------------------------------------------------------------------------- focal loss


def sigmoid_focal_loss(logits, targets, alpha: float | None = 0.25, gamma: float = 2.0,
                       reduction: str = "none"):
    """Focal loss of RetinaNet from logits, as ``torchvision.ops.sigmoid_focal_loss``.

    ``FL = alpha_t (1 - p_t)^gamma CE``, with ``p = sigmoid(logits)``, ``p_t = p`` for targets 1
    and ``1 - p`` for targets 0, ``alpha_t = alpha`` for targets 1 and ``1 - alpha`` for 0, and
    ``CE`` the binary cross-entropy with logits (natural log).

    Parameters
    ----------
    logits : array_like, any shape (e.g. ``(num_anchors, num_classes)``)
    targets : array_like, same shape, in [0, 1] (usually 0/1)
    alpha : float in [0, 1], or None / negative for no class weighting
    gamma : float >= 0; ``gamma = 0`` (and ``alpha=None``) is plain binary cross-entropy
    reduction : {"none", "mean", "sum"}
        RetinaNet sums and divides by the number of positive anchors; do that with ``"sum"``.

    Notes
    -----
    ``1 - p_t`` is built from ``exp(log_sigmoid(...))`` rather than by subtracting a rounded
    ``p`` from 1, so it stays accurate for very confident logits.
    """
    _check_reduction(reduction)
    alpha = _check_alpha_gamma(alpha, gamma)
    x, t = _array(logits, "logits"), _array(targets, "targets")
    _same_shape(x, t, "logits and targets")
    _in_unit_interval(t, "targets")
    p, q = sigmoid(x), sigmoid(-x)  # q = 1 - p without cancellation
    ce = 0.0 - (t * log_sigmoid(x) + (1.0 - t) * log_sigmoid(-x))
    one_minus_pt = p * (1.0 - t) + q * t
    loss = ce * one_minus_pt**gamma
    if alpha is not None:
        loss = (alpha * t + (1.0 - alpha) * (1.0 - t)) * loss
    return _reduce(loss, reduction)


def sigmoid_focal_loss_grad(logits, targets, alpha: float | None = 0.25, gamma: float = 2.0,
                            reduction: str = "none") -> np.ndarray:
    """Gradient of :func:`sigmoid_focal_loss` w.r.t. the logits, same shape as ``logits``.

    With ``m = 1 - p_t`` and ``CE`` as in the loss::

        dFL/dx = alpha_t m^gamma [ gamma (1 - 2 t) (p (1 - p) / m) CE + (p - t) ]

    (for a positive, ``alpha (1 - p)^gamma (gamma p log p + p - 1)``, the paper's appendix).
    ``p (1 - p) / m`` is evaluated in log space, so it is finite even where ``m`` underflows.
    ``"none"`` and ``"sum"`` give the gradient of the summed loss, ``"mean"`` divides by the count.
    """
    alpha = _check_alpha_gamma(alpha, gamma)
    x, t = _array(logits, "logits"), _array(targets, "targets")
    _same_shape(x, t, "logits and targets")
    _in_unit_interval(t, "targets")
    log_p, log_q = log_sigmoid(x), log_sigmoid(-x)
    p = np.exp(log_p)
    ce = -(t * log_p + (1.0 - t) * log_q)
    with np.errstate(divide="ignore"):  # log(0) = -inf for hard 0/1 targets, by design
        log_m = np.logaddexp(log_p + np.log1p(-t), log_q + np.log(t))
    ratio = np.exp(log_p + log_q - log_m)  # p (1 - p) / m
    m_gamma = np.exp(gamma * log_m) if gamma > 0 else np.ones_like(x)
    grad = m_gamma * (gamma * (1.0 - 2.0 * t) * ratio * ce + (p - t))
    if alpha is not None:
        grad = (alpha * t + (1.0 - alpha) * (1.0 - t)) * grad
    return grad * _grad_scale(x.size, reduction)


def focal_loss(p, y, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """Focal loss on probabilities: ``-alpha_t (1 - p_t)^gamma log(p_t)`` (natural log).

    The same loss as :func:`sigmoid_focal_loss` for ``p = sigmoid(logits)``, written the way the
    RetinaNet paper writes it, for worked examples. Logs are clamped to ``>= -100`` as in
    :func:`binary_cross_entropy`, so ``p`` of exactly 0 or 1 gives finite values.

    Parameters
    ----------
    p : array_like, any shape; probabilities of the positive class in [0, 1]
    y : array_like, same shape; targets in [0, 1]
    alpha : float in [0, 1], or None / negative for no class weighting
    gamma : float >= 0
    reduction : {"none", "mean", "sum"}
    """
    _check_reduction(reduction)
    alpha = _check_alpha_gamma(alpha, gamma)
    p, y = _array(p, "p"), _array(y, "y")
    _same_shape(p, y, "p and y")
    _in_unit_interval(p, "probabilities p")
    _in_unit_interval(y, "targets y")
    ce = 0.0 - (y * _clamped_log(p) + (1.0 - y) * _clamped_log1m(p))
    one_minus_pt = p * (1.0 - y) + (1.0 - p) * y
    loss = ce * one_minus_pt**gamma
    if alpha is not None:
        loss = (alpha * y + (1.0 - alpha) * (1.0 - y)) * loss
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- information theory


def _log_base(base: float) -> float:
    base = real(base, "base (2 for bits, math.e for nats)", low=0.0, low_open=True)
    if base == 1:
        raise ValueError(f"base must be a positive number other than 1 (2 for bits, math.e for nats), got {base}")
    return math.log(base)


def _distribution(p, name: str) -> np.ndarray:
    arr = _array(p, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a distribution with a last axis, got a scalar")
    _in_unit_interval(arr, name)
    if not np.allclose(arr.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError(f"{name} must sum to 1 over its last axis, got {arr.sum(axis=-1)}")
    return arr


def entropy(p, base: float = math.e):
    """Shannon entropy ``H(p) = -sum_i p_i log p_i`` over the last axis (``0 log 0 = 0``).

    Parameters
    ----------
    p : array_like, shape (..., K); a distribution over the last axis
    base : float; ``math.e`` for nats (default), ``2`` for bits

    Returns
    -------
    float for one distribution, else ndarray of shape ``(...)``.
    """
    p = _distribution(p, "p")
    with np.errstate(divide="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = terms.sum(axis=-1) / _log_base(base)
    return float(h) if h.ndim == 0 else h


def distribution_cross_entropy(p, q, base: float = math.e):
    """Cross-entropy ``H(p, q) = -sum_i p_i log q_i`` of model ``q`` under true distribution ``p``.

    ``H(p, q) = H(p) + KL(p || q)``. Infinite where ``q_i = 0`` for some ``p_i > 0`` (the model
    rules out something that happens). Shapes ``(..., K)``, equal; ``base`` as in :func:`entropy`.
    """
    p, q = _distribution(p, "p"), _distribution(q, "q")
    _same_shape(p, q, "p and q")
    with np.errstate(divide="ignore"):
        terms = np.where(p > 0, -p * np.log(q), 0.0)
    h = terms.sum(axis=-1) / _log_base(base)
    return float(h) if h.ndim == 0 else h


def kl_divergence(p, q, base: float = math.e):
    """Kullback-Leibler divergence ``KL(p || q) = sum_i p_i log(p_i / q_i)`` (not symmetric).

    ``+inf`` where ``q_i = 0`` for some ``p_i > 0``; terms with ``p_i = 0`` count 0. Shapes
    ``(..., K)``, equal; ``base`` as in :func:`entropy` (``2`` gives bits).
    """
    p, q = _distribution(p, "p"), _distribution(q, "q")
    _same_shape(p, q, "p and q")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q)), 0.0)
    kl = terms.sum(axis=-1) / _log_base(base)
    return float(kl) if kl.ndim == 0 else kl
