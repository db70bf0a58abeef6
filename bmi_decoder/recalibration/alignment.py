"""Unsupervised recalibration: map a new day's channels onto the day the decoder was trained on.

Neither method reads velocity, so both can run on any stretch of a new day's activity. Each
returns an :class:`AlignedDecoder`: the trained decoder, unchanged, behind a linear transform of
its input bins.

- :class:`RateNormalisation` rescales each channel so that its mean rate on the calibration
  segment equals its mean rate in the training data, and feeds a channel that went silent its
  old mean: a baseline that moved biases every linear readout (Perge et al. 2013 traced a
  directional bias of decoded cursors to such rate changes).
- :class:`FactorAlignment` follows Degenhart et al. 2020 ("Stabilization of a brain-computer
  interface via the alignment of low-dimensional spaces of neural activity"): factor analysis
  of each day's counts, an orthogonal rotation (Procrustes) that aligns the new day's loadings
  to the reference day's on the channels whose loadings agree best (found by iterating the
  alignment and keeping the most similar rows), and the new day's activity carried through
  that alignment back onto the reference channels: ``x0 = mu0 + L0 O^T E[z | x]``.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.decomposition import FactorAnalysis

from bmi_decoder.decoders import Decoder
from bmi_decoder.decoders._base import check_bin, check_sequence
from snn_core.metrics import ModelCost

from ._base import Recalibration

# A channel with fewer spikes than this per second in the calibration segment is taken as gone.
SILENT_HZ = 0.05


class AlignedDecoder(Decoder):
    """A fitted decoder reading ``X @ matrix.T + offset`` (or ``X * scale + offset``) instead of ``X``.

    Args:
        decoder: the fitted decoder, used unchanged.
        matrix: (F, F) map of the new day's channels onto the decoder's, or None.
        scale: (F,) per-channel factor when there is no matrix.
        offset: (F,) added after the map.
    """

    def __init__(
        self,
        decoder: Decoder,
        matrix: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        offset: np.ndarray | None = None,
    ) -> None:
        self.decoder = decoder
        self.matrix = matrix
        self.scale = scale
        self.offset = offset

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.decoder.name

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The bins as the decoder expects them."""
        X = check_sequence(X, n_features=len(self.offset))
        mapped = X @ self.matrix.T if self.matrix is not None else X * self.scale
        return mapped + self.offset

    def check_params(self) -> None:
        self.decoder.check_params()

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> Self:
        raise TypeError("an AlignedDecoder wraps a fitted decoder; recalibrate that decoder instead of fitting this one")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.decoder.predict(self.transform(X))

    def reset(self) -> None:
        self.decoder.reset()

    def step(self, x: np.ndarray) -> np.ndarray:
        return self.decoder.step(self.transform(check_bin(x, len(self.offset))[None])[0])

    def cost(self, X: np.ndarray) -> ModelCost:
        """The wrapped decoder's cost on the transformed bins (the transform itself not counted)."""
        return self.decoder.cost(self.transform(X))

    def transform_arrays(self) -> dict[str, np.ndarray]:
        """The transform's numbers, counted as changed parameters by the protocol."""
        return {k: v for k, v in (("matrix_", self.matrix), ("scale_", self.scale), ("offset_", self.offset)) if v is not None}


def _rates(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).mean(axis=0)


class RateNormalisation(Recalibration):
    """Each channel scaled to its training-data mean rate; a silent channel fed its old mean."""

    name = "rates"
    supervised = False

    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        reference, now = _rates(X_reference), _rates(X_cal)
        bin_s = 0.004
        alive = now > SILENT_HZ * bin_s
        scale = np.where(alive, reference / np.where(alive, now, 1.0), 0.0)
        offset = np.where(alive, 0.0, reference)
        return AlignedDecoder(decoder, scale=scale, offset=offset)


def _window_counts(X: np.ndarray, bins: int) -> np.ndarray:
    n = len(X) // bins
    return np.asarray(X[: n * bins], dtype=np.float64).reshape(n, bins, -1).sum(axis=1)


def _procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal O minimising ||source O - target||."""
    u, _, vt = np.linalg.svd(source.T @ target)
    return u @ vt


class FactorAlignment(Recalibration):
    """Degenhart et al. 2020's stabiliser, with the aligned latents mapped back onto the channels.

    Args:
        factors: latent dimensions of the factor analysis (Degenhart et al. used 10).
        window_bins: 4 ms bins summed per count for the factor analysis (10: 40 ms).
        stable_share: share of the live channels the final alignment uses.
        iterations: rounds of align, rank the channels by loading mismatch, keep the best.
        seed: seeds the factor analysis's randomised SVD.
    """

    name = "latent"
    supervised = False

    def __init__(
        self, factors: int = 10, window_bins: int = 10, stable_share: float = 0.6, iterations: int = 5, seed: int = 0
    ) -> None:
        self.factors, self.window_bins, self.stable_share = factors, window_bins, stable_share
        self.iterations, self.seed = iterations, seed

    def _fit(self, X: np.ndarray) -> FactorAnalysis:
        return FactorAnalysis(self.factors, random_state=self.seed).fit(_window_counts(X, self.window_bins))

    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        reference, now = self._fit(X_reference), self._fit(X_cal)
        L0, Lk = reference.components_.T, now.components_.T  # (F, factors)
        live = (_rates(X_cal) > SILENT_HZ * 0.004) & (_rates(X_reference) > SILENT_HZ * 0.004)
        stable = np.flatnonzero(live)
        keep = max(self.factors, int(round(self.stable_share * stable.size)))
        for _ in range(self.iterations):
            rotation = _procrustes(Lk[stable], L0[stable])
            mismatch = np.linalg.norm(Lk @ rotation - L0, axis=1)
            stable = np.flatnonzero(live)[np.argsort(mismatch[live])[:keep]]
        rotation = _procrustes(Lk[stable], L0[stable])
        # E[z | x] = (I + Lk^T Psi^-1 Lk)^-1 Lk^T Psi^-1 (x - mu): linear, so the map built on
        # window counts applies bin by bin with the means divided by the window.
        weighted = Lk.T / np.maximum(now.noise_variance_, 1e-9)
        posterior = np.linalg.solve(np.eye(self.factors) + weighted @ Lk, weighted)
        matrix = L0 @ rotation.T @ posterior
        offset = (reference.mean_ - matrix @ now.mean_) / self.window_bins
        return AlignedDecoder(decoder, matrix=matrix, offset=offset)
