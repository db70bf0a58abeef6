"""The full-space table builder: rows, header, and resuming without retraining."""

import json

import numpy as np
import pytest
import topology_table as tt

from snn_core.errors import InputError

# a tiny budget: a 40 s session and 4 neurons per layer, 2 epochs
TINY = {"session": {"seconds": 40.0, "seed": 1}, "snn": {"hidden": [4] * 4, "max_epochs": 2, "patience": 2, "lr": 1e-2}}


def test_every_topology_once():
    topologies = tt.all_topologies()
    assert len(topologies) == len(set(topologies)) == 729
    assert topologies[0] == "4-000000" and topologies[-1] == "4-222222"


def test_builds_resumes_and_refuses_another_budget(tmp_path, monkeypatch):
    out = tmp_path / "table.csv"
    first = ["4-000000", "4-111111"]
    rows = tt.build_table("bmi", out, TINY, topologies=first, data_dir=tmp_path, progress=False, command=["x"])
    assert tt.read_table(out)["4-111111"].val_score == pytest.approx(rows["4-111111"].val_score, rel=1e-5)
    assert sorted(rows) == first
    for row in rows.values():
        assert len(row.val_per_epoch) == 2 and np.all(np.isfinite(row.val_per_epoch))
        assert row.val_score == pytest.approx(max(row.val_per_epoch), abs=1e-9)  # the decoder keeps its best epoch
        assert row.dense > 0 and row.energy_pj_per_step > 0 and row.seconds > 0
    # the skip block reads more: DSC widens what later layers read
    assert rows["4-111111"].dense > rows["4-000000"].dense
    header = json.loads(out.with_suffix(".json").read_text())
    assert header["budget"] == json.loads(json.dumps(TINY)) and header["data"]["simulator_version"] >= 1
    assert header["command"] == "x"

    trained = []
    run = tt.BmiTask.run
    monkeypatch.setattr(tt.BmiTask, "run", lambda self, t, seed: trained.append(t) or run(self, t, seed))
    again = tt.build_table("bmi", out, TINY, topologies=[*first, "4-000002"], data_dir=tmp_path, progress=False)
    assert trained == ["4-000002"]  # the stored rows are read back, not retrained
    stored = tt.read_table(out)  # the CSV keeps 6 significant digits
    assert sorted(stored) == sorted(again) and stored["4-000000"] == again["4-000000"]
    assert stored["4-000002"].val_score == pytest.approx(again["4-000002"].val_score, rel=1e-5)
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == ["4-000000", "4-000002", "4-111111"]

    with pytest.raises(InputError, match="budget"):
        tt.build_table("bmi", out, {**TINY, "snn": {**TINY["snn"], "lr": 1e-3}}, data_dir=tmp_path, progress=False)


def test_bad_csv_names_the_file(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text(",".join(tt.COLUMNS) + "\n4-000000,0.1;x,0.1,0.1,1,1,1,1,1\n")
    with pytest.raises(InputError, match="t.csv"):
        tt.read_table(bad)
