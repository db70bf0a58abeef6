"""Zero-cost proxies (snn_core.zero_cost) and the strategies' settings (snn_core.strategies)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from snn_core.errors import InputError
from snn_core.network import NetworkSpec, SkipLayer, SkipNetwork
from snn_core.population import PopulationNetwork
from snn_core.strategies import Strategy, all_topologies, check_strategy
from snn_core.topology import search_space_size
from snn_core.training import seeded_torch
from snn_core.zero_cost import hamming_kernel, kendall_tau, log_abs_det, proxy_scores, score_topologies

# two time steps of three samples over four units
STEP_1 = [[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
STEP_2 = [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]]


def _dense(topology: str, seed: int, mode: str = "snn") -> SkipNetwork:
    with seeded_torch(seed, torch.device("cpu")):
        net = SkipNetwork(NetworkSpec("dense", 12, ((16, 16, 16),), topology), mode)
    with torch.no_grad():  # as the BMI decoder's weight_gain does: the layers fire at initialisation
        for p in net.parameters():
            p.mul_(3.0)
    return net


def _conv(topology: str, seed: int, mode: str = "snn") -> SkipNetwork:
    with seeded_torch(seed, torch.device("cpu")):
        return SkipNetwork(NetworkSpec("conv", 2, ((4,), (4, 4, 4)), topology), mode)


def _inputs(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def _solo_kernel(net: SkipNetwork, x: torch.Tensor, sparsity_aware: bool) -> torch.Tensor:
    """The kernel from the layers' outputs of one network run alone (hooks on its layers)."""
    codes = []
    hooks = [m.register_forward_hook(lambda m, i, o: codes.append(o)) for m in net.modules() if isinstance(m, SkipLayer)]
    net.train()
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return sum(hamming_kernel((c > 0).flatten(2), sparsity_aware) for c in codes)


def test_hamming_kernel_equals_a_hand_computation():
    codes = torch.tensor([STEP_1, STEP_2])  # (T, N, N_A)
    # step 1: every pair differs in 2 of 4 units; step 2: 0 and 1 agree, 2 differs from both in 3
    expected = [[4 + 4, 2 + 4, 2 + 1], [2 + 4, 4 + 4, 2 + 1], [2 + 1, 2 + 1, 4 + 4]]
    assert hamming_kernel(codes, sparsity_aware=False).tolist() == expected
    # a second layer of two units adds its own N_A - d_H
    other = torch.tensor([[[1, 0], [0, 1], [1, 0]]])
    both = hamming_kernel(codes, False) + hamming_kernel(other, False)
    assert both.tolist() == [[10, 6, 5], [6, 10, 3], [5, 3, 10]]
    # a single (N, N_A) pattern is one time step
    assert hamming_kernel(torch.tensor(STEP_1), False).tolist() == [[4, 2, 2], [2, 4, 2], [2, 2, 4]]


def test_sparsity_aware_kernel_rescales_by_the_firing_rates():
    codes = torch.tensor([STEP_1])
    rates = [0.5, 0.5, 0.0]
    expected = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            d = sum(a != b for a, b in zip(STEP_1[i], STEP_1[j]))
            norm = rates[i] * (1 - rates[j]) + (1 - rates[i]) * rates[j]
            expected[i, j] = 4 - d * 0.5 / (norm + 1e-3)
    kernel = hamming_kernel(codes, sparsity_aware=True)
    assert kernel.dtype == torch.float64
    np.testing.assert_allclose(kernel.numpy(), expected)
    assert kernel[0, 1] == pytest.approx(4 - 2 / 1.002)  # two dense codes: about N_A / 2 apart
    np.testing.assert_allclose(np.diag(kernel.numpy()), 4.0)


def test_score_is_the_log_determinant_and_identical_samples_give_the_floor():
    kernel = hamming_kernel(torch.tensor([STEP_1, STEP_2]), False)
    assert log_abs_det(kernel) == pytest.approx(np.log(np.linalg.det(np.array([[8, 6, 3], [6, 8, 3], [3, 3, 8]]))))
    same = torch.tensor([[STEP_1[0], STEP_1[0], STEP_1[1]]])
    for aware in (False, True):
        assert log_abs_det(hamming_kernel(same, aware)) == -np.inf
    # two identical inputs in the mini-batch: every member's kernel is singular
    x = _inputs((6, 4, 12))
    x[:, 1] = x[:, 0]
    population = PopulationNetwork.from_networks([_dense(t, 0) for t in ("3-000", "3-121")])
    scores = proxy_scores(population, x)
    assert set(scores) == {"hamming", "naswot"}
    assert all((s == -np.inf).all() for s in scores.values())


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_population_scores_equal_each_network_scored_alone(kind):
    build = _dense if kind == "dense" else _conv
    topologies = ["3-000", "3-111", "3-222", "3-012"] if kind == "dense" else ["1-_3-000", "1-_3-120", "1-_3-222"]
    x = _inputs((5, 6, 12) if kind == "dense" else (3, 6, 2, 8, 8))
    scores = score_topologies(build, topologies, x, seed=4, group=3)  # two populations
    for k, topology in enumerate(topologies):
        snn = build(topology, 4)
        assert scores["hamming"][k] == pytest.approx(log_abs_det(_solo_kernel(snn, x, True)), rel=1e-9)
        ann = build(topology, 4, "ann")
        ann.load_state_dict(snn.state_dict(), strict=False)  # the twin: same weights, ReLU
        assert scores["naswot"][k] == pytest.approx(log_abs_det(_solo_kernel(ann, x, False)), rel=1e-9)
    assert np.isfinite(scores["hamming"]).all() and np.isfinite(scores["naswot"]).all()


def test_scores_are_deterministic_given_the_seed():
    topologies = ["3-000", "3-102", "3-222"]
    x = _inputs((5, 8, 12))
    first = score_topologies(_dense, topologies, x, seed=1)
    again = score_topologies(_dense, topologies, x, seed=1, group=1)
    other = score_topologies(_dense, topologies, x, seed=2)
    for proxy in first:
        np.testing.assert_array_equal(first[proxy], again[proxy])
        assert not np.array_equal(first[proxy], other[proxy])
    with pytest.raises(ValueError, match="unknown proxy 'synflow'"):
        proxy_scores(PopulationNetwork.from_networks([_dense("3-000", 0)]), x, ["synflow"])


def test_kendall_tau_ranks_the_floor_last():
    assert kendall_tau([1.0, 2.0, 3.0], [0.1, 0.2, 0.3]) == pytest.approx(1.0)
    assert kendall_tau([-np.inf, 2.0, 3.0], [0.1, 0.2, 0.3]) == pytest.approx(1.0)
    assert kendall_tau([1.0, 1.0], [0.1, 0.2]) is None


def test_all_topologies_lists_the_space_in_order():
    space = all_topologies([3])
    assert len(space) == search_space_size([3]) == 27 and space[:3] == ["3-000", "3-001", "3-002"]
    two = all_topologies([2, 3])
    assert len(two) == 81 and two[0] == "2-0_3-000" and two[-1] == "2-2_3-222"


def _check(name="exhaustive", sampler=None, options=None, **population):
    values = {k: population.get(k) for k in ("seeds", "top", "proxy", "topologies", "precision", "memory_gb")}
    return check_strategy(name, sampler=sampler, sampler_options=options or {}, **values)


def test_strategy_settings_are_checked_with_one_line_naming_the_setting(tmp_path):
    assert _check("sampler") == (None, None)
    assert _check("gp") == (None, "gp")
    strategy, sampler = _check("exhaustive", seeds=4)
    assert sampler is None and strategy == Strategy("exhaustive", seeds=4)
    assert _check("zero-cost")[0].seeds == 1 and _check("exhaustive")[0].seeds == 3
    refusals = [
        (dict(name="bayes"), "strategy: expected one of sampler, tpe, gp, random, nsga2, exhaustive, zero-cost"),
        (dict(seeds=0), "seeds: expected at least 1, got 0"),
        (dict(name="zero-cost", top=0), "top: expected at least 1"),
        (dict(name="sampler", seeds=3), "seeds: expected none with the sampler strategy"),
        (dict(name="tpe", top=2), "top: expected none with the tpe strategy"),
        (dict(name="tpe", sampler="gp"), "sampler: expected tpe as the tpe strategy says"),
        (dict(top=2), "top: expected none with the exhaustive strategy (a setting of zero-cost)"),
        (dict(options={"trials": 5}), "trials: expected none with the exhaustive strategy"),
        (dict(name="zero-cost", sampler="tpe"), "sampler: expected none with the zero-cost strategy"),
        (dict(name="zero-cost", proxy="synflow"), "proxy: expected one of hamming, naswot, got 'synflow'"),
        (dict(precision="half"), "precision: expected one of float32, bfloat16"),
        (dict(memory_gb=0.0), "memory_gb: expected a size in GB above 0"),
    ]
    for kwargs, message in refusals:  # the core names its settings, never a command-line option
        with pytest.raises(InputError, match="^strategy settings: " + re.escape(message)) as refused:
            _check(**kwargs)
        assert "--" not in str(refused.value)
    # the candidates: the whole space, a list, or a file; top at most their number
    assert Strategy("zero-cost", top=27).candidates([3]) == all_topologies([3])
    with pytest.raises(InputError, match="^strategy settings: top: expected 1 to 27"):
        Strategy("zero-cost", top=28).candidates([3])
    assert Strategy("exhaustive", topologies="3-111, 3-000,3-111").candidates([3]) == ["3-111", "3-000"]
    listed = tmp_path / "subset.txt"
    listed.write_text("# the chain and densenet\n3-000\n3-111  # dense\n\n")
    assert Strategy("exhaustive", topologies=str(listed)).candidates([3]) == ["3-000", "3-111"]
    with pytest.raises(
        InputError, match="^strategy settings: topologies: expected topologies of blocks of \\[3\\] layers, got '2-1'"
    ):
        Strategy("exhaustive", topologies="3-000,2-1").candidates([3])
    with pytest.raises(InputError, match="missing.txt: topologies: expected an existing file"):
        Strategy("exhaustive", topologies=str(tmp_path / "missing.txt")).candidates([3])
