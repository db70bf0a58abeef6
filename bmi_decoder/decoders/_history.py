"""Causal spike-count history: the last ``n_lags * bins_per_lag`` bins, summed per lag.

A 4 ms 0/1 bin carries little information on its own, so the classical decoders read counts over
coarser windows of the recent past (NeuroBench's ANN baseline sums 50 bins = 200 ms into 7
sub-windows of 7 bins). Lag 0 is the most recent window, ending at the current bin; bins before
the start of a sequence count as silent, which is also the streaming decoder's reset state.

The batch form works from cumulative sums, so any set of rows is one gather (no loop over time,
and no (T, lags x F) matrix unless asked for); the streaming form keeps a ring buffer. Both sum
the same integers in float64, hence agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

CHUNK_BINS = 8192


def cumulative_counts(X: np.ndarray) -> np.ndarray:
    """(T + 1, F) float64 running spike counts with a leading zero row."""
    cum = np.zeros((X.shape[0] + 1, X.shape[1]), dtype=np.float64)
    np.cumsum(X, axis=0, out=cum[1:])
    return cum


def lagged_counts(cum: np.ndarray, rows: np.ndarray, n_lags: int, bins_per_lag: int) -> np.ndarray:
    """Counts per lag window for the given rows.

    Args:
        cum: output of :func:`cumulative_counts`.
        rows: (R,) indices of the bins to describe.
        n_lags: number of windows.
        bins_per_lag: bins per window.

    Returns:
        (R, n_lags * F): for row t and lag k, the counts in bins
        ``t - (k + 1) * bins_per_lag + 1 .. t - k * bins_per_lag``, lag-major.
    """
    offsets = np.arange(n_lags) * bins_per_lag
    hi = np.clip(np.asarray(rows)[:, None] + 1 - offsets, 0, None)
    lo = np.clip(hi - bins_per_lag, 0, None)
    return (cum[hi] - cum[lo]).reshape(len(rows), -1)


def lagged_count_chunks(
    X: np.ndarray, n_lags: int, bins_per_lag: int, chunk_bins: int = CHUNK_BINS
) -> Iterator[tuple[slice, np.ndarray]]:
    """:func:`lagged_counts` for every bin of ``X``, in consecutive chunks of rows.

    Memory stays at ``chunk_bins x n_lags x F`` whatever the session length (a 40-minute
    session is 600,000 bins: its full lag matrix would not fit).
    """
    cum = cumulative_counts(X)
    for start in range(0, X.shape[0], chunk_bins):
        rows = np.arange(start, min(start + chunk_bins, X.shape[0]))
        yield slice(rows[0], rows[-1] + 1), lagged_counts(cum, rows, n_lags, bins_per_lag)


class SpikeHistory:
    """Streaming twin of :func:`lagged_counts`: push one bin, get that bin's lagged counts."""

    def __init__(self, n_features: int, n_lags: int, bins_per_lag: int) -> None:
        self.n_lags = n_lags
        self.bins_per_lag = bins_per_lag
        self.buffer = np.zeros((n_lags * bins_per_lag, n_features), dtype=np.float64)
        self.head = 0

    def to_state(self) -> dict[str, Any]:
        """The fields a checkpoint saves (see :mod:`bmi_decoder.checkpoint`), the ring included."""
        return {"n_lags": self.n_lags, "bins_per_lag": self.bins_per_lag, "buffer": self.buffer, "head": self.head}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SpikeHistory:
        """The history :meth:`to_state` described.

        Raises:
            ValueError: when the ring's shape or position does not fit the lags.
        """
        buffer = np.asarray(state["buffer"], dtype=np.float64)
        history = cls(buffer.shape[1], int(state["n_lags"]), int(state["bins_per_lag"]))
        head = int(state["head"])
        if buffer.shape != history.buffer.shape or not 0 <= head < len(buffer):
            raise ValueError(f"a ring of {history.buffer.shape} bins and a position in it, got {buffer.shape} and {head}")
        history.buffer[:] = buffer
        history.head = head
        return history

    def reset(self) -> None:
        self.buffer[:] = 0.0
        self.head = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add bin ``x`` (F,); returns (n_lags * F,) counts, lag 0 first."""
        self.buffer[self.head] = x
        # Newest first: the ring read backwards from the bin just written.
        order = (self.head - np.arange(len(self.buffer))) % len(self.buffer)
        self.head = (self.head + 1) % len(self.buffer)
        windows = self.buffer[order].reshape(self.n_lags, self.bins_per_lag, -1)
        return windows.sum(axis=1).reshape(-1)
