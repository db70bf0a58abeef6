"""``vision-bench search --strategy exhaustive|zero-cost`` end to end on the simulated set."""

from __future__ import annotations

import json

import optuna
import pytest

import snn_core.population_training as population_training
import vision_bench.population as population
from vision_bench.cli import main


def _argv(root, config, out, *extra):
    base = ["search", "--dataset", "synthetic", "--root", str(root), "--config", str(config), "--out", str(out)]
    return [*base, "--threads", "1", *extra]


def test_exhaustive_on_a_subset_beside_the_samplers_and_resumed(sim_root, config, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(_argv(sim_root, config, out, "--sampler", "random", "--trials", "2")) == 0
    capsys.readouterr()
    subset = ["3-000", "3-020", "3-111", "3-222"]  # the ANN-derived starts (none, asc) among them
    args = ["--strategy", "exhaustive", "--seeds", "2", "--topologies", ",".join(subset)]
    save = population_training._save

    def interrupted_save(*a, **k):  # Ctrl-C once the population's (only) epoch is saved
        save(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(population_training, "_save", interrupted_save)
    assert main(_argv(sim_root, config, out, *args)) == 130
    progress = out / "vision-search-exhaustive-progress"
    assert list(progress.glob("chunk*/population.pt"))
    capsys.readouterr()
    monkeypatch.setattr(population_training, "_save", save)
    assert main(_argv(sim_root, config, out, *args)) == 0
    printed, warned = capsys.readouterr()
    assert "not resumed" not in warned and not progress.exists()
    result = json.loads((out / "search.json").read_text())
    assert list(result["searches"]) == ["exhaustive", "random"], "the sampler's stored study is shown beside it"
    assert "| exhaustive |" in printed and "| random |" in printed
    search, strategy = result["searches"]["exhaustive"], result["strategy"]
    assert [t["topology"] for t in search["trials"]] == [f"1-_{t}" for t in subset]
    assert sorted(strategy["scores"]) == sorted(subset) and strategy["seeds"] == [0, 1]
    for row in search["trials"]:
        assert len(row["seed_accuracies"]) == 2 and row["validation_accuracy"] == pytest.approx(sum(row["seed_accuracies"]) / 2)
    assert search["trainings"] == 8 and search["wall_s"] > 0
    best = max(search["trials"], key=lambda r: r["validation_accuracy"])
    assert result["best"]["topology"] == search["best"]["topology"] == best["topology"]
    assert "exhaustive" in result["best"]["found_by"]
    assert len(strategy["best"]["test_accuracy"]) == 2
    assert result["best"]["test_accuracy"] == pytest.approx(sum(strategy["best"]["test_accuracy"]) / 2)
    # the first seed's member equals the sampler's solo fit of the same topology
    solo = {r["topology"]: r["validation_accuracy"] for r in result["searches"]["random"]["trials"]}
    start = result["start"]["topology"]
    assert start in solo and start in [row["topology"] for row in search["trials"]]
    for row in search["trials"]:
        if row["topology"] in solo:
            assert row["seed_accuracies"][0] == pytest.approx(solo[row["topology"]])

    # rerun: nothing is trained again but the winner's models, to test them
    trained = []
    train = population.train_population

    def counting(model_config, members, *a, **k):
        trained.append(list(members))
        return train(model_config, members, *a, **k)

    monkeypatch.setattr(population, "train_population", counting)
    assert main(_argv(sim_root, config, out, *args)) == 0
    assert trained == [[(best["topology"][3:], 0), (best["topology"][3:], 1)]]
    storage = f"sqlite:///{out / 'search.db'}"
    assert len(optuna.load_study(study_name="vision-search-exhaustive", storage=storage).trials) == 4


def test_zero_cost_ranks_every_topology_then_trains_the_top(sim_root, config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_argv(sim_root, config, out, "--strategy", "zero-cost", "--top", "2")) == 0
    result = json.loads((out / "search.json").read_text())
    strategy = result["strategy"]
    assert len(strategy["ranking"]) == 27 and len(strategy["zero_cost"]) == 27
    hamming = [strategy["zero_cost"][t]["hamming"] for t in strategy["ranking"]]
    assert hamming == sorted(hamming, reverse=True)
    assert sorted(strategy["scores"]) == sorted(strategy["ranking"][:2]) and strategy["trained"] == 2
    assert list(result["searches"]) == ["zero-cost"] and "| zero-cost |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--strategy", "zero-cost", "--top", "28"], "command line: --top: expected 1 to 27"),
        (["--strategy", "exhaustive", "--seeds", "0"], "--seeds: expected at least 1"),
        (["--strategy", "exhaustive", "--sampler", "all"], "--sampler: expected none with the exhaustive strategy"),
        (["--strategy", "exhaustive", "--pruner", "sha"], "--pruner: expected none with the exhaustive strategy"),
        (["--top", "3"], "--top: expected none with the sampler strategy"),
        (
            ["--strategy", "zero-cost", "--topologies", "3-000,3-9"],
            "command line: --topologies: expected topologies in text form",
        ),
    ],
)
def test_bad_strategy_options_exit_2_with_one_line(sim_root, config, tmp_path, capsys, extra, fragment):
    out = tmp_path / "out"
    assert main(_argv(sim_root, config, out, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and not out.exists()
