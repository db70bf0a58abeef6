"""The full-space table builder: rows, header, and resuming without retraining."""

import json

import numpy as np
import pytest
import topology_table as tt

from snn_core.errors import InputError

# a tiny budget: a 40 s session and 4 neurons per layer, 2 epochs, 2 seeds
TINY = {
    "session": {"seconds": 40.0, "seed": 1},
    "snn": {"hidden": [4] * 4, "max_epochs": 2, "patience": 2, "lr": 1e-2},
    "seeds": [0, 1],
}


def test_every_topology_once():
    topologies = tt.all_topologies()
    assert len(topologies) == len(set(topologies)) == 729
    assert topologies[0] == "4-000000" and topologies[-1] == "4-222222"


def test_builds_resumes_and_refuses_another_budget(tmp_path, monkeypatch):
    out = tmp_path / "table.csv"
    first = ["4-000000", "4-111111"]
    rows = tt.build_table("bmi", out, TINY, topologies=first, data_dir=tmp_path, progress=False, command=["x"])
    assert sorted(rows) == [(t, s) for t in first for s in (0, 1)]
    assert tt.read_rows(out)[("4-111111", 1)].val_score == pytest.approx(rows[("4-111111", 1)].val_score, rel=1e-5)
    for row in rows.values():
        assert len(row.val_per_epoch) == 2 and np.all(np.isfinite(row.val_per_epoch))
        assert row.val_score == pytest.approx(max(row.val_per_epoch), abs=1e-9)  # the decoder keeps its best epoch
        assert row.dense > 0 and row.energy_pj_per_step > 0 and row.seconds > 0
    # seeds are different fits, and the seed-mean table averages them
    assert rows[("4-111111", 0)].val_per_epoch != rows[("4-111111", 1)].val_per_epoch
    means = tt.read_table(out)
    assert means["4-111111"].test_score == pytest.approx(np.mean([rows[("4-111111", s)].test_score for s in (0, 1)]), rel=1e-4)
    # the skip block reads more: DSC widens what later layers read
    assert means["4-111111"].dense > means["4-000000"].dense
    header = json.loads(out.with_suffix(".json").read_text())
    assert header["budget"] == json.loads(json.dumps(TINY)) and header["data"]["simulator_version"] >= 1
    assert header["command"] == "x" and header["split_half"]["val_score"]["topologies"] == 2

    trained = []
    run = tt.BmiTask.run
    monkeypatch.setattr(tt.BmiTask, "run", lambda self, members, where: trained.extend(members) or run(self, members, where))
    again = tt.build_table("bmi", out, TINY, topologies=[*first, "4-000002"], data_dir=tmp_path, progress=False)
    assert trained == [("4-000002", 0), ("4-000002", 1)]  # the stored rows are read back, not retrained
    stored = tt.read_rows(out)  # the CSV keeps 6 significant digits
    assert sorted(stored) == sorted(again) and stored[("4-000000", 0)] == again[("4-000000", 0)]
    lines = out.read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == ["4-000000"] * 2 + ["4-000002"] * 2 + ["4-111111"] * 2

    with pytest.raises(InputError, match="budget"):  # the stored seeds must come first
        tt.build_table("bmi", out, {**TINY, "seeds": [1, 0]}, data_dir=tmp_path, progress=False)
    with pytest.raises(InputError, match="budget"):
        tt.build_table("bmi", out, {**TINY, "snn": {**TINY["snn"], "lr": 1e-3}}, data_dir=tmp_path, progress=False)

    # a table grows by seeds: only the new seed is trained, and the header lists every seed
    trained.clear()
    grown = tt.build_table(
        "bmi", out, {**TINY, "seeds": [0, 1, 2]}, topologies=first, data_dir=tmp_path, progress=False, command=["y"]
    )
    assert trained == [("4-000000", 2), ("4-111111", 2)] and len(grown) == 8
    header = json.loads(out.with_suffix(".json").read_text())
    assert header["budget"]["seeds"] == [0, 1, 2] and header["split_half"]["val_score"]["seeds"] == [0, 1, 2]
    assert header["command"] == "y"


def test_split_half_reliability_of_a_known_ranking():
    """Seeds that agree on the ranking give rho 1; seeds that are pure noise give a rho near 0."""
    rng = np.random.default_rng(0)
    topologies = tt.all_topologies()[:60]

    def rows(noise: float) -> dict:
        return {
            (t, s): tt.Row(t, [0.0], k / 60 * (1 - noise) + noise * rng.random(), 0.0, 1, 0, 1, 1, 1, seed=s)
            for k, t in enumerate(topologies)
            for s in range(4)
        }

    clean = tt.split_half(rows(0.0))
    assert clean["seeds"] == [0, 1, 2, 3] and len(clean["splits"]) == 3 and clean["min"] == pytest.approx(1.0)
    assert abs(tt.split_half(rows(1.0))["mean"]) < 0.35


def test_bad_csv_names_the_file(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text(",".join(tt.COLUMNS) + "\n4-000000,0,0.1;x,0.1,0.1,1,1,1,1,1\n")
    with pytest.raises(InputError, match="t.csv"):
        tt.read_table(bad)
