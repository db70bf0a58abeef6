"""Per-epoch reports and pruning, and multi-objective searches (snn_core.search)."""

from __future__ import annotations

import dataclasses
import pickle

import optuna
import pytest
import torch
from optuna.trial import TrialState

from snn_core.cli import checked_search
from snn_core.errors import InputError
from snn_core.search import SearchRequest, pareto_front, parse_objectives, run_search, trial_printer
from snn_core.topology import ASC, DSC, SkipTopology
from snn_core.training import epoch_listener, report_epoch, train

optuna.logging.set_verbosity(optuna.logging.ERROR)
EPOCHS = 9


def quality(topology: SkipTopology) -> float:
    """Synthetic final score with one optimum (every entry ASC), positive."""
    return float(topology.count(ASC) - topology.count(DSC) + 4)


def trained(topology: SkipTopology, calls: list[str]) -> float:
    """Train a one-weight model through the shared trainer; validation rises to ``quality``."""
    calls.append(str(topology))
    weight = torch.nn.Parameter(torch.ones(1))
    epochs = iter(range(1, EPOCHS + 1))
    result = train(
        torch.nn.ParameterList([weight]),
        torch.optim.SGD([weight], lr=0.1),
        lambda rng: [None],
        lambda batch: (weight**2).sum(),
        lambda: quality(topology) * next(epochs) / EPOCHS,
        max_epochs=EPOCHS,
        seed=0,
    )
    return result.best_score


def test_epoch_listener_sees_every_epoch_and_can_stop_training():
    seen = []
    with epoch_listener(lambda record: seen.append(record["epoch"])):
        trained(SkipTopology.from_string("2-2"), [])
    assert seen == list(range(1, EPOCHS + 1))

    def stop_at_3(record: dict) -> None:
        if record["epoch"] == 3:
            raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned), epoch_listener(stop_at_3):
        trained(SkipTopology.from_string("2-2"), [])
    trained(SkipTopology.from_string("2-2"), [])  # the listener is gone once the block is left


@pytest.mark.parametrize("pruner", ["sha", "hyperband"])
def test_pruned_trials_stop_early_count_as_trials_and_are_never_reused_as_complete(pruner):
    calls: list[str] = []
    storage = optuna.storages.InMemoryStorage()
    study = run_search(
        lambda t: trained(t, calls), [3], SearchRequest("random", trials=24, seed=0, pruner=pruner), storage=storage
    )
    trials = study.trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 24 == len(trials)
    assert pruned, "a pruner that never prunes"
    # every trial reported its validation score per epoch; a pruned one stopped before the last
    assert all(sorted(t.intermediate_values) == list(range(1, EPOCHS + 1)) for t in complete)
    assert all(t.last_step < EPOCHS for t in pruned)
    # a topology is trained once: a repeat of a pruned one is pruned again, of a complete one reuses it
    assert len(calls) == len(set(calls))
    for t in trials:
        first = trials[t.user_attrs["repeat_of"]] if "repeat_of" in t.user_attrs else None
        assert first is None or (first.state == t.state and first.user_attrs["topology"] == t.user_attrs["topology"])
    # the best trial, best-so-far and a resume see completed trials only
    assert study.best_trial.state == TrialState.COMPLETE
    assert (
        study.best_value
        == max(t.value for t in complete)
        == quality(SkipTopology.from_string(study.best_trial.user_attrs["topology"]))
    )
    resumed = run_search(lambda t: trained(t, calls), [3], SearchRequest("random", trials=24, pruner=pruner), storage=storage)
    assert len(resumed.trials) == 24, "pruned trials are finished trials: nothing left to run"


def test_pruner_none_prunes_nothing_and_the_printer_names_pruned_trials(capsys):
    study = run_search(lambda t: trained(t, []), [2], SearchRequest("random", trials=4, seed=0))
    assert all(t.state == TrialState.COMPLETE and len(t.intermediate_values) == EPOCHS for t in study.trials)
    frozen = study.trials[0]
    trial = optuna.trial.create_trial(
        state=TrialState.PRUNED, intermediate_values={1: 0.5, 2: 0.6}, user_attrs={"topology": "2-1"}
    )
    trial_printer("score")(study, trial)
    assert capsys.readouterr().out.strip().endswith("2-1  pruned after epoch 2")
    assert frozen.state == TrialState.COMPLETE


def cost(topology: SkipTopology) -> float:
    """A synthetic cost that rises with the score's optimum: every ASC costs 3, a DSC 1."""
    return float(3 * topology.count(ASC) + topology.count(DSC))


@pytest.mark.parametrize("sampler", ["nsga2", "tpe"])
def test_multi_objective_search_keeps_the_pareto_front(sampler):
    study = run_search(
        lambda t: (quality(t), cost(t)), [3], SearchRequest(sampler, trials=20, seed=0), direction=["maximize", "minimize"]
    )
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    front = pareto_front(study)
    assert len(complete) == 20 and front
    for p in front:  # nothing beats a front trial in both objectives
        assert not any(t.values[0] >= p.values[0] and t.values[1] <= p.values[1] and t.values != p.values for t in complete)
    for t in complete:  # and every other trial is beaten by, or equal to, one on the front
        assert t in front or any(p.values[0] >= t.values[0] and p.values[1] <= t.values[1] for p in front)
    topologies = [p.user_attrs["topology"] for p in front]
    assert len(set(topologies)) == len(topologies), "a repeated topology appears once"


def test_objectives_and_pruner_options():
    assert parse_objectives("score") == ("score",) and parse_objectives("score, energy") == ("score", "energy")
    assert SearchRequest(objectives=("score", "synops")).check().direction == ["maximize", "minimize"]
    for bad in ("energy", "score,energy,synops", "score,watts", "score,score"):
        with pytest.raises(InputError, match="search request: objectives: expected score, score,energy or score,synops"):
            SearchRequest(objectives=parse_objectives(bad)).check()
    assert SearchRequest("nsga2", 5, pruner="hyperband").check().pruner == "hyperband"
    with pytest.raises(InputError, match="pruner: expected one of none, sha, hyperband, got 'median'"):
        SearchRequest("tpe", 5, pruner="median").check()
    with pytest.raises(InputError, match="pruner: expected none with several objectives"):
        SearchRequest("tpe", 5, pruner="sha", objectives=("score", "energy")).check()
    with pytest.raises(InputError, match="workers: expected at least 1, got 0"):
        SearchRequest("tpe", 5, workers=0).check()
    with pytest.raises(ValueError, match="single objective"):
        run_search(lambda t: (1.0, 1.0), [2], SearchRequest(trials=1, pruner="sha"), direction=["maximize", "minimize"])


def test_the_core_names_fields_and_the_command_lines_name_options():
    # the core knows no command line: its refusals name the request's fields
    with pytest.raises(InputError) as core:
        SearchRequest("bayes").check()
    assert str(core.value) == "search request: sampler: expected one of tpe, gp, random, nsga2, got 'bayes'"
    # the search commands name their options instead
    for request, message in (
        (SearchRequest("bayes"), "command line: --sampler: expected one of tpe, gp, random, nsga2, got 'bayes'"),
        (SearchRequest(trials=0), "command line: --trials: expected at least 1, got 0"),
        (SearchRequest(objectives=("score", "watts")), "command line: --objectives: expected score, score,energy or"),
    ):
        with pytest.raises(InputError) as cli:
            checked_search(request)
        assert str(cli.value).startswith(message)


def test_samplers_and_pruners_are_names_or_optuna_objects():
    sampler, pruner = optuna.samplers.RandomSampler(seed=3), optuna.pruners.SuccessiveHalvingPruner()
    request = SearchRequest(sampler, trials=4, pruner=pruner).check()
    assert (request.sampler_label, request.pruner_label) == ("RandomSampler", "SuccessiveHalvingPruner")
    study = run_search(lambda t: trained(t, []), [2], request)
    assert study.sampler is sampler and study.pruner is pruner  # used as given, not rebuilt by name
    assert len(study.trials) == 4
    # the request pickles whole, objects included: worker processes receive it so
    assert pickle.loads(pickle.dumps(request)).sampler_label == "RandomSampler"
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.trials = 5  # type: ignore[misc]


def test_a_replayed_curve_is_pruned_like_a_trained_one():
    def replayed(topology: SkipTopology) -> float:
        for epoch in range(1, EPOCHS + 1):
            report_epoch({"epoch": epoch, "score": quality(topology) * epoch / EPOCHS})
        return quality(topology)

    report_epoch({"epoch": 1, "score": 0.0})  # outside a search: no listener, nothing happens
    replay = run_search(replayed, [3], SearchRequest("random", trials=24, seed=0, pruner="sha"))
    trained_study = run_search(lambda t: trained(t, []), [3], SearchRequest("random", trials=24, seed=0, pruner="sha"))
    assert [t.state for t in replay.trials] == [t.state for t in trained_study.trials]
    assert [t.intermediate_values for t in replay.trials] == [t.intermediate_values for t in trained_study.trials]
