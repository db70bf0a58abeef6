"""Kalman filter decoder (Wu et al. 2003), fitted in closed form, run at its steady state.

Wu, Black, Gao, Bienenstock, Serruya, Shaikhouni, Donoghue (2003), "Neural decoding of cursor
motion using a Kalman filter": hand kinematics follow linear-Gaussian dynamics
``x_t = A x_{t-1} + w``, and firing rates are a linear function of them, ``z_t = H x_t + q``;
A, W, H, Q are least-squares fits on training data. Wu et al. put position, velocity and
acceleration in the state; the labels here are velocity only, so the state is the 2-D velocity
(centred on its training mean, which plays the part of their constant term), as in most velocity
Kalman filters since.

Observations are spike counts over the last ``bins_per_window`` 4 ms bins, not the 0/1 bins
themselves: one 4 ms bin is nearly always 0 and a linear-Gaussian model of it fits badly; Wu et
al. used 70 ms counts. The window slides by one bin, so the filter still updates every 4 ms.

The gain is the steady-state one (Malik et al. 2011, "Efficient decoding with steady-state
Kalman filters in neural interface systems"): it reaches steady state within a second of data,
and a constant gain makes the whole filter a fixed 2 x 2 linear recursion, which runs over a
sequence as two second-order IIR filters (``scipy.signal.lfilter``), with no loop over bins.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from scipy.linalg import solve_discrete_are
from scipy.signal import lfilter

from snn_core.metrics import ModelCost, OperationCounter

from ._base import Decoder, check_bin, check_fitted, check_sequence, is_real, require, require_int
from ._history import SpikeHistory, lagged_count_chunks


def _observations(X: np.ndarray, bins_per_window: int) -> np.ndarray:
    return np.concatenate([phi for _, phi in lagged_count_chunks(X, 1, bins_per_window)])


def _least_squares(inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map M with targets ~ inputs M^T, and the covariance of the residuals."""
    coef = np.linalg.lstsq(inputs, targets, rcond=None)[0].T
    residual = targets - inputs @ coef.T
    return coef, residual.T @ residual / len(residual)


def linear_recursion(M: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Solve ``x_t = M x_{t-1} + u_t`` from ``x_{-1} = 0`` for a 2 x 2 ``M``; ``u`` is (T, 2).

    In z-transform terms x = (I - M z^-1)^-1 u = adj(I - M z^-1) u / det(I - M z^-1): every
    output is a sum of two real second-order IIR filters with the shared denominator
    ``1 - tr(M) z^-1 + det(M) z^-2``, exact for any M (no eigendecomposition needed).
    """
    a = [1.0, -np.trace(M), np.linalg.det(M)]
    x0 = lfilter([1.0, -M[1, 1]], a, u[:, 0]) + lfilter([0.0, M[0, 1]], a, u[:, 1])
    x1 = lfilter([0.0, M[1, 0]], a, u[:, 0]) + lfilter([1.0, -M[0, 0]], a, u[:, 1])
    return np.stack([x0, x1], axis=1)


class KalmanDecoder(Decoder):
    """Velocity Kalman filter on sliding-window spike counts.

    Args:
        bins_per_window: 4 ms bins summed into one observation (12 bins = 48 ms).
        observation_ridge: added to the diagonal of Q, relative to its mean diagonal; keeps Q
            invertible when channels are silent (docs/data.md: 6 of 96 on indy_20160630_01).
    """

    name = "kalman"

    def __init__(self, bins_per_window: int = 12, observation_ridge: float = 1e-3) -> None:
        self.bins_per_window = bins_per_window
        self.observation_ridge = observation_ridge

    def check_params(self) -> None:
        require_int(self, "bins_per_window", 1)
        ridge = self.observation_ridge
        require(self, is_real(ridge) and ridge >= 0, "observation_ridge", "a number >= 0")

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> Self:
        """Closed-form fit on the training segment; no validation data is used.

        The Kalman filter has no free parameter to choose, so ``X_val``/``y_val`` are only
        checked; it is fitted on all of ``X`` (no hold-out when they are absent).
        """
        self.check_params()
        ridge = self.observation_ridge
        X = check_sequence(X, y)
        if X_val is not None:
            check_sequence(X_val, y_val, n_features=X.shape[1])
        require(self, len(X) > 2, "bins_per_window", "more than 2 training bins to fit dynamics")

        z = _observations(X, self.bins_per_window)
        velocity = np.asarray(y, dtype=np.float64)
        self.velocity_mean_ = velocity.mean(axis=0)
        self.observation_mean_ = z.mean(axis=0)
        v = velocity - self.velocity_mean_
        z = z - self.observation_mean_

        self.A_, self.W_ = _least_squares(v[:-1], v[1:])
        self.H_, Q = _least_squares(v, z)
        self.Q_ = Q + ridge * (np.trace(Q) / len(Q) or 1.0) * np.eye(len(Q))

        # Prior covariance at steady state: the DARE of the dual (estimation) problem.
        prior = solve_discrete_are(self.A_.T, self.H_.T, self.W_, self.Q_)
        innovation = self.H_ @ prior @ self.H_.T + self.Q_
        self.gain_ = np.linalg.solve(innovation, self.H_ @ prior).T
        self.transition_ = (np.eye(2) - self.gain_ @ self.H_) @ self.A_
        self.n_features_in_ = X.shape[1]
        self.history_ = SpikeHistory(X.shape[1], 1, self.bins_per_window)
        self.state_ = np.zeros(2)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "gain_")
        X = check_sequence(X, n_features=self.n_features_in_)
        drive = (_observations(X, self.bins_per_window) - self.observation_mean_) @ self.gain_.T
        return linear_recursion(self.transition_, drive) + self.velocity_mean_

    def cost(self, X: np.ndarray) -> ModelCost:
        """Per step ``x = transition_ x + gain_ (z - m)``: both matrix-vector products counted
        (MACs unless the input is 0/1). ``gain_ m`` is a constant, i.e. a bias, so the gain's
        effective operations count the non-zero window counts ``z``. Footprint: the float64
        arrays decoding uses (gain, transition, both means), not the fit-only A, W, H, Q.
        Activation sparsity: share of zeros among ``z`` and the state multiplied each step."""
        check_fitted(self, "gain_")
        X = check_sequence(X, n_features=self.n_features_in_)
        z = _observations(X, self.bins_per_window)
        state = linear_recursion(self.transition_, (z - self.observation_mean_) @ self.gain_.T)
        previous = np.vstack([np.zeros((1, 2)), state[:-1]])
        counter = OperationCounter()
        for inputs, weight in ((z, self.gain_), (previous, self.transition_)):
            counter.matvec(inputs, weight)
            counter.activations(inputs)
        stored = (self.gain_, self.transition_, self.observation_mean_, self.velocity_mean_)
        return counter.cost(len(X), stored=stored, weights=(self.gain_, self.transition_))

    def reset(self) -> None:
        check_fitted(self, "gain_")
        self.history_.reset()
        self.state_ = np.zeros(2)

    def step(self, x: np.ndarray) -> np.ndarray:
        check_fitted(self, "gain_")
        z = self.history_.push(check_bin(x, self.n_features_in_)) - self.observation_mean_
        self.state_ = self.transition_ @ self.state_ + self.gain_ @ z
        return self.state_ + self.velocity_mean_
