"""Accuracy metrics on hand-computed cases, and R2 against NeuroBench's own accumulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bmi_decoder.evaluation import correlation, r2_per_axis, r2_score, rmse
from snn_core.errors import InputError

# Worked example. x: mean 2.5, SST = 2.25 + 0.25 + 0.25 + 2.25 = 5, SSE = 0 + 0 + 1 + 1 = 2,
# R2 = 0.6. y: mean 5, SST = 9 + 1 + 1 + 9 = 20, SSE = 1 + 1 + 0 + 0 = 2, R2 = 0.9. Mean 0.75.
Y_TRUE = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]])
Y_PRED = np.array([[1.0, 3.0], [2.0, 3.0], [4.0, 6.0], [3.0, 8.0]])


def neurobench_r2(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """NeuroBench's ``R2`` metric (metrics/workload/r2.py), restated: per-batch SSE sums, labels
    concatenated, denominator ``var(correction=0) * n``, mean of x and y."""
    sse = [0.0, 0.0]
    labels = [torch.tensor([]), torch.tensor([])]
    for preds, target in batches:
        for axis in (0, 1):
            sse[axis] += torch.sum((target[:, axis] - preds[:, axis]) ** 2).item()
            labels[axis] = torch.cat((labels[axis], target[:, axis]))
    r2 = [1 - sse[a] / (labels[a].var(correction=0) * len(labels[a])) for a in (0, 1)]
    return ((r2[0] + r2[1]) / 2).item()


def test_r2_worked_example() -> None:
    np.testing.assert_allclose(r2_per_axis(Y_TRUE, Y_PRED), [0.6, 0.9])
    assert r2_score(Y_TRUE, Y_PRED) == pytest.approx(0.75)


def test_r2_equals_neurobench_accumulated_over_batches() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(0, 80, (500, 2)) + [10.0, -5.0]
    y_pred = y_true + rng.normal(0, 50, (500, 2))
    batches = [(torch.tensor(y_pred[a:b]), torch.tensor(y_true[a:b])) for a, b in ((0, 100), (100, 350), (350, 500))]
    assert r2_score(y_true, y_pred) == pytest.approx(neurobench_r2(batches), rel=1e-12)
    assert r2_score(Y_TRUE, Y_PRED) == pytest.approx(neurobench_r2([(torch.tensor(Y_PRED), torch.tensor(Y_TRUE))]))


def test_r2_uses_the_test_set_mean() -> None:
    # Predicting the test set's own mean scores exactly 0; a perfect prediction scores 1.
    mean_pred = np.broadcast_to(Y_TRUE.mean(axis=0), Y_TRUE.shape)
    np.testing.assert_allclose(r2_per_axis(Y_TRUE, mean_pred), [0.0, 0.0])
    assert r2_score(Y_TRUE, Y_TRUE) == 1.0
    # A constant offset is penalised (R2 is not squared correlation): x SSE = 4, R2 = 1 - 4/5.
    assert r2_per_axis(Y_TRUE, Y_TRUE + 1.0)[0] == pytest.approx(0.2)


def test_r2_of_a_constant_axis_is_undefined() -> None:
    y_true = Y_TRUE.copy()
    y_true[:, 1] = 3.0
    per_axis = r2_per_axis(y_true, Y_PRED)
    assert per_axis[0] == pytest.approx(0.6) and np.isnan(per_axis[1])
    assert np.isnan(r2_score(y_true, Y_PRED))


def test_correlation_worked_example() -> None:
    # x: deviations (-1.5, -0.5, 0.5, 1.5) vs (-1.5, -0.5, 1.5, 0.5): 4 / sqrt(5 * 5) = 0.8.
    # y: deviations (-3, -1, 1, 3) vs (-2, -2, 1, 3): 18 / sqrt(20 * 18) = 0.948683.
    expected = (0.8 + 18 / np.sqrt(360)) / 2
    assert correlation(Y_TRUE, Y_PRED) == pytest.approx(expected)
    by_numpy = np.mean([np.corrcoef(Y_TRUE[:, a], Y_PRED[:, a])[0, 1] for a in (0, 1)])
    assert correlation(Y_TRUE, Y_PRED) == pytest.approx(by_numpy)


def test_rmse_worked_example() -> None:
    # Errors x (0, 0, -1, 1), y (-1, 1, 0, 0): 4 squared units over 8 values.
    assert rmse(Y_TRUE, Y_PRED) == pytest.approx(np.sqrt(0.5))
    assert rmse(Y_TRUE, Y_TRUE) == 0.0


@pytest.mark.parametrize("metric", [r2_score, r2_per_axis, correlation, rmse])
def test_shape_mismatch_raises_input_error(metric) -> None:
    with pytest.raises(InputError, match="y_pred"):
        metric(Y_TRUE, Y_PRED[:3])
    with pytest.raises(InputError, match="y_true"):
        metric(Y_TRUE[:, 0], Y_PRED[:, 0])
