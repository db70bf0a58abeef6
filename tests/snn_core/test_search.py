"""Skip-topology search: the parameter space, the samplers, resuming, failures, best-so-far."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from snn_core.errors import InputError
from snn_core.search import (
    SearchInterrupted,
    SearchRequest,
    best_so_far,
    bind_study,
    default_storage,
    driver_url,
    make_sampler,
    open_storage,
    run_search,
    shown_url,
    suggest_topology,
    trial_printer,
)
from snn_core.topology import ASC, DSC, SkipTopology, search_space_size

optuna.logging.set_verbosity(optuna.logging.ERROR)


def asc_minus_dsc(topology: SkipTopology) -> float:
    """Synthetic objective with one optimum: every entry ASC."""
    return float(topology.count(ASC) - topology.count(DSC))


def test_one_categorical_parameter_per_entry_named_by_block_and_entry():
    study = optuna.create_study()
    trial = study.ask()
    topology = suggest_topology(trial, [3, 2])
    assert set(trial.distributions) == {"b0_0_1", "b0_0_2", "b0_1_2", "b1_0_1"}
    assert all(d == CategoricalDistribution((0, 1, 2)) for d in trial.distributions.values())
    assert topology.layers_per_block == (3, 2)
    assert trial.user_attrs["topology"] == str(topology)
    assert topology.matrices()[0][0, 2] == trial.params["b0_0_2"]


def test_random_sampling_reaches_every_topology_of_a_3_layer_block():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {str(suggest_topology(study.ask(), [3])) for _ in range(300)}
    assert len(seen) == search_space_size([3]) == 27


def test_make_sampler_names_and_unknown_name():
    assert isinstance(make_sampler("tpe", 0), optuna.samplers.TPESampler)
    assert isinstance(make_sampler("gp", 0), optuna.samplers.GPSampler)
    assert isinstance(make_sampler("random", 0), optuna.samplers.RandomSampler)
    with pytest.raises(ValueError, match="tpe, gp, random"):
        make_sampler("cmaes", 0)


def test_tpe_finds_the_optimum_where_random_search_does_not():
    # 729 topologies of a 4-layer block; the optimum "4-222222" scores 6
    budget = 60
    tpe = [run_search(asc_minus_dsc, [4], SearchRequest("tpe", budget, seed=s, study=f"t{s}")).best_value for s in range(3)]
    rand = [run_search(asc_minus_dsc, [4], SearchRequest("random", budget, seed=s, study=f"r{s}")).best_value for s in range(3)]
    assert tpe == [6.0, 6.0, 6.0]
    assert np.mean(rand) < 6.0


def test_gp_sampler_runs_past_its_start_up_trials():
    study = run_search(asc_minus_dsc, [3], SearchRequest("gp", trials=7, seed=1))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 7


def test_interrupted_search_resumes_and_keeps_its_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    first = run_search(asc_minus_dsc, [3], SearchRequest("tpe", trials=3, seed=0), storage=storage)
    kept = [t.user_attrs["topology"] for t in first.trials]
    calls = []

    def counted(topology: SkipTopology) -> float:
        calls.append(str(topology))
        return asc_minus_dsc(topology)

    resumed = run_search(counted, [3], SearchRequest("tpe", trials=5, seed=0), storage=storage)
    complete = resumed.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 5
    assert [t.user_attrs["topology"] for t in complete[:3]] == kept
    assert len(calls) <= 2
    assert len(run_search(counted, [3], SearchRequest("tpe", trials=5), storage=storage).trials) == 5, "nothing left to run"
    with pytest.raises(InputError, match="layers_per_block"):
        run_search(counted, [4], SearchRequest("tpe", trials=6), storage=storage)


def test_a_topology_suggested_again_reuses_its_score():
    calls = []

    def counted(topology: SkipTopology) -> float:
        calls.append(str(topology))
        return asc_minus_dsc(topology)

    study = run_search(counted, [2], SearchRequest("random", trials=12, seed=0))  # only 3 topologies exist
    assert len(study.trials) == 12 and len(calls) == len(set(calls)) <= 3
    repeats = [t for t in study.trials if "repeat_of" in t.user_attrs]
    assert repeats and all(t.value == study.trials[t.user_attrs["repeat_of"]].value for t in repeats)


def test_diverged_trials_fail_without_stopping_the_search_but_bad_input_stops_it():
    def diverging(topology: SkipTopology) -> float:
        if topology.count(DSC) == 1:
            raise FloatingPointError("loss is NaN")
        return math.nan if topology.count(ASC) == 1 else asc_minus_dsc(topology)

    study = run_search(diverging, [2], SearchRequest("random", trials=10, seed=0))
    states = {t.user_attrs["topology"]: t.state for t in study.trials}
    assert states["2-1"] == TrialState.FAIL and states["2-2"] == TrialState.FAIL
    assert states["2-0"] == TrialState.COMPLETE

    def bad_setting(topology: SkipTopology) -> float:
        raise InputError("config", "hidden", "positive widths")

    with pytest.raises(InputError):
        run_search(bad_setting, [2], SearchRequest(trials=3))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_best_so_far_is_the_running_best(direction):
    study = run_search(asc_minus_dsc, [3], SearchRequest("random", trials=15, seed=2), direction=direction)
    best = best_so_far(study)
    values = [t.value for t in study.trials]
    assert len(best) == 15 and best[0] == values[0]
    step = np.diff(best)
    assert (step >= 0).all() if direction == "maximize" else (step <= 0).all()
    assert best[-1] == study.best_value
    assert len(set(values)) > 1 and best != values


def test_storage_that_does_not_open_is_input_error(tmp_path):
    for url in ("not a url", f"sqlite:///{tmp_path}/missing/dir/search.db", "postgresql://user@127.0.0.1:1/db"):
        with pytest.raises(InputError, match="storage"):
            run_search(asc_minus_dsc, [2], SearchRequest(trials=1), storage=url)


def test_bind_study_records_settings_and_refuses_others_naming_storage_and_field(tmp_path):
    url = default_storage(tmp_path)
    assert url == f"sqlite:///{(tmp_path / 'search.db').resolve()}"
    storage = open_storage(url)
    settings = {"objective": {"data": {"bin": 4}, "train": {"lr": 0.1}}, "seed": 0}
    study = bind_study(storage, "s", settings)
    assert study.user_attrs == {"objective": {"data": {"bin": 4}, "train": {"lr": 0.1}}, "seed": 0}
    bind_study(storage, "s", settings)  # the same settings resume
    with pytest.raises(InputError) as refused:
        bind_study(storage, "s", {**settings, "objective": {"data": {"bin": 4}, "train": {"lr": 0.2}}})
    assert str(refused.value).startswith(f"{url}, study 's': train: expected the same as stored")
    with pytest.raises(InputError, match=r"study 's': seed: expected"):
        bind_study(storage, "s", {**settings, "seed": 1})


def test_the_standard_postgresql_url_names_the_installed_driver():
    # SQLAlchemy 2.1 would load psycopg 3 for a bare postgresql://, which the project does not install
    assert driver_url("postgresql://user:pw@host/db") == "postgresql+psycopg2://user:pw@host/db"
    assert driver_url("postgresql+psycopg2://user@host:5433/db") == "postgresql+psycopg2://user@host:5433/db"
    for url in ("sqlite:////tmp/search.db", "mysql://user@host/db", "not a url"):
        assert driver_url(url) == url
    import psycopg2  # noqa: F401 - the driver the mapping names is installed

    with pytest.raises(InputError) as refused:  # no server there: refused as a storage, not a missing module
        open_storage("postgresql://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(refused.value) and "Failed to import" not in str(refused.value)


def test_shown_url_masks_the_password():
    assert shown_url("postgresql://user:secret@host/db") == "postgresql://user:***@host/db"
    assert shown_url("not a url") == "not a url"
    with pytest.raises(InputError) as opened:
        open_storage("nosuchdb://user:secret@host/db")
    assert "secret" not in str(opened.value) and "user:***@host" in str(opened.value)


def test_ctrl_c_stops_the_search_quietly_and_a_rerun_resumes(tmp_path, capfd):
    storage = default_storage(tmp_path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:

        def interrupted(topology: SkipTopology) -> float:
            if calls.append(1) or len(calls) == 3:
                raise KeyboardInterrupt
            return asc_minus_dsc(topology)

        calls: list[int] = []
        with pytest.raises(SearchInterrupted, match="interrupted; rerun to resume"):
            run_search(interrupted, [3], SearchRequest("random", trials=5), storage=storage, callbacks=[trial_printer("score")])
        assert "Traceback" not in capfd.readouterr().err
    finally:
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = run_search(asc_minus_dsc, [3], SearchRequest("random", trials=5), storage=storage, callbacks=[trial_printer("score")])
    states = [t.state for t in study.trials]
    assert states[2] == TrialState.FAIL and states.count(TrialState.COMPLETE) == 5
    printed = capfd.readouterr().out.splitlines()
    assert printed[0].startswith("trial   3  3-") and "score" in printed[0] and "best" in printed[0]
