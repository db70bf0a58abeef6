"""The sampler and pruning benchmark's statistics, on a synthetic table with a known best."""

import numpy as np
import pytest
import search_samplers as sb
from topology_table import Row, all_topologies

PEAK = np.array([2, 1, 0, 1, 2, 0])


@pytest.fixture(scope="module")
def table() -> dict[str, Row]:
    """Scores fall with the distance to one peak topology; curves rise over 3 epochs."""
    rows = {}
    for t in all_topologies():
        score = 1.0 - np.abs(np.array([int(c) for c in t[2:]]) - PEAK).sum() / 12
        curve = [score * f for f in (0.3, 0.7, 1.0)]
        rows[t] = Row(t, curve, curve[-1], score - 0.05, 1.0, 0.0, 1.0, 1.0, 1.0)
    return rows


def test_interval_and_first_reaching():
    mean, low, high = sb.interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert sb.first_reaching(np.array([0.1, 0.5, 0.5, 0.9]), 0.5) == 2
    assert sb.first_reaching(np.array([0.1, 0.2]), 0.5) is None
    assert sb.best_so_far([0.2, float("nan"), 0.1, 0.4]).tolist() == [0.2, 0.2, 0.2, 0.4]


def test_statistics_on_a_synthetic_table(table, tmp_path):
    result = sb.run_task(table, "synthetic", 4, 40, tmp_path, samplers=("tpe", "random", "nsga2"), log=lambda _: None)
    stats = result["statistics"]
    assert stats["true_best"] == 1.0
    for name, s in stats["samplers"].items():
        curve = result["curves"][name]
        assert curve.shape == (4, 40) and np.all(np.diff(curve, axis=1) >= 0)
        means = [s["mean_best"][k][0] for k in ("10", "25")]
        assert means[0] <= means[1] <= 1.0
        low, mean, high = s["mean_best"]["25"][1], s["mean_best"]["25"][0], s["mean_best"]["25"][2]
        assert low <= mean <= high
        assert s["regret"][0] == pytest.approx(1.0 - curve[:, -1].mean())
        assert 0 <= s["found_true_best"] <= 4
        assert s["test_of_pick"][0] == pytest.approx(curve[:, -1].mean() - 0.05)  # each pick's test score
    assert stats["samplers"]["random"]["reaches_random_final_at"] <= 40
    # on a smooth landscape the model-based sampler gets closer to the peak than random draws
    assert stats["samplers"]["tpe"]["regret"][0] < stats["samplers"]["random"]["regret"][0]

    pruning = result["pruning"]["random"]
    assert pruning["none"]["compute_saved"][0] == 0.0 and pruning["none"]["epochs"][0] == 40 * 3
    assert pruning["halving"]["compute_saved"][0] > 0 and pruning["hyperband"]["compute_saved"][0] > 0
    # the searches were cached: a second call reads them instead of searching again
    assert sb.collect(table, "synthetic", "random", "none", 4, 40, tmp_path) == sb.collect(
        table, "synthetic", "random", "none", 4, 40, tmp_path
    )
    assert len(list(tmp_path.glob("synthetic_*.json"))) == 4 * (3 + 2 * 2)  # per seed: 3 samplers, 2 pruners of 2
