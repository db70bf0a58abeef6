"""vision-bench search: validation carved from training, the report, resuming, bad input, verdicts."""

import json
import re

import numpy as np
import optuna
import pytest

from snn_core.errors import InputError
from snn_core.topology import SkipTopology
from vision_bench.cli import main
from vision_bench.config import load_config
from vision_bench.data import load_frames
from vision_bench.models import network_spec
from vision_bench.search import judge_search, trunk_topology, validation_split


def _argv(root, config, out, *extra):
    return ["search", "--dataset", "synthetic", "--root", str(root), "--config", str(config), "--out", str(out), *extra]


def test_validation_is_the_last_tenth_of_each_training_class_and_never_test(sim_root):
    train_set = load_frames("synthetic", sim_root, "train", 2, 8, progress=False)
    test_set = load_frames("synthetic", sim_root, "test", 2, 8, progress=False)
    fit, val = validation_split(train_set.labels)
    again = validation_split(train_set.labels)
    assert np.array_equal(fit, again[0]) and np.array_equal(val, again[1])
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(train_set)
    assert np.bincount(train_set.labels[val]).tolist() == [1] * 10  # 10% of 10 per class
    val_files = {train_set.files[i] for i in val}
    assert val_files.isdisjoint(test_set.files)
    for c in range(10):  # the last recording of its class in the split's order
        assert val[c] == np.flatnonzero(train_set.labels == c)[-1]


def test_validation_keeps_the_order_within_a_class_of_shuffled_labels():
    labels = np.array([1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    fit, val = validation_split(labels, share=0.25)
    assert val.tolist() == [10, 11, 13]  # 2 of eight class-0 items, 1 of six class-1 items (rounded)
    assert sorted(fit.tolist() + val.tolist()) == list(range(len(labels)))
    with pytest.raises(InputError, match="recordings per class"):
        validation_split(np.array([0, 0, 1]))


def test_network_spec_takes_a_searched_topology(config):
    model = load_config(config).model
    topology = trunk_topology(SkipTopology.from_string("3-210"))
    assert str(topology) == "1-_3-210"
    assert network_spec(model, "none", topology).topology == "1-_3-210"
    assert network_spec(model, "none").topology == "1-_3-000"


def test_search_all_writes_the_comparison_and_resumes(sim_root, config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_argv(sim_root, config, out, "--sampler", "all", "--trials", "3")) == 0
    result = json.loads((out / "search.json").read_text())
    assert {"data", "start", "best", "searches", "claims", "ann_validation_accuracy", "runtime_s", "storage"} <= set(result)
    assert result["data"]["fit"] == 90 and result["data"]["validation"] == 10 and result["data"]["test"] == 10
    assert list(result["searches"]) == ["tpe", "gp", "random"]
    start = result["start"]
    assert start["variant"] in ("asc", "none") and start["topology"] in ("1-_3-020", "1-_3-000")
    for search in result["searches"].values():
        assert [t["state"] for t in search["trials"]] == ["complete"] * 3
        assert search["trials"][0]["topology"] == start["topology"]  # every study tries the start first
        curve = search["best_so_far"]
        assert len(curve) == 3 and curve == sorted(curve) and 0 <= curve[-1] <= 1
        assert search["alone_s"] >= search["wall_s"] - 1e-9  # reused trainings only add to the time alone
    # a topology is trained once per storage: the later studies reuse the shared first trials
    assert result["searches"]["gp"]["trainings"] < 3
    assert 0 <= result["best"]["test_accuracy"] <= 1 and result["best"]["found_by"]
    assert [c["id"] for c in result["claims"]] == ["3", "4"] and isinstance(result["claims"][1]["held"], bool)
    assert "## The paper's claims" in (out / "search.md").read_text()
    assert (out / "search_convergence.png").read_bytes().startswith(b"\x89PNG")
    assert "| tpe |" in capsys.readouterr().out

    # rerun: the budget is met, so no trial is added and the studies are as they were
    assert main(_argv(sim_root, config, out, "--sampler", "all", "--trials", "3")) == 0
    again = json.loads((out / "search.json").read_text())
    assert [t["topology"] for t in again["searches"]["tpe"]["trials"]] == [
        t["topology"] for t in result["searches"]["tpe"]["trials"]
    ]
    storage = f"sqlite:///{out / 'search.db'}"
    assert sorted(s.study_name for s in optuna.get_all_study_summaries(storage)) == [
        "vision-search-ann-start",
        "vision-search-gp",
        "vision-search-random",
        "vision-search-tpe",
    ]
    assert all(
        len(optuna.load_study(study_name=f"vision-search-{s}", storage=storage).trials) == 3 for s in ("tpe", "gp", "random")
    )
    assert again["best"]["test_accuracy"] == result["best"]["test_accuracy"]  # the refit is deterministic
    assert not re.search(r"^\w+ +trial +\d+ ", capsys.readouterr().out, re.M)  # no trial ran

    # other training settings on the same storage are refused, not mixed in
    config.write_text(config.read_text().replace("lr = 1e-2", "lr = 2e-2"))
    assert main(_argv(sim_root, config, out, "--sampler", "tpe", "--trials", "3")) == 2
    assert "train" in capsys.readouterr().err


def test_trials_report_validation_accuracy_per_epoch_to_the_pruner(sim_root, config, tmp_path, capsys):
    config.write_text(config.read_text().replace("epochs = 1", "epochs = 3"))
    out = tmp_path / "out"
    assert main(_argv(sim_root, config, out, "--sampler", "random", "--trials", "4", "--pruner", "hyperband")) == 0
    study = optuna.load_study(study_name="vision-search-random", storage=f"sqlite:///{out / 'search.db'}")
    finished = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(finished) == 4
    for t in finished:  # a completed trial reported every epoch, and its score is the last epoch's accuracy
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1)) and (t.state == optuna.trial.TrialState.PRUNED or steps == [1, 2, 3])
        assert t.state == optuna.trial.TrialState.PRUNED or t.value == t.intermediate_values[3]
    states = [t["state"] for t in json.loads((out / "search.json").read_text())["searches"]["random"]["trials"]]
    assert states == [t.state.name.lower() for t in study.trials]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sampler", "bayes"], "--sampler"),
        (["--trials", "0"], "--trials"),
        (["--storage", "nosuchdb://x"], "storage"),
        (["--pruner", "median"], "--pruner"),
    ],
)
def test_bad_input_exits_2_with_one_line(sim_root, config, tmp_path, capsys, extra, message):
    assert main(_argv(sim_root, config, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def _result(curves: dict[str, list[float]], start_test: float = 0.5, best_test: float = 0.9) -> dict:
    return {
        "trials": 8,
        "data": {"validation": 1000, "test": 1000},
        "start": {"test_accuracy": start_test},
        "best": {"test_accuracy": best_test},
        "searches": {s: {"best_so_far": c} for s, c in curves.items()},
    }


def test_claim_4_held_when_bo_reaches_the_random_best_sooner_or_beats_it():
    sooner = judge_search(_result({"tpe": [0.5, 0.8, 0.8], "gp": [0.5, 0.6, 0.7], "random": [0.5, 0.6, 0.8]}))
    assert sooner[1].held is True and sooner[1].numbers["trials_to_random_best_tpe"] == 2
    assert sooner[1].numbers["trials_to_random_best_gp"] is None
    worse = judge_search(_result({"tpe": [0.5, 0.6, 0.7], "gp": [0.5, 0.6, 0.7], "random": [0.5, 0.8, 0.8]}))
    assert worse[1].held is False and "inconclusive" not in worse[1].note
    claim3 = sooner[0]
    assert claim3.held is True and claim3.numbers["gain"] == pytest.approx(0.4)
    alone = judge_search(_result({"tpe": [0.5, 0.6]}))
    assert alone[1].held is None


def test_claim_verdicts_say_when_a_difference_is_within_noise():
    result = _result({"tpe": [0.80, 0.81], "random": [0.80, 0.80]}, start_test=0.80, best_test=0.81)
    result["data"] = {"validation": 50, "test": 50}
    claims = judge_search(result)
    assert claims[0].held is True and claims[0].note.startswith("inconclusive")
    assert claims[1].held is True and claims[1].note.startswith("inconclusive")


def test_a_missing_root_exits_2_and_leaves_no_output(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_argv(tmp_path / "nowhere", config, out)) == 2
    assert "root" in capsys.readouterr().err and not out.exists()


def test_run_vision_search_returns_a_result_and_binds_through_the_core(sim_root, config, tmp_path, monkeypatch):
    from snn_core import search as core_search
    from vision_bench.search import SamplerSearch, ScoredTopology, SearchRequest, VisionSearchResult, run_vision_search

    bound = []
    bind = core_search.bind_study
    monkeypatch.setattr(core_search, "bind_study", lambda *a, **k: bound.append(a[1]) or bind(*a, **k))
    out = tmp_path / "out"
    result = run_vision_search(
        "synthetic",
        sim_root,
        load_config(config),
        SearchRequest("random", trials=1),
        progress=False,
        log=lambda line: None,
        out=out,
    )
    assert isinstance(result, VisionSearchResult) and isinstance(result.searches["random"], SamplerSearch)
    assert isinstance(result.start, ScoredTopology) and result.best.topology.startswith("1-_")
    assert result.found_by == ("random",) and [c.id for c in result.claims] == ["3", "4"]
    assert result.storage == core_search.default_storage(out)
    assert [p.name for p in result.paths] == ["search.json", "search.md", "search_convergence.png"]
    assert json.loads((out / "search.json").read_text()) == json.loads(json.dumps(result.to_dict()))
    assert {"vision-search-ann-start", "vision-search-random"} <= set(bound)  # the identity check is the core's
