"""Viola-Jones in NumPy: integral images, Haar-like features, boosted decision stumps, a cascade.

The lesson of Viola & Jones (CVPR 2001) in four pieces, each small enough to read:

* an integral image turns the sum over any rectangle into 4 look-ups (:func:`integral_image`,
  :func:`rect_sum`), so a Haar-like feature costs the same at every size;
* Haar-like features are signed sums of adjacent rectangles (:func:`haar_features` evaluates
  scikit-image's feature coordinates on a whole batch at once and agrees with
  ``skimage.feature.haar_like_feature``);
* AdaBoost picks one decision stump (one feature, one threshold) per round
  (:func:`fit_stump`, :func:`adaboost`);
* a cascade of boosted stages, each tuned to keep ~all faces, rejects most non-face windows
  after a few features (:func:`train_cascade`, :func:`cascade_survivors`).

Images are (N, H, W) float arrays; rectangle corners are ``(row, col)``, inclusive, as in
scikit-image's ``haar_like_feature_coord``. Labels are +1 (object) and -1 (background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def integral_image(images) -> np.ndarray:
    """Zero-padded integral image(s): ``ii[..., r, c] = images[..., :r, :c].sum()``.

    Parameters
    ----------
    images : (H, W) or (N, H, W) array

    Returns
    -------
    (H + 1, W + 1) or (N, H + 1, W + 1) float64 array. The extra zero row and column make
    :func:`rect_sum` need no special case at the image border. (scikit-image's
    ``integral_image`` has no padding: ``ii[1:, 1:]`` here equals it.)
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (2, 3):
        raise ValueError(f"images must be (H, W) or (N, H, W), got shape {images.shape}")
    pad = [(0, 0)] * (images.ndim - 2) + [(1, 0), (1, 0)]
    return np.pad(images.cumsum(-1).cumsum(-2), pad)


def rect_sum(ii, r0, c0, r1, c1) -> np.ndarray:
    """Sum of the pixels in rows ``r0..r1`` and columns ``c0..c1`` (inclusive) with 4 look-ups.

    Parameters
    ----------
    ii : (H + 1, W + 1) or (N, H + 1, W + 1) padded integral image(s) from :func:`integral_image`
    r0, c0, r1, c1 : ints or integer arrays of one shape (several rectangles at once)

    Returns
    -------
    the sums, shape ``ii.shape[:-2] + shape of the corners``.
    """
    ii = np.asarray(ii)
    r0, c0, r1, c1 = (np.asarray(v, dtype=np.intp) for v in (r0, c0, r1, c1))
    h, w = ii.shape[-2] - 1, ii.shape[-1] - 1
    if (r0 < 0).any() or (c0 < 0).any() or (r1 >= h).any() or (c1 >= w).any() or (r1 < r0).any() or (c1 < c0).any():
        raise ValueError(f"rectangles must satisfy 0 <= r0 <= r1 < {h} and 0 <= c0 <= c1 < {w}")
    return ii[..., r1 + 1, c1 + 1] - ii[..., r0, c1 + 1] - ii[..., r1 + 1, c0] + ii[..., r0, c0]


def haar_features(ii, feature_coord) -> np.ndarray:
    """Evaluate Haar-like features on a batch of padded integral images.

    Parameters
    ----------
    ii : (N, H + 1, W + 1) padded integral images (:func:`integral_image`)
    feature_coord : sequence of F features, each a list of rectangles ``[(r0, c0), (r1, c1)]``
        as returned by ``skimage.feature.haar_like_feature_coord``

    Returns
    -------
    (N, F) float64: for rectangles S0, S1, ... of a feature, ``-S0 + S1 - S2 + S3`` (the sign
    convention of ``skimage.feature.haar_like_feature``).
    """
    ii = np.asarray(ii, dtype=np.float64)
    if ii.ndim == 2:
        ii = ii[None]
    if ii.ndim != 3:
        raise ValueError(f"ii must be (N, H+1, W+1), got shape {ii.shape}")
    out = np.zeros((ii.shape[0], len(feature_coord)))
    by_count: dict[int, list[int]] = {}
    for j, rects in enumerate(feature_coord):
        by_count.setdefault(len(rects), []).append(j)
    for n_rect, cols in by_count.items():  # 2-, 3- and 4-rectangle features, vectorised
        corners = np.array([[[*rect[0], *rect[1]] for rect in feature_coord[j]] for j in cols])  # (F', n_rect, 4)
        sums = rect_sum(ii, corners[..., 0], corners[..., 1], corners[..., 2], corners[..., 3])  # (N, F', n_rect)
        signs = np.where(np.arange(n_rect) % 2 == 0, -1.0, 1.0)
        out[:, cols] = sums @ signs
    return out


@dataclass(frozen=True)
class Stump:
    """A decision stump: ``+1 if polarity * (x[feature] - threshold) > 0 else -1``, weighted by ``alpha``."""

    feature: int
    threshold: float
    polarity: int
    alpha: float = 1.0

    def predict(self, X) -> np.ndarray:
        """(N, F) features -> (N,) votes in {-1, +1}."""
        return np.where(self.polarity * (np.asarray(X)[:, self.feature] - self.threshold) > 0, 1.0, -1.0)


def _check_xy(X, y, w=None):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, F) and y (N,), got {X.shape} and {y.shape}")
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("labels y must be +1 (object) or -1 (background)")
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != y.shape or (w < 0).any():
            raise ValueError("sample weights w must be (N,) and non-negative")
    return X, y.astype(np.float64), w


def fit_stump(X, y, w=None) -> tuple[Stump, float]:
    """The stump with the lowest weighted error, searched exhaustively over features and thresholds.

    Parameters
    ----------
    X : (N, F) feature values;  y : (N,) labels in {-1, +1};  w : (N,) weights (default uniform)

    Returns
    -------
    ``(stump, weighted_error)``; thresholds lie half-way between consecutive sorted values.
    """
    X, y, w = _check_xy(X, y, w)
    n = len(y)
    w = np.full(n, 1.0 / n) if w is None else w / w.sum()
    order = np.argsort(X, axis=0, kind="stable")  # (N, F)
    xs = np.take_along_axis(X, order, axis=0)
    wpos = np.where(y[order] > 0, w[order], 0.0)
    wneg = np.where(y[order] < 0, w[order], 0.0)
    # Threshold after the i-th sorted value (i = 0: below all). Polarity +1 says "+1 above".
    pos_below = np.vstack([np.zeros(X.shape[1]), np.cumsum(wpos, axis=0)])  # (N + 1, F)
    neg_below = np.vstack([np.zeros(X.shape[1]), np.cumsum(wneg, axis=0)])
    err_plus = pos_below + (neg_below[-1] - neg_below)  # positives below + negatives above
    err_minus = neg_below + (pos_below[-1] - pos_below)
    # A threshold between two equal values cannot separate them: forbid it.
    tied = np.vstack([np.zeros((1, X.shape[1]), bool), xs[1:] == xs[:-1], np.zeros((1, X.shape[1]), bool)])
    err_plus[tied], err_minus[tied] = np.inf, np.inf
    errs = np.stack([err_plus, err_minus])  # (2, N + 1, F)
    k, i, f = np.unravel_index(np.argmin(errs), errs.shape)
    lo = xs[i - 1, f] if i > 0 else xs[0, f] - 1.0
    hi = xs[i, f] if i < n else xs[-1, f] + 1.0
    return Stump(int(f), float((lo + hi) / 2), 1 if k == 0 else -1), float(errs[k, i, f])


def adaboost(X, y, n_rounds: int, w=None) -> list[Stump]:
    """Discrete AdaBoost of decision stumps (Freund & Schapire), as used in each Viola-Jones stage.

    Each round fits the best stump on the current weights, gives it ``alpha = 0.5 ln((1-e)/e)``
    and multiplies the weights of the samples it got wrong by ``exp(2 alpha)`` (then normalises).

    Returns
    -------
    list of ``n_rounds`` :class:`Stump` with their ``alpha``; score with :func:`boosted_score`.
    """
    X, y, w = _check_xy(X, y, w)
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, (int, np.integer)) or n_rounds < 1:
        raise ValueError(f"n_rounds must be an int >= 1, got {n_rounds!r}")
    w = np.full(len(y), 1.0 / len(y)) if w is None else w / w.sum()
    stumps = []
    for _ in range(int(n_rounds)):
        stump, err = fit_stump(X, y, w)
        err = float(np.clip(err, 1e-10, 1 - 1e-10))  # a perfect stump would get alpha = inf
        alpha = 0.5 * np.log((1 - err) / err)
        stumps.append(Stump(stump.feature, stump.threshold, stump.polarity, float(alpha)))
        w = w * np.exp(-alpha * y * stump.predict(X))
        w /= w.sum()
    return stumps


def boosted_score(X, stumps) -> np.ndarray:
    """(N, F) features -> (N,) strong-classifier score ``sum(alpha * stump(x))``."""
    X = np.asarray(X, dtype=np.float64)
    return sum((s.alpha * s.predict(X) for s in stumps), np.zeros(X.shape[0]))


@dataclass(frozen=True)
class Stage:
    """One cascade stage: a window passes when ``boosted_score >= threshold``."""

    stumps: tuple[Stump, ...]
    threshold: float

    def passes(self, X) -> np.ndarray:
        return boosted_score(X, self.stumps) >= self.threshold


def train_cascade(X_pos, X_neg, stage_sizes, min_detection_rate: float = 0.99) -> list[Stage]:
    """Train a cascade: stage ``i`` boosts ``stage_sizes[i]`` stumps on the faces and on the
    non-faces that all earlier stages let through, then lowers its threshold until it keeps at
    least ``min_detection_rate`` of the training faces (Viola & Jones' trade: few false negatives,
    many false positives per stage, which later stages clean up).

    Parameters
    ----------
    X_pos, X_neg : (P, F) and (Q, F) feature values of objects and of background windows
    stage_sizes : number of stumps per stage, e.g. ``(1, 3, 6)``

    Returns
    -------
    list of :class:`Stage`; training stops early once no negative survives.
    """
    X_pos = np.asarray(X_pos, dtype=np.float64)
    X_neg = np.asarray(X_neg, dtype=np.float64)
    if X_pos.ndim != 2 or X_neg.ndim != 2 or X_pos.shape[1] != X_neg.shape[1] or not len(X_pos) or not len(X_neg):
        raise ValueError(f"X_pos and X_neg must be non-empty (N, F) with the same F, got {X_pos.shape}, {X_neg.shape}")
    if not 0 < min_detection_rate <= 1:
        raise ValueError(f"min_detection_rate must be in (0, 1], got {min_detection_rate}")
    stages = []
    neg = X_neg
    for size in stage_sizes:
        if not len(neg):
            break
        X = np.vstack([X_pos, neg])
        y = np.concatenate([np.ones(len(X_pos)), -np.ones(len(neg))])
        # Equal total weight for the two classes, as Viola & Jones initialise it.
        w = np.concatenate([np.full(len(X_pos), 0.5 / len(X_pos)), np.full(len(neg), 0.5 / len(neg))])
        stumps = tuple(adaboost(X, y, size, w))
        scores = boosted_score(X_pos, stumps)
        # Highest threshold that keeps ceil(rate * P) positives.
        keep = int(np.ceil(min_detection_rate * len(X_pos)))
        threshold = float(np.sort(scores)[::-1][keep - 1])
        stage = Stage(stumps, threshold)
        stages.append(stage)
        neg = neg[stage.passes(neg)]
    return stages


def cascade_survivors(X, stages) -> np.ndarray:
    """How many of the (N, F) windows are still alive before stage 1 and after each stage.

    Returns
    -------
    int array of length ``len(stages) + 1``: ``[N, after stage 1, after stage 2, ...]``.
    Each stage only scores the windows the previous ones passed, which is why a cascade is fast.
    """
    X = np.asarray(X, dtype=np.float64)
    alive = np.arange(len(X))
    counts = [len(alive)]
    for stage in stages:
        alive = alive[stage.passes(X[alive])]
        counts.append(len(alive))
    return np.array(counts)


def cascade_predict(X, stages) -> np.ndarray:
    """(N, F) -> (N,) bool: True where a window passes every stage."""
    X = np.asarray(X, dtype=np.float64)
    ok = np.ones(len(X), dtype=bool)
    for stage in stages:
        ok[ok] = stage.passes(X[ok])
    return ok


def stage_features(stages) -> list[np.ndarray]:
    """The distinct feature indices each stage reads (a stage is only as costly as its features)."""
    return [np.unique([s.feature for s in stage.stumps]) for stage in stages]


def haar_features_at(ii, feature_coord, offsets) -> np.ndarray:
    """Haar-like features of windows placed at ``offsets`` in one image, from one integral image.

    This is how a detector scans: the integral image of the whole (pyramid level of the) image
    is computed once, and a feature of the window whose top-left corner is ``(row, col)`` is the
    same rectangle sums shifted by ``(row, col)``.

    Parameters
    ----------
    ii : (H + 1, W + 1) padded integral image of the whole image
    feature_coord : F features in window coordinates (``skimage.feature.haar_like_feature_coord``)
    offsets : (N, 2) int top-left ``(row, col)`` of each window

    Returns
    -------
    (N, F) float64, equal to :func:`haar_features` of the N cropped windows.
    """
    ii = np.asarray(ii, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.intp).reshape(-1, 2)
    if ii.ndim != 2:
        raise ValueError(f"ii must be one (H+1, W+1) integral image, got shape {ii.shape}")
    out = np.zeros((len(offsets), len(feature_coord)))
    dr, dc = offsets[:, :1], offsets[:, 1:]
    for j, rects in enumerate(feature_coord):
        for i, ((r0, c0), (r1, c1)) in enumerate(rects):
            sign = -1.0 if i % 2 == 0 else 1.0
            out[:, j] += sign * rect_sum(ii, dr[:, 0] + r0, dc[:, 0] + c0, dr[:, 0] + r1, dc[:, 0] + c1)
    return out


def scale_feature_coord(feature_coord, scale: float) -> list:
    """Scale Haar-like features to a ``scale`` times larger window: Viola & Jones' way to scan scales.

    Instead of resizing the image (a pyramid), Viola & Jones scale the *detector*: with an
    integral image a rectangle sum costs 4 look-ups whatever its size, so a feature on a
    ``scale``-times larger window costs the same as on the base window. Each inclusive
    rectangle ``[(r0, c0), (r1, c1)]`` becomes ``[(round(s r0), round(s c0)), (round(s (r1 + 1)) - 1,
    round(s (c1 + 1)) - 1)]``; divide the feature values by ``scale ** 2`` (``value_scale`` of
    :func:`run_cascade`) to compare them with thresholds learnt on the base window. For an
    integer ``scale`` the scaled rectangles are exact.

    Parameters
    ----------
    feature_coord : features in base-window coordinates (``skimage.feature.haar_like_feature_coord``)
    scale : float >= 1

    Returns
    -------
    list of features, each a list of ``[(r0, c0), (r1, c1)]`` rectangles, in the scaled window.
    """
    if not np.isfinite(scale) or scale < 1:
        raise ValueError(f"scale must be a finite number >= 1, got {scale!r}")

    def edge(v):
        return int(np.floor(v * scale + 0.5))

    return [[[(edge(r0), edge(c0)), (edge(r1 + 1) - 1, edge(c1 + 1) - 1)] for (r0, c0), (r1, c1) in rects]
            for rects in feature_coord]


def run_cascade(ii, feature_coord, stages, offsets=None, value_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scan windows with a cascade the way a detector does: each stage computes only its own
    features, and only on the windows every earlier stage passed.

    Parameters
    ----------
    ii : (N, h + 1, w + 1) padded integral images of N window crops, or, with ``offsets``,
        the (H + 1, W + 1) integral image of a whole image
    feature_coord : the feature coordinates the stages' ``Stump.feature`` indices refer to
    stages : from :func:`train_cascade`
    offsets : (N, 2) top-left ``(row, col)`` of the windows in that image (see :func:`haar_features_at`)
    value_scale : feature values are divided by it before the stumps compare them (``scale ** 2``
        for features scaled by :func:`scale_feature_coord`)

    Returns
    -------
    passed : (N,) bool, windows that pass every stage
    counts : int array ``[N, alive after stage 1, ...]`` (as :func:`cascade_survivors`)
    The features evaluated in total are ``sum(counts[i] * len(stage_features(stages)[i]))``.
    """
    ii = np.asarray(ii, dtype=np.float64)
    if offsets is None:
        n = len(ii)

        def features(idx, used):
            return haar_features(ii[idx], [feature_coord[j] for j in used])
    else:
        offsets = np.asarray(offsets, dtype=np.intp).reshape(-1, 2)
        n = len(offsets)

        def features(idx, used):
            return haar_features_at(ii, [feature_coord[j] for j in used], offsets[idx])
    alive = np.arange(n)
    counts = [n]
    for stage, used in zip(stages, stage_features(stages), strict=True):
        if len(alive):
            values = features(alive, used) / value_scale  # only this stage's columns
            column = {f: i for i, f in enumerate(used)}
            score = sum((s.alpha * np.where(s.polarity * (values[:, column[s.feature]] - s.threshold) > 0, 1.0, -1.0)
                         for s in stage.stumps), np.zeros(len(alive)))
            alive = alive[score >= stage.threshold]
        counts.append(len(alive))
    passed = np.zeros(n, dtype=bool)
    passed[alive] = True
    return passed, np.array(counts)
