"""``synop_budget``: the synaptic operations an SNN decoder counts while it trains are the ones its
cost reports, and a budget holds them down while the decoder still learns, alone and in a
population."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bmi_decoder.decoders import SmallSNNDecoder, SNNDecoder
from bmi_decoder.decoders.snn_population import fit_population
from bmi_decoder.decoders.snn_synops import SynopMeter, input_active, node_fanouts
from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUICK = {
    "chunk_bins": 64,
    "burn_in_bins": 8,
    "max_epochs": 6,
    "patience": 6,
    "lr": 5e-3,
    "ensemble": 1,
    "progress": False,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def session():
    prepared = prepare_session(simulate_session(seconds=120.0, seed=3).recording)
    return prepared.split("train"), prepared.split("val"), prepared.split("test")


def test_fanouts_count_every_reader_of_a_node() -> None:
    # 3-001: the third layer also reads the first's spikes (node 1), concatenated
    assert node_fanouts("3-001", [8, 6, 4]) == [8, 6 + 4, 4, 2]
    # 3-110: the block input (node 0) also feeds layers two and three
    assert node_fanouts("3-110", [8, 6, 4]) == [8 + 6 + 4, 6, 4, 2]
    assert node_fanouts("3-000", [8, 6, 4], recurrent=True) == [8, 6 + 8, 4 + 6, 2 + 4]
    with pytest.raises(ValueError, match="one block"):
        node_fanouts("2-1_2-1", [4, 4])


@pytest.mark.parametrize("topology", ["3-000", "3-001", "3-111"])
def test_the_meter_counts_what_the_cost_reports(session, topology: str) -> None:
    """On binary input, the meter's ACs per step over a sequence are NeuroBench's effective ACs
    (:meth:`SNNDecoder.cost`) on the same sequence: nothing is left out, nothing counted twice."""
    (X, y), (X_val, y_val), _ = session
    decoder = SNNDecoder(hidden=[12, 10, 8], topology=topology, **{**QUICK, "max_epochs": 1})
    decoder.fit(X[:1500], y[:1500], X_val, y_val)
    binary = (X_val[:400] > 0).astype(float)
    meter = SynopMeter(decoder.network_.body, float(np.count_nonzero(binary, axis=1).mean()))
    network = decoder.network_.train()  # the meter counts training passes only
    with torch.no_grad():
        network(torch.from_numpy(binary.astype(np.float32))[:, None])
    counted = float(meter.acs()[0])
    meter.close()
    network.eval()
    reported = decoder.cost(binary).synops
    assert reported.effective_macs == 0
    assert counted == pytest.approx(reported.effective_acs, rel=1e-4)


def test_a_budget_holds_the_operations_down_and_the_decoder_still_learns(session) -> None:
    (X, y), (X_val, y_val), (X_test, y_test) = session
    free = SNNDecoder(hidden=[24, 24, 24], topology="3-001", **QUICK).fit(X, y, X_val, y_val)
    fixed = input_active(X_test) * 24  # the block input's ACs: what no training changes
    free_spikes = free.cost(X_test).synops.effective_acs - fixed
    budget = fixed + 0.4 * free_spikes
    held = SNNDecoder(hidden=[24, 24, 24], topology="3-001", synop_budget=budget, **QUICK).fit(X, y, X_val, y_val)
    held_spikes = held.cost(X_test).synops.effective_acs - fixed
    # measured: 83 ACs per step from spikes free, 40 with a budget at 40% of them (6 epochs);
    # test R2 0.207 with the budget, 0.202 without
    assert held_spikes < 0.6 * free_spikes
    held_r2 = r2_score(y_test, held.predict(X_test))
    assert held_r2 > 0.1 and held_r2 > r2_score(y_test, free.predict(X_test)) - 0.05
    assert not held.network_.body.blocks[0].layers[0].probe._forward_hooks  # the fitted network records nothing


def test_population_members_keep_the_budget_as_alone(session) -> None:
    (X, y), (X_val, y_val), _ = session
    X, y = X[:1500], y[:1500]
    settings = {**QUICK, "hidden": [10, 8, 10], "max_epochs": 3, "patience": 3, "synop_budget": 60.0}
    members = [("3-000", 0), ("3-111", 0), ("3-001", 1)]
    population = fit_population(SNNDecoder(**settings), members, X, y, X_val, y_val, progress=False)
    for (topology, seed), member in zip(members, population):
        alone = SNNDecoder(topology=topology, seed=seed, **settings).fit(X, y, X_val, y_val)
        np.testing.assert_allclose(member.validation_r2_, alone.validation_r2_, atol=1e-4)


def test_bad_budgets_are_refused() -> None:
    for bad in (-1.0, "500", float("nan")):
        with pytest.raises(InputError, match="synop_budget"):
            SNNDecoder(synop_budget=bad).check_params()
    assert SmallSNNDecoder().synop_budget > 0 and SNNDecoder().synop_budget == 0
