"""Workers sharing one stored study: each topology trained once, the exact number of trials.

Two threads stand in for two worker processes here (the storage cannot tell them apart); worker
processes and a killed worker's retry are tested against PostgreSQL in
tests/bmi_decoder/test_search_postgres.py.
"""

from __future__ import annotations

import threading
import time

import optuna
from optuna.trial import TrialState

from snn_core.search import SearchRequest, default_storage, open_storage, run_search
from snn_core.topology import ASC, DSC, SkipTopology

optuna.logging.set_verbosity(optuna.logging.ERROR)


def test_two_workers_train_each_topology_once_and_stop_at_the_requested_count(tmp_path):
    url = default_storage(tmp_path)
    open_storage(url)  # the tables exist before the workers open them
    trained: list[str] = []
    lock = threading.Lock()

    def objective(topology: SkipTopology) -> float:
        with lock:
            trained.append(str(topology))
        time.sleep(0.1)  # long enough for the other worker to draw the same topology meanwhile
        return float(topology.count(ASC) - topology.count(DSC))

    # 27 topologies of a 3-layer block: random draws by two workers repeat often
    def work(worker: int) -> None:
        run_search(objective, [3], SearchRequest("random", trials=14, seed=0), storage=url, worker=worker)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    trials = optuna.load_study(study_name="skip-search", storage=url).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 14
    assert len(trained) == len(set(trained)), "a topology was trained twice"
    repeats = [t for t in complete if "repeat_of" in t.user_attrs]
    assert all(trials[t.user_attrs["repeat_of"]].value == t.value for t in repeats)
    # only a trial begun when the study already had all it needs may fail (marked surplus)
    assert all(t.user_attrs.get("surplus") for t in trials if t.state != TrialState.COMPLETE)


def test_a_queued_trial_counts_as_drawn_by_its_fixed_parameters(tmp_path):
    url = default_storage(tmp_path)
    calls: list[str] = []
    study = optuna.create_study(study_name="skip-search", storage=url, direction="maximize")
    study.enqueue_trial({"b0_0_1": 2, "b0_0_2": 2, "b0_1_2": 2})
    found = run_search(lambda t: calls.append(str(t)) or 1.0, [3], SearchRequest("random", trials=3), storage=url)
    assert found.trials[0].user_attrs["topology"] == "3-222" and calls[0] == "3-222"
    assert len(calls) == len(set(calls))


def test_a_dead_worker_of_this_host_is_failed_and_retried_at_once(tmp_path):
    import os
    import socket
    import subprocess

    from snn_core.search import engine

    study = optuna.create_study(storage=open_storage(default_storage(tmp_path)), direction="maximize")
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names no process now (the heartbeat would take two minutes to say so)
    killed, alive = study.ask({"x": optuna.distributions.IntDistribution(0, 3)}), study.ask()
    killed.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    alive.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid()}")
    engine._fail_stale(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[killed.number] == TrialState.FAIL and states[alive.number] == TrialState.RUNNING
    retries = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(retries) == 1 and retries[0].params == killed.params
