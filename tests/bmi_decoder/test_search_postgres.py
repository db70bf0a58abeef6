"""Parallel search workers sharing one study on a real PostgreSQL server, started by the test.

Debian's PostgreSQL 15 (``initdb``, ``pg_ctl``) is installed on the project's machines and CI, so
a missing server is a failure, not a skip. The server runs from a temporary folder owned by the
``postgres`` user (it refuses to run as root), listens on 127.0.0.1 only, at a free port, with its
unix socket inside the folder, and is stopped in teardown. The search is given the standard URL
as docs/search.md writes it, ``postgresql://USER:PASSWORD@HOST/DB`` (no driver named: the project's
storage maps it to the installed psycopg2); the server trusts local connections and ignores the
password.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import optuna
import psycopg2
import pytest
from optuna.trial import TrialState

from bmi_decoder.cli import main
from bmi_decoder.experiment import ExperimentConfig
from bmi_decoder.search import SearchRequest, search_topology
from snn_core.search import open_storage

# 27 topologies; epochs long enough to catch a trial between its first and last one
TINY = ExperimentConfig(seed=1, decoders={"snn": {"hidden": [8, 8, 8], "max_epochs": 4, "patience": 4}})
TRIALS = 4
HEARTBEAT_S = 2  # a killed worker's trial is failed 2 x 2 s after its last beat
PASSWORD = "not-checked"  # trust authentication: present only to give the documented form of the URL


def as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when this is root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL server with an empty database ``search``; yields its URL."""
    missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
    assert not missing, f"PostgreSQL server binaries not on PATH: {missing} (apt install postgresql)"
    root = Path(tempfile.mkdtemp(prefix="skipsnn-pg-", dir="/tmp"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    try:
        run = dict(check=True, capture_output=True, text=True)
        subprocess.run(as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]), **run)
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} -c fsync=off"
        subprocess.run(as_postgres(["pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", options, "start"]), **run)
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE search")
        connection.close()
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/search"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # retried_trial_number
def test_workers_share_a_postgres_study_and_a_killed_workers_trial_is_retried(postgres_url, tmp_path):
    session = tmp_path / "s.mat"
    assert main(["synth", str(session), "--seconds", "30", "--seed", "2"]) == 0
    outcome: dict = {}

    def search() -> None:
        try:
            outcome["result"] = search_topology(
                session,
                TINY,
                SearchRequest("random", trials=TRIALS, workers=2, storage=postgres_url, heartbeat_s=HEARTBEAT_S),
                out=tmp_path / "out",
            )
        except BaseException as err:  # reported by the assertions below
            outcome["error"] = err

    storage = open_storage(postgres_url)  # creates the tables before the search opens them
    searching = threading.Thread(target=search)
    searching.start()
    victim = None
    deadline = time.monotonic() + 600  # a bound against a hang (loaded machines are slow), not a timing assertion
    while victim is None and searching.is_alive() and time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name="skip-search", storage=storage).get_trials(deepcopy=False)
        except KeyError:  # the study is not created yet
            trials = []
        for trial in trials:
            worker = trial.user_attrs.get("worker", "")
            # mid-trial: it has reported a first epoch's validation R2
            if trial.state == TrialState.RUNNING and trial.intermediate_values and worker:
                os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
                victim = trial.number
                break
        time.sleep(0.05)
    searching.join(timeout=900)
    assert not searching.is_alive() and "error" not in outcome, outcome.get("error")
    assert victim is not None, "no trial was caught mid-training"

    trials = optuna.load_study(study_name="skip-search", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS  # exactly the requested number, though a worker died
    assert len({t.user_attrs["worker"] for t in trials if "worker" in t.user_attrs}) >= 2
    # the killed worker's trial was failed by the heartbeat and queued again, then completed
    assert next(t for t in trials if t.number == victim).state == TrialState.FAIL
    retried = [t for t in complete if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim]
    assert len(retried) == 1
    # no topology was trained twice: a repeat reuses the first trial's score
    trained = [t.user_attrs["topology"] for t in complete if "repeat_of" not in t.user_attrs]
    assert len(trained) == len(set(trained))
    result = outcome["result"]
    assert [t.state for t in result.trials].count("complete") == TRIALS
    assert result.validation_r2 == max(t.values[0] for t in complete)
    assert result.storage == postgres_url.replace(PASSWORD, "***")  # reported as given, password masked
