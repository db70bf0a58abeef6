"""Wiener filter: ridge regression of velocity on a causal history of spike counts.

The classical linear BMI decoder (e.g. Carmena et al. 2003; Glaser et al. 2020, "Machine
learning for neural decoding", who find it a strong baseline): velocity at bin t is a linear
function of the counts in ``n_lags`` windows of ``bins_per_lag`` bins reaching back from t.
Fitted in closed form on the training split. The history (``n_lags`` and ``bins_per_lag``, each
one value or a list of candidates) and the ridge penalty are chosen together on the validation
split; per history, one eigendecomposition of the Gram matrix gives the solution for every
penalty at once. No separate lag is needed: the latest window ends at the current bin, and a
longer history covers the neural lead (docs/data.md: 100 to 180 ms) with weights learned per lag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from bmi_decoder.evaluation import r2_score
from snn_core.memory import require_memory
from snn_core.metrics import ModelCost, OperationCounter

from ._base import Decoder, check_bin, check_fitted, check_sequence, require, require_candidates, train_validation
from ._history import SpikeHistory, lagged_count_chunks


def _ridge_path(
    X: np.ndarray, y: np.ndarray, n_lags: int, bins_per_lag: int, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge coefficients (p, len(alphas), 2) on centred lagged counts, for every penalty, and
    the feature and label means."""
    # Sufficient statistics, accumulated chunk by chunk so memory is independent of T.
    p = n_lags * X.shape[1]
    gram, cross, total = np.zeros((p, p)), np.zeros((p, 2)), np.zeros(p)
    for rows, phi in lagged_count_chunks(X, n_lags, bins_per_lag):
        gram += phi.T @ phi
        cross += phi.T @ y[rows]
        total += phi.sum(axis=0)
    n = len(X)
    mean_phi, mean_y = total / n, y.mean(axis=0)
    gram -= n * np.outer(mean_phi, mean_phi)
    cross -= n * np.outer(mean_phi, mean_y)

    eigval, eigvec = np.linalg.eigh(gram)
    scale = np.trace(gram) / p or 1.0
    projected = eigvec.T @ cross
    # coefs[:, a, :] = V diag(1 / (s + alpha_a scale)) V^T X^T y, for every alpha at once.
    shrunk = projected[:, None, :] / (eigval[:, None, None] + alphas[None, :, None] * scale)
    return np.einsum("ij,jak->iak", eigvec, shrunk), mean_phi, mean_y


def _validation_r2(
    coefs: np.ndarray,
    mean_phi: np.ndarray,
    mean_y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    n_lags: int,
    bins_per_lag: int,
) -> np.ndarray:
    """R2 on the validation segment of every penalty's coefficients, (len(alphas),)."""
    p, n_alphas, _ = coefs.shape
    flat = coefs.reshape(p, -1)
    val_pred = np.empty((len(X_val), flat.shape[1]))
    for rows, phi in lagged_count_chunks(X_val, n_lags, bins_per_lag):
        val_pred[rows] = (phi - mean_phi) @ flat
    val_pred = val_pred.reshape(len(X_val), n_alphas, 2) + mean_y
    return np.array([r2_score(y_val, val_pred[:, a]) for a in range(n_alphas)])


class WienerDecoder(Decoder):
    """Ridge regression on lagged spike counts.

    Args:
        n_lags: number of history windows, or candidates chosen on the validation split
            (default 4, 7, 10 windows of 7 bins: 112, 196 and 280 ms; 196 ms is NeuroBench's
            ANN window; neural activity leads hand velocity by 100 to 180 ms, docs/data.md).
        bins_per_lag: 4 ms bins summed per window, or candidates chosen on the validation split.
        alphas: ridge penalties to try, relative to the mean eigenvalue of the centred Gram
            matrix (so the grid means the same on any session length or channel count).
    """

    name = "wiener"

    def __init__(
        self,
        n_lags: int | Sequence[int] = (4, 7, 10),
        bins_per_lag: int | Sequence[int] = 7,
        alphas: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0),
    ) -> None:
        self.n_lags = n_lags
        self.bins_per_lag = bins_per_lag
        self.alphas = alphas

    def _grid(self) -> tuple[list[int], list[int], np.ndarray]:
        """The candidate histories and ridge strengths to try, checked."""
        n_lags, widths = require_candidates(self, "n_lags", 1), require_candidates(self, "bins_per_lag", 1)
        try:
            alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            alphas = np.empty(0)
        ok = alphas.size > 0 and bool(np.all(np.isfinite(alphas) & (alphas > 0)))
        require(self, ok, "alphas", "a non-empty list of positive finite numbers")
        return n_lags, widths, alphas

    def _require_memory(self, n_features: int) -> None:
        """The ridge solves on a Gram matrix of (n_lags x channels)^2 float64s, three times over
        (the matrix, its eigenvectors, the coefficients' product)."""
        p = max(require_candidates(self, "n_lags", 1)) * n_features
        require_memory(f"{self.name} decoder", "n_lags", 3 * 8 * p * p, f"a history of n_lags for {n_features} channel(s)")

    def check_params(self) -> None:
        self._grid()
        self._require_memory(1)  # one channel at least: a lower bound of what it needs

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> Self:
        lag_grid, width_grid, alphas = self._grid()
        X, y, X_val, y_val = train_validation(X, y, X_val, y_val)
        self._require_memory(X.shape[1])
        scores: dict[int, dict[int, dict[float, float]]] = {}
        best: tuple[float, int, int, int, np.ndarray, np.ndarray] | None = None
        for n_lags in lag_grid:
            for width in width_grid:
                coefs, mean_phi, mean_y = _ridge_path(X, y, n_lags, width, alphas)
                val_r2 = _validation_r2(coefs, mean_phi, mean_y, X_val, y_val, n_lags, width)
                scores.setdefault(n_lags, {})[width] = dict(zip(alphas.tolist(), val_r2.tolist(), strict=True))
                finite = np.where(np.isfinite(val_r2), val_r2, -np.inf)
                a = int(np.argmax(finite)) if np.isfinite(finite).any() else len(alphas) - 1
                if best is None or finite[a] > best[0]:  # ties: the first, i.e. the shorter history
                    best = (float(finite[a]), n_lags, width, a, coefs[:, a, :], mean_y - mean_phi @ coefs[:, a, :])
        _, self.n_lags_, self.bins_per_lag_, a, self.coef_, self.intercept_ = best
        self.alpha_ = float(alphas[a])
        self.validation_r2_ = scores
        self.n_features_in_ = X.shape[1]
        self.history_ = SpikeHistory(X.shape[1], self.n_lags_, self.bins_per_lag_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "coef_")
        X = check_sequence(X, n_features=self.n_features_in_)
        out = np.empty((len(X), 2))
        for rows, phi in lagged_count_chunks(X, self.n_lags_, self.bins_per_lag_):
            out[rows] = phi @ self.coef_ + self.intercept_
        return out

    def cost(self, X: np.ndarray) -> ModelCost:
        """One linear map per step from the lagged counts (MACs at the steps where a count
        exceeds 1, ACs at the others: always when the chosen ``bins_per_lag_`` is 1); the
        intercept is a bias. Footprint: ``coef_`` and ``intercept_``,
        float64. Activation sparsity: share of zero lagged counts."""
        check_fitted(self, "coef_")
        X = check_sequence(X, n_features=self.n_features_in_)
        counter = OperationCounter()
        for _, phi in lagged_count_chunks(X, self.n_lags_, self.bins_per_lag_):
            counter.matvec(phi, self.coef_.T)
            counter.activations(phi)
        return counter.cost(len(X), stored=(self.coef_, self.intercept_), weights=(self.coef_,))

    def reset(self) -> None:
        check_fitted(self, "coef_")
        self.history_.reset()

    def step(self, x: np.ndarray) -> np.ndarray:
        check_fitted(self, "coef_")
        return self.history_.push(check_bin(x, self.n_features_in_)) @ self.coef_ + self.intercept_
