"""Kalman filter decoder (Wu et al. 2003) on coarse spike counts, its output held at 4 ms.

Wu, Black, Gao, Bienenstock, Serruya, Shaikhouni, Donoghue (2003), "Neural decoding of cursor
motion using a Kalman filter": hand kinematics follow linear-Gaussian dynamics
``x_j = A x_{j-1} + w``, and spike counts are a linear function of them, ``z_j = H x_j + q``;
A, W, H, Q are least-squares fits on training data. The labels here are velocity only, so the
state is the 2-D velocity (centred on its training mean, which plays the part of their constant
term), as in most velocity Kalman filters since.

The filter runs the way Wu et al. and Glaser et al. (2020, "Machine learning for neural
decoding") run it: on counts in *non-overlapping* bins of 48 to 100 ms (Wu et al.: 70 ms), one
filter update per bin. Counts in sliding windows that advance by one 4 ms bin share almost all
their spikes from one update to the next, so their noise is strongly correlated in time, which
the model's independent ``q`` denies: the filter then over-trusts the observations and its
output swings (R2 below 0 on correlated sessions, the reason for this design). Neural activity
leads movement (docs/data.md: by about 100 to 180 ms), so the counts of bin ``j - lag`` observe
the state of bin ``j``. The bin width and the lag are chosen on the validation split from the
candidates given (none is fitted on the test split).

Between updates the output is held: each 4 ms bin gets the estimate of the latest completed
coarse bin (causal; the prior mean before the first one). The state of coarse bin ``j`` is
therefore fitted as the mean velocity over the 4 ms bins that will show its estimate, the next
``bins_per_window`` bins after the one that completes it.

The gain is the steady-state one (Malik et al. 2011, "Efficient decoding with steady-state
Kalman filters in neural interface systems"): a constant gain makes the whole filter a fixed
2 x 2 linear recursion, which runs over a sequence as two second-order IIR filters
(``scipy.signal.lfilter``), with no loop over bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy.linalg import solve_discrete_are
from scipy.signal import lfilter

from bmi_decoder.evaluation import r2_score
from snn_core.errors import InputError
from snn_core.metrics import ModelCost, OperationCounter

from ._base import Decoder, check_bin, check_fitted, check_sequence, is_real, require, require_candidates, train_validation
from ._history import SpikeHistory, cumulative_counts, lagged_counts


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


def steady_state_gain(A: np.ndarray, W: np.ndarray, H: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """The Kalman gain (n, F) at steady state, for an n-dimensional state and F observations.

    The prior covariance P solves the filter's Riccati equation; in information form (matrix
    inversion lemma) the observations enter it only through ``S = H^T Q^-1 H`` (n x n), so it is
    the DARE of an n x n problem with observation matrix ``G`` (``G^T G = S``) and unit noise,
    however many channels there are. Then ``K = (P^-1 + S)^-1 H^T Q^-1``.
    """
    q_inv_h = np.linalg.solve(Q, H)
    S = H.T @ q_inv_h
    eigval, eigvec = np.linalg.eigh((S + S.T) / 2)
    G = np.sqrt(np.clip(eigval, 0.0, None))[:, None] * eigvec.T
    prior = solve_discrete_are(A.T, G.T, W, np.eye(len(A)))
    return np.linalg.solve(np.linalg.inv(prior) + S, q_inv_h.T)


def update_rows(n_bins: int, width: int) -> np.ndarray:
    """The 4 ms bins that complete a coarse bin of ``width`` bins: ``width - 1``, ``2 width - 1``..."""
    return np.arange(width - 1, n_bins, width)


def observations(cum: np.ndarray, rows: np.ndarray, width: int, lag: int) -> np.ndarray:
    """(R, F) counts of the coarse bin ``lag`` bins before the one each row completes (bins
    before the sequence start count as silent, as in the streaming reset state)."""
    n_features = cum.shape[1]
    if not len(rows):  # a sequence shorter than one coarse bin
        return np.empty((0, n_features))
    return lagged_counts(cum, rows, lag + 1, width)[:, lag * n_features :]


def held_targets(y: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """(R, 2) mean velocity over the ``width`` 4 ms bins after each row: the bins that show the
    estimate made at that row. Rows without a full such span are the caller's to drop."""
    cum = cumulative_counts(y)
    start = np.minimum(rows + 1, len(y))
    return (cum[np.minimum(start + width, len(y))] - cum[start]) / width


def hold(estimates: np.ndarray, n_bins: int, width: int, prior: np.ndarray) -> np.ndarray:
    """(T, 2): each 4 ms bin shows the estimate of the latest completed coarse bin (``prior``
    before the first)."""
    table = np.vstack([prior[None, :], estimates])
    return table[(np.arange(n_bins) + 1) // width]


class KalmanDecoder(Decoder):
    """Velocity Kalman filter on non-overlapping coarse spike-count bins.

    Args:
        bins_per_window: 4 ms bins per coarse bin, or candidates chosen on the validation split
            (default 12, 16, 20, 25 = 48, 64, 80, 100 ms; Wu et al. 2003 used 70 ms).
        lags: coarse bins between the counts and the state they observe, or candidates chosen
            on the validation split with the bin width (default 0 to 2).
        observation_ridge: added to the diagonal of Q, relative to its mean diagonal; keeps Q
            invertible when channels are silent (docs/data.md: 6 of 96 on indy_20160630_01).
    """

    name = "kalman"

    def __init__(
        self,
        bins_per_window: int | Sequence[int] = (12, 16, 20, 25),
        lags: int | Sequence[int] = (0, 1, 2),
        observation_ridge: float = 1e-3,
    ) -> None:
        self.bins_per_window = bins_per_window
        self.lags = lags
        self.observation_ridge = observation_ridge

    def _grid(self) -> tuple[list[int], list[int]]:
        """The candidate bin widths and lags, checked (with every other parameter)."""
        widths, lags = require_candidates(self, "bins_per_window", 1), require_candidates(self, "lags", 0)
        ridge = self.observation_ridge
        require(self, is_real(ridge) and ridge >= 0, "observation_ridge", "a number >= 0")
        return widths, lags

    def check_params(self) -> None:
        self._grid()

    def _fit_one(self, cum: np.ndarray, y: np.ndarray, width: int, lag: int) -> dict[str, np.ndarray] | None:
        """The filter for one bin width and lag, fitted on the training counts ``cum``
        (:func:`cumulative_counts`) and velocity ``y``; None with too few coarse bins."""
        rows = update_rows(len(y), width)
        # Keep the updates whose observed bin lies inside X and whose held span is complete.
        keep = (np.arange(len(rows)) >= lag) & (rows + width < len(y))
        if keep.sum() < 3:
            return None
        z = observations(cum, rows[keep], width, lag)
        velocity = held_targets(y, rows[keep], width)
        velocity_mean, observation_mean = velocity.mean(axis=0), z.mean(axis=0)
        v, z = velocity - velocity_mean, z - observation_mean
        A, W = _least_squares(v[:-1], v[1:])
        H, Q = _least_squares(v, z)
        Q = Q + self.observation_ridge * (np.trace(Q) / len(Q) or 1.0) * np.eye(len(Q))
        gain = steady_state_gain(A, W, H, Q)
        return {
            "A_": A,
            "W_": W,
            "H_": H,
            "Q_": Q,
            "gain_": gain,
            "transition_": (np.eye(2) - gain @ H) @ A,
            "velocity_mean_": velocity_mean,
            "observation_mean_": observation_mean,
        }

    @staticmethod
    def _run(learned: dict[str, np.ndarray], cum: np.ndarray, width: int, lag: int) -> np.ndarray:
        """Decode the bins of ``cum`` (:func:`cumulative_counts`) from the reset state with the
        filter ``learned``: (T, 2) at 4 ms."""
        n_bins = len(cum) - 1
        rows = update_rows(n_bins, width)
        z = observations(cum, rows, width, lag)
        drive = (z - learned["observation_mean_"]) @ learned["gain_"].T
        estimates = linear_recursion(learned["transition_"], drive) if len(rows) else np.empty((0, 2))
        estimates += learned["velocity_mean_"]
        return hold(estimates, n_bins, width, learned["velocity_mean_"])

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> Self:
        """Closed-form fit on the training segment for every candidate bin width and lag; the
        pair with the best R2 on the validation segment (``X_val``, ``y_val``, or else the last
        :data:`~bmi_decoder.decoders._base.HOLDOUT_FRACTION` of ``X``) is kept."""
        widths, lags = self._grid()
        X, y, X_val, y_val = train_validation(X, y, X_val, y_val)
        cum, cum_val = cumulative_counts(X), cumulative_counts(X_val)
        scores: dict[int, dict[int, float]] = {}
        best: tuple[float, int, int, dict] | None = None
        for width in widths:
            for lag in lags:
                learned = self._fit_one(cum, y, width, lag)
                if learned is None:
                    continue
                score = float(r2_score(y_val, self._run(learned, cum_val, width, lag)))
                scores.setdefault(width, {})[lag] = score
                score = score if np.isfinite(score) else -np.inf
                if best is None or score > best[0]:  # ties: the first, i.e. the shorter bin and lag
                    best = (score, width, lag, learned)
        if best is None:
            raise InputError(
                f"{self.name} decoder",
                "bins_per_window",
                f"training data of at least 3 coarse bins past the lag, got {len(X)} bins",
            )
        _, self.window_, self.lag_, learned = best
        for key, value in learned.items():
            setattr(self, key, value)
        self.validation_r2_ = scores
        self.n_features_in_ = X.shape[1]
        self.history_ = SpikeHistory(X.shape[1], self.lag_ + 1, self.window_)
        self.state_ = np.zeros(2)
        self.output_ = self.velocity_mean_.copy()
        return self

    def _learned(self) -> dict[str, np.ndarray]:
        return {
            "gain_": self.gain_,
            "transition_": self.transition_,
            "velocity_mean_": self.velocity_mean_,
            "observation_mean_": self.observation_mean_,
        }

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "gain_")
        X = check_sequence(X, n_features=self.n_features_in_)
        return self._run(self._learned(), cumulative_counts(X), self.window_, self.lag_)

    def cost(self, X: np.ndarray) -> ModelCost:
        """Per update (one every ``window_`` 4 ms bins) ``x = transition_ x + gain_ (z - m)``:
        both matrix-vector products counted (ACs at an update whose input holds only -1, 0
        and 1, else MACs), spread over the 4 ms steps. ``gain_ m`` is a constant, i.e. a bias, so the gain's effective operations
        count the non-zero counts ``z``. Footprint: the float64 arrays decoding uses (gain,
        transition, both means), not the fit-only A, W, H, Q. Activation sparsity: share of
        zeros among ``z`` and the state multiplied at each update."""
        check_fitted(self, "gain_")
        X = check_sequence(X, n_features=self.n_features_in_)
        z = observations(cumulative_counts(X), update_rows(len(X), self.window_), self.window_, self.lag_)
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
        self.output_ = self.velocity_mean_.copy()

    def step(self, x: np.ndarray) -> np.ndarray:
        check_fitted(self, "gain_")
        counts = self.history_.push(check_bin(x, self.n_features_in_))
        # The ring holds (lag + 1) coarse bins, so it wraps to a multiple of window_ exactly
        # when a coarse bin completes; its oldest window is then the observed bin.
        if self.history_.head % self.window_ == 0:
            z = counts[self.lag_ * self.n_features_in_ :] - self.observation_mean_
            self.state_ = self.transition_ @ self.state_ + self.gain_ @ z
            self.output_ = self.state_ + self.velocity_mean_
        return self.output_.copy()
