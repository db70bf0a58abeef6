"""Decoding accuracy: R2 exactly as NeuroBench scores primate reaching, correlation and RMSE.

NeuroBench (``neurobench/metrics/workload/r2.py``) accumulates, per axis, the sum of squared
errors over the whole test set and divides by the labels' population variance times their
count, i.e. the total sum of squares about the *test-set* mean; the score is the mean of the x
and y values. (scikit-learn's ``r2_score`` with uniform averaging is the same number.) A
constant label axis makes the denominator zero, and the score is then undefined: NaN here.
"""

from __future__ import annotations

import numpy as np

from snn_core.errors import InputError


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape[1] != 2 or y_true.shape[0] == 0:
        raise InputError("y_true", "shape", f"(T, 2) velocities with T > 0, got {y_true.shape}")
    if y_pred.shape != y_true.shape:
        raise InputError("y_pred", "shape", f"{y_true.shape} like y_true, got {y_pred.shape}")
    return y_true, y_pred


def r2_per_axis(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per axis, 1 - SSE / SST with SST about the test-set mean.

    Args:
        y_true: (T, 2) true velocity.
        y_pred: (T, 2) decoded velocity.

    Returns:
        (2,) float64: R2 of x and of y (NaN for an axis whose labels are constant).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    sse = np.sum((y_true - y_pred) ** 2, axis=0)
    sst = np.sum((y_true - y_true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """NeuroBench's R2: the mean of the x and y values of :func:`r2_per_axis`."""
    return float(np.mean(r2_per_axis(y_true, y_pred)))


def correlation(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson correlation per axis, averaged over x and y (NaN if either side is constant)."""
    y_true, y_pred = _pair(y_true, y_pred)
    dt = y_true - y_true.mean(axis=0)
    dp = y_pred - y_pred.mean(axis=0)
    denom = np.sqrt(np.sum(dt**2, axis=0) * np.sum(dp**2, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_axis = np.where(denom > 0, np.sum(dt * dp, axis=0) / np.where(denom > 0, denom, 1.0), np.nan)
    return float(np.mean(per_axis))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root-mean-square error in the labels' unit (mm/s): sqrt of the mean over bins and axes."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
