"""A 1:1000 imbalanced toy problem for comparing classification losses (notebook 01, section 6).

NumPy only. The data: 100,000 "background anchors" drawn from N(0, I) in 2-D, a cluster of
*hard negatives* (look-alikes) between two clusters of "object anchors". No straight line separates
the objects from the look-alikes, so the classifier is a small MLP (2 -> ``hidden`` tanh units ->
1 logit), trained full-batch with Adam from RetinaNet's prior initialisation (output bias
``-ln((1 - pi) / pi)``). The four losses are those of the RetinaNet paper's Table 1:

- ``"CE"``: binary cross-entropy, mean over all anchors;
- ``"alpha-CE"``: ``-alpha_t ln p_t`` with weight 0.75 for positives and 0.25 for negatives,
  summed and divided by the number of positives;
- ``"CE 3:1"``: cross-entropy on the positives and the ``3 x n_pos`` negatives of highest loss
  (re-chosen every step), divided by the number of positives;
- ``"FL"``: sigmoid focal loss (``alpha``, ``gamma``), summed and divided by the number of positives.

Gradients with respect to the logits come from :mod:`helpers.losses`; the MLP's backward pass is
written out here (checked against finite differences in ``tests/test_imbalance.py``).
"""

from __future__ import annotations

import math

import numpy as np

from helpers import losses as L

__all__ = ["LOSSES", "make_data", "prior_bias", "logit_grad", "loss_per_anchor", "ranked_average_precision",
           "init_mlp", "mlp_logits", "mlp_grads", "train", "loss_shares"]

LOSSES = ("CE", "alpha-CE", "CE 3:1", "FL")
POSITIVE_CENTRES = ((4.0, 0.5), (0.5, 4.0))
HARD_CENTRE = (2.6, 2.6)


def make_data(seed: int, n_neg: int = 100_000, n_pos: int = 100, n_hard: int = 1000):
    """Features (n_neg + n_hard + n_pos, 2) and labels (0 background, 1 object), seeded.

    ``n_neg`` easy negatives from N(0, I); ``n_hard`` hard negatives from N((2.6, 2.6), 0.4^2 I),
    between two clusters of ``n_pos / 2`` positives at (4, 0.5) and (0.5, 4), standard deviation 0.5.
    """
    rng = np.random.default_rng(seed)
    half = n_pos // 2
    X = np.vstack([rng.normal(size=(n_neg, 2)), rng.normal(HARD_CENTRE, 0.4, (n_hard, 2)),
                   rng.normal(POSITIVE_CENTRES[0], 0.5, (half, 2)), rng.normal(POSITIVE_CENTRES[1], 0.5, (n_pos - half, 2))])
    y = np.r_[np.zeros(n_neg + n_hard), np.ones(n_pos)]
    return X, y


def prior_bias(pi: float) -> float:
    """RetinaNet's initial output bias ``-ln((1 - pi) / pi)``: every anchor starts at p = pi."""
    return -math.log((1 - pi) / pi)


def loss_per_anchor(z, y, kind: str, alpha: float = 0.25, gamma: float = 2.0) -> np.ndarray:
    """Each anchor's contribution to the total training loss of ``kind`` (they sum to the loss)."""
    n_pos = max(float(np.sum(y)), 1.0)
    ce = L.binary_cross_entropy_with_logits(z, y, "none")
    if kind == "CE":
        return ce / len(y)
    if kind == "alpha-CE":
        return np.where(y == 1, 1 - alpha, alpha) * ce / n_pos
    if kind == "CE 3:1":
        return _mined(ce, y) * ce / n_pos
    if kind == "FL":
        return L.sigmoid_focal_loss(z, y, alpha, gamma) / n_pos
    raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")


def _mined(ce: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 for the positives and the 3 x n_pos negatives of highest loss, 0 elsewhere."""
    neg = np.flatnonzero(y == 0)
    k = min(3 * int(np.sum(y)), neg.size)
    chosen = (y == 1).astype(float)
    if k:
        chosen[neg[np.argpartition(-ce[neg], k - 1)[:k]]] = 1.0
    return chosen


def logit_grad(z, y, kind: str, alpha: float = 0.25, gamma: float = 2.0) -> np.ndarray:
    """d(total loss of ``kind``) / d(logit), one value per anchor. alpha-CE weighs positives 0.75."""
    n_pos = max(float(np.sum(y)), 1.0)
    if kind == "CE":
        return L.binary_cross_entropy_with_logits_grad(z, y, "mean")
    g = L.binary_cross_entropy_with_logits_grad(z, y, "sum")
    if kind == "alpha-CE":
        return np.where(y == 1, 1 - alpha, alpha) * g / n_pos
    if kind == "CE 3:1":
        return _mined(L.binary_cross_entropy_with_logits(z, y, "none"), y) * g / n_pos
    if kind == "FL":
        return L.sigmoid_focal_loss_grad(z, y, alpha, gamma, "sum") / n_pos
    raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")


def ranked_average_precision(scores, labels) -> float:
    """Non-interpolated AP: the mean of the precision at each positive's rank (scores descending).

    This is the area under the raw precision-recall step curve (scikit-learn's
    ``average_precision_score`` without ties), *not* the interpolated AP of VOC or COCO, which
    first replaces precision by its envelope (notebook 02, section 8).
    """
    labels = np.asarray(labels)
    hits = labels[np.argsort(-np.asarray(scores), kind="stable")]
    precision_at_rank = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(precision_at_rank[hits == 1].mean())


def init_mlp(hidden: int = 8, pi: float = 0.01, seed: int = 0) -> list[np.ndarray]:
    """Parameters [W1 (2, hidden), b1 (hidden,), w2 (hidden,), b2 ()] with b2 = prior_bias(pi)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1.0, (2, hidden)), np.zeros(hidden), rng.normal(0, 1 / math.sqrt(hidden), hidden),
            np.array(prior_bias(pi))]


def mlp_logits(params, X) -> np.ndarray:
    """The MLP's logit for each row of X (N, 2) -> (N,)."""
    W1, b1, w2, b2 = params
    return np.tanh(X @ W1 + b1) @ w2 + b2


def mlp_grads(params, X, dz) -> list[np.ndarray]:
    """Backward pass: the gradients of sum(dz * logits) with respect to each parameter."""
    W1, b1, w2, _ = params
    h = np.tanh(X @ W1 + b1)
    dh = np.outer(dz, w2) * (1 - h**2)
    return [X.T @ dh, dh.sum(axis=0), h.T @ dz, np.array(dz.sum())]


def train(kind: str, X, y, test=None, *, hidden: int = 8, steps: int = 300, lr: float = 0.05, pi: float = 0.01,
          seed: int = 0, record=(10, 50, 100, 300), alpha: float = 0.25, gamma: float = 2.0):
    """Train the MLP with Adam (0.9, 0.999) on loss ``kind``; return (params, history).

    ``history["ap"]`` maps each step in ``record`` to the test AP (when ``test = (X_test, y_test)``),
    ``history["loss"]`` holds the training loss before each step.
    """
    params = init_mlp(hidden, pi, seed)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    history = {"ap": {}, "loss": []}
    for t in range(1, steps + 1):
        z = mlp_logits(params, X)
        history["loss"].append(float(loss_per_anchor(z, y, kind, alpha, gamma).sum()))
        grads = mlp_grads(params, X, logit_grad(z, y, kind, alpha, gamma))
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g**2
            params[i] = params[i] - lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
        if test is not None and t in record:
            history["ap"][t] = ranked_average_precision(mlp_logits(params, test[0]), test[1])
    return params, history


def loss_shares(z, y, kinds=("CE", "FL"), easy: float = 0.1, alpha: float = 0.25, gamma: float = 2.0) -> dict:
    """Share of each loss, and of its gradient magnitude, held by easy negatives (p < ``easy``),
    hard negatives and positives: {(kind, "loss" | "gradient"): {group: share}} plus "counts"."""
    p = L.sigmoid(z)
    groups = {"easy negatives": (y == 0) & (p < easy), "hard negatives": (y == 0) & (p >= easy), "positives": y == 1}
    out = {"counts": {g: int(mask.sum()) for g, mask in groups.items()}}
    for kind in kinds:
        loss = loss_per_anchor(z, y, kind, alpha, gamma)
        grad = np.abs(logit_grad(z, y, kind, alpha, gamma))
        for what, arr in (("loss", loss), ("gradient", grad)):
            out[(kind, what)] = {g: float(arr[mask].sum() / arr.sum()) for g, mask in groups.items()}
    return out
