"""The search replays and their statistics, on a synthetic two-seed table with a known best."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import search_replay as sr
import search_samplers as sb
from topology_table import Row, all_topologies

PEAK = np.array([2, 1, 0, 1, 2, 0])
COSTS = sr.Costs(solo_fit=2.0, population_member=0.5, ranking=10.0)


@pytest.fixture(scope="module")
def table() -> sr.Table:
    """Seed means fall with the distance to one peak topology; seed 1 adds noise of +-0.05 that
    flips near neighbours; curves rise over 3 epochs."""
    rng = np.random.default_rng(0)
    rows = {}
    for t in all_topologies():
        mean = 1.0 - np.abs(np.array([int(c) for c in t[2:]]) - PEAK).sum() / 12
        noise = rng.uniform(-0.05, 0.05)
        for seed, score in ((0, mean - noise), (1, mean + noise)):
            curve = [score * f for f in (0.3, 0.7, 1.0)]
            rows[(t, seed)] = Row(t, curve, curve[-1], mean - 0.05, 1.0, 0.0, 1.0, 1.0, 1.0, seed=seed)
    return sr.Table(rows)


def test_a_search_observes_one_seed_per_topology(table):
    seeds = table.seeds
    assert seeds == [0, 1]
    drawn = [sr.observed_seed(seeds, 3, t) for t in all_topologies()]
    assert drawn == [sr.observed_seed(seeds, 3, t) for t in all_topologies()]  # a seeded study repeats
    assert 0.35 < np.mean(drawn) < 0.65  # both seeds observed, about equally
    replay = sr.sampler_search(table, "random", 3, 20, COSTS)
    for value, topology in zip(replay.values, (t for t in replay.picks)):
        assert topology is not None and not math.isnan(value)
    # a trial costs a solo fit (plus the sampler's own time): the clock only moves forward
    assert np.all(np.diff(replay.times) > 0) and replay.times[-1] >= 20 * COSTS.solo_fit
    assert replay.epochs == 20 * 3


def test_population_replays(table):
    exhaustive = sr.population_search(table, 0, COSTS)
    passes = len(table.seeds) * math.ceil(len(table.topologies) / sr.CHUNK)
    assert len(exhaustive.times) == passes
    assert exhaustive.times[-1] == pytest.approx(len(table.rows) * COSTS.population_member)
    # after every seed of every topology, the pick is the best seed mean
    assert table.means[exhaustive.picks[-1]].val_score == table.best_mean == 1.0
    assert sr.time_to_within(exhaustive, table, 0.01) <= exhaustive.times[-1]
    # a perfect ranking finds the best in its first population, after the ranking's seconds
    perfect = sorted(table.topologies, key=lambda t: -table.means[t].val_score)
    zero_cost = sr.population_search(table, 0, COSTS, perfect)
    assert zero_cost.times[0] == pytest.approx(COSTS.ranking + sr.CHUNK * COSTS.population_member)
    assert sr.time_to_within(zero_cost, table, 0.1) == zero_cost.times[0]
    assert sr.quality_at(zero_cost, table, np.array([1.0]))[0] == -np.inf  # no pick while ranking


def test_statistics_on_a_synthetic_table(table, tmp_path):
    perfect = sorted(table.topologies, key=lambda t: -table.means[t].val_score)
    args = SimpleNamespace(samplers=("tpe", "random", "nsga2"), seeds=4, trials=40, cache=tmp_path, tolerance=0.01)
    result = sb.run_task(table, "synthetic", COSTS, {"perfect": perfect}, args, log=lambda _: None)
    assert result["best_seed_mean"] == 1.0 and result["budget_s"] == 80.0
    strategies = result["strategies"]
    assert set(strategies) == {"tpe", "random", "nsga2", "exhaustive", "zero-cost (perfect)"}
    for s in strategies.values():
        low, mean, high = s["val_of_pick"][1], s["val_of_pick"][0], s["val_of_pick"][2]
        assert low <= mean <= high and mean <= 1.0
        assert s["regret"][0] == pytest.approx(1.0 - mean)
        assert s["test_of_pick"][0] == pytest.approx(mean - 0.05)  # each pick's seed-mean test score
        assert 0 <= s["within_tolerance"] <= 4
    assert strategies["zero-cost (perfect)"]["within_tolerance"] == 4
    for c in result["_curves"].values():
        assert c.shape == (4, 40) and np.all(np.diff(c, axis=1)[:, 5:] >= -0.1)
    # on a smooth landscape the model-based sampler gets closer to the peak than random draws
    assert strategies["tpe"]["regret"][0] < strategies["random"]["regret"][0]
    pruning = result["pruning"]["random"]
    assert pruning["none"]["compute_saved"][0] == 0.0 and pruning["none"]["epochs"][0] == 40 * 3
    assert pruning["halving"]["compute_saved"][0] > 0 and pruning["hyperband"]["compute_saved"][0] > 0
    # the searches were cached: a second call reads them instead of searching again
    first = sb.collect(table, "synthetic", "random", "none", 4, 40, COSTS, tmp_path)
    assert [r.picks for r in first] == [r.picks for r in sb.collect(table, "synthetic", "random", "none", 4, 40, COSTS, tmp_path)]
    assert len(list(tmp_path.glob("synthetic_*.json"))) == 4 * (3 + 2 * 2)  # per seed: 3 samplers, 2 pruners of 2
    sb.figure("bmi", result, 0.01)  # draws
