"""Decoder cost metrics: hand-computed counts on tiny decoders, and one suite over every decoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bmi_decoder.cost import decoder_cost
from bmi_decoder.decoders import DECODERS, Decoder, GRUDecoder, KalmanDecoder, SNNDecoder, WienerDecoder
from snn_core.metrics import ActivityRecorder, ModelCost, OperationCounter, SynapticOperations, footprint_bytes

# 4 bins of 3 channels; with 2-bin windows the counts per bin are
# [1,0,0], [2,0,1], [1,0,1], [1,1,0]: 5 of 12 zero; only the second bin holds a count other
# than 0 or 1, so only its operations are MACs (NeuroBench decides per execution).
X_HAND = np.array([[1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=np.float64)
# Non-zero weights per input channel: 1, 0, 2.
WEIGHTS_HAND = np.array([[0.5, 0.0, 2.0], [0.0, 0.0, -1.0]])


def quiet(decoder: Decoder) -> Decoder:
    """No progress bars and a single epoch, for the decoders that train."""
    params = decoder.get_params()
    decoder.set_params(**{k: v for k, v in {"progress": False, "max_epochs": 1}.items() if k in params})
    return decoder


@pytest.fixture(scope="module")
def spikes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = (rng.random((600, 6)) < 0.15).astype(np.float32)
    y = rng.standard_normal((600, 2)).cumsum(axis=0).astype(np.float32)
    return X, y


def test_wiener_counts_by_hand() -> None:
    rng = np.random.default_rng(1)
    decoder = WienerDecoder(n_lags=1, bins_per_lag=2).fit(rng.random((50, 3)), rng.random((50, 2)))
    decoder.coef_ = WEIGHTS_HAND.T.copy()
    cost = decoder_cost(decoder, X_HAND)
    # effective: per bin, non-zero counts times non-zero weights of their channel: 1 + 3 + 3 + 1,
    # of which the 3 of the bin [2,0,1] are MACs
    assert cost.synops.effective_macs == pytest.approx(3 / 4)
    assert cost.synops.effective_acs == pytest.approx(5 / 4)
    assert cost.synops.dense == 6
    assert cost.activation_sparsity == pytest.approx(5 / 12)
    assert cost.connection_sparsity == pytest.approx(3 / 6)
    assert cost.footprint_bytes == (6 + 2) * 8  # coef_ and intercept_, float64
    assert cost.energy_pj_per_step == pytest.approx(0.75 * 4.6 + 1.25 * 0.9)


def test_wiener_on_single_bins_counts_accumulates() -> None:
    """With one-bin windows the features are the 0/1 bins themselves: ACs, not MACs."""
    rng = np.random.default_rng(2)
    decoder = WienerDecoder(n_lags=1, bins_per_lag=1).fit(rng.random((50, 3)), rng.random((50, 2)))
    decoder.coef_ = WEIGHTS_HAND.T.copy()
    cost = decoder.cost(X_HAND)
    # non-zero bins: channel 0 three times (1 weight each), channel 2 once (2 weights)
    assert cost.synops.effective_acs == pytest.approx((3 * 1 + 1 * 2) / 4)
    assert cost.synops.effective_macs == 0


def test_kalman_counts_by_hand() -> None:
    rng = np.random.default_rng(3)
    decoder = KalmanDecoder(bins_per_window=2, lags=0).fit(rng.random((50, 3)), rng.random((50, 2)))
    decoder.gain_ = WEIGHTS_HAND.copy()
    decoder.transition_ = np.array([[0.9, 0.0], [0.1, 0.8]])
    decoder.observation_mean_ = np.zeros(3)
    cost = decoder.cost(X_HAND)
    # Two updates in 4 bins (at bins 1 and 3), on the 2-bin counts [2, 0, 1] and [1, 1, 0].
    # gain: non-zero counts against 1, 0, 2 non-zero weights per channel: 1 + 2 = 3 MACs for
    # [2, 0, 1] (a count above 1), 1 AC for the 0/1 counts [1, 1, 0].
    # state multiplied at each update: 0 (nothing effective), then gain @ [2, 0, 1] = [3, -1],
    # non-zero in both components against transition columns with 2 and 1 non-zero weights:
    # 3 MACs.
    assert cost.synops.effective_macs == pytest.approx((3 + 3) / 4)
    assert cost.synops.effective_acs == pytest.approx(1 / 4)
    assert cost.synops.dense == pytest.approx((2 * 6 + 2 * 4) / 4)
    assert cost.activation_sparsity == pytest.approx((2 + 2) / (6 + 4))
    assert cost.connection_sparsity == pytest.approx(4 / 10)
    assert cost.footprint_bytes == (6 + 4 + 3 + 2) * 8


def test_snn_counts_equal_the_recorder_on_its_network(spikes: tuple) -> None:
    X, y = spikes
    decoder = quiet(SNNDecoder(hidden=(12, 8), topology="2-1", chunk_bins=32, burn_in_bins=4)).fit(X, y)
    with ActivityRecorder(decoder.network_) as recorder, torch.no_grad():
        decoder.network_(torch.from_numpy(X)[:, None])
    expected = recorder.synops(steps=len(X))
    cost = decoder.cost(X)
    assert cost.synops == expected
    assert cost.activation_sparsity == pytest.approx(recorder.activation_sparsity())
    # 0/1 bins, spikes and their concatenation (DSC) only: every effective operation is an AC
    assert cost.synops.effective_acs > 0 and cost.synops.effective_macs == 0
    # the network's parameters and buffers only, as NeuroBench counts them (not the label scaling)
    assert cost.footprint_bytes == footprint_bytes(decoder.network_)


def gru_reference(gru: torch.nn.GRU, X: np.ndarray) -> tuple[float, float, float]:
    """(dense, MACs, ACs) of the GRU layer alone, step by step in plain Python."""
    W_ih, W_hh = gru.weight_ih_l0.detach().numpy(), gru.weight_hh_l0.detach().numpy()
    b_ih, b_hh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    H = W_hh.shape[1]
    h = np.zeros(H, dtype=np.float32)
    dense = macs = acs = 0
    for x in X.astype(np.float32):
        dense += W_ih.size + W_hh.size + 3 * H
        acs += sum(int(W_ih[i, j] != 0) for i in range(3 * H) for j in range(len(x)) if x[j] != 0)
        macs += sum(int(W_hh[i, j] != 0) for i in range(3 * H) for j in range(H) if h[j] != 0)
        gx, gh = W_ih @ x + b_ih, W_hh @ h + b_hh
        r = 1 / (1 + np.exp(-(gx[:H] + gh[:H])))
        z = 1 / (1 + np.exp(-(gx[H : 2 * H] + gh[H : 2 * H])))
        n = np.tanh(gx[2 * H :] + r * gh[2 * H :])
        macs += int(np.sum((r != 0) & (gh[2 * H :] != 0)) + np.sum((1 - z != 0) & (n != 0)) + np.sum((z != 0) & (h != 0)))
        h = ((1 - z) * n + z * h).astype(np.float32)
    return dense, macs, acs


def test_gru_counts_match_a_step_by_step_reference(spikes: tuple) -> None:
    X, y = spikes
    decoder = quiet(GRUDecoder(hidden=4, chunk_bins=50, burn_in_bins=5)).fit(X, y)
    with torch.no_grad():
        decoder.network_.gru.weight_ih_l0[:, 0] = 0.0  # channel 0 reaches no gate
        decoder.network_.gru.weight_hh_l0[0, :] = 0.0
    X_test = X[:40]
    cost = decoder.cost(X_test)
    dense, macs, acs = gru_reference(decoder.network_.gru, X_test)
    readout_dense = 4 * 2  # the readout reads the real-valued GRU output: MACs
    assert cost.synops.dense == pytest.approx(dense / 40 + readout_dense)
    assert cost.synops.effective_acs == pytest.approx(acs / 40)
    assert cost.synops.effective_macs == pytest.approx(macs / 40 + readout_dense, rel=1e-6)
    assert cost.synops.effective_acs == pytest.approx(X_test[:, 1:].sum() * 12 / 40)


def test_counter_elementwise_skips_zero_factors() -> None:
    counter = OperationCounter()
    counter.elementwise(np.array([[0.0, 1.0, 2.0]]), np.array([[3.0, 0.0, 4.0]]))
    assert counter.synops(steps=1) == SynapticOperations(dense=3, effective_macs=1, effective_acs=0)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_decoder_reports_its_cost(name: str, spikes: tuple) -> None:
    X, y = spikes
    decoder = quiet(DECODERS[name]()).fit(X[:400], y[:400], X[400:500], y[400:500])
    cost = decoder_cost(decoder, X[500:])
    assert isinstance(cost, ModelCost)
    assert cost.footprint_bytes > 0
    assert 0.0 <= cost.connection_sparsity <= 1.0 and 0.0 <= cost.activation_sparsity <= 1.0
    ops = cost.synops
    assert ops.dense > 0 and ops.effective_macs >= 0 and ops.effective_acs >= 0
    assert ops.effective_macs + ops.effective_acs <= ops.dense
    report = cost.to_dict()
    assert set(report) == {"footprint_bytes", "connection_sparsity", "activation_sparsity", "synops", "energy_pj_per_step"}
    assert set(report["synops"]) == {"dense", "effective_macs", "effective_acs"}
    assert json.loads(json.dumps(report)) == report


def test_cost_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        decoder_cost(WienerDecoder(), X_HAND)
