"""Where studies live, and what ties a study to the settings its scores depend on.

Studies live in an Optuna RDB storage: a SQLite file for one machine, a PostgreSQL or MySQL URL
when workers on several machines share one study. A study records the settings that make its
scores comparable (:func:`bind_study`, one user attribute per setting), and a resume with other
settings is refused.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc

from snn_core.errors import InputError

# A worker killed mid-trial (SIGKILL, lost machine) leaves its trial RUNNING forever; with a
# heartbeat, the next worker to start a trial marks it failed.
HEARTBEAT_SECONDS = 60
# A trial killed again and again (e.g. by the kernel's out-of-memory killer) is not queued forever.
MAX_RETRY = 2
RESUME_HINT = "the same as stored to resume the study (or a new study name or storage)"
# SQLAlchemy 2.1 gives a bare postgresql:// URL the psycopg 3 driver; the project installs
# psycopg2 (pyproject.toml), so the standard URL names it.
POSTGRESQL_DRIVER = "postgresql+psycopg2"


def default_storage(out: str | Path) -> str:
    """The default storage of a search writing to folder ``out``: the SQLite file ``out/search.db``."""
    return f"sqlite:///{(Path(out) / 'search.db').resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password masked, for printing, reports and error messages."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url  # not a URL: no password in it to hide


def storage_label(storage: str | optuna.storages.BaseStorage | None) -> str:
    """How ``storage`` is named in messages: its URL, password masked, or ``in-memory storage``."""
    url = storage if isinstance(storage, str) else getattr(storage, "url", None)
    return shown_url(url) if isinstance(url, str) else "in-memory storage"


def driver_url(url: str) -> str:
    """``url`` with the installed PostgreSQL driver named where it names none
    (``postgresql://USER:PASSWORD@HOST/DB``); any other URL as given."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url  # RDBStorage reports it
    if parsed.drivername != "postgresql":
        return url
    return parsed.set(drivername=POSTGRESQL_DRIVER).render_as_string(hide_password=False)


def open_storage(
    storage: str | optuna.storages.BaseStorage | None, heartbeat_s: int = HEARTBEAT_SECONDS
) -> optuna.storages.BaseStorage | None:
    """Open (creating if needed) the Optuna RDB storage at a URL; a storage object or None
    (in memory) is returned as given, as Optuna's ``get_storage`` does.

    A running trial beats every ``heartbeat_s`` seconds; one silent for twice that (its worker
    killed) is marked failed by the next worker that looks, and queued again (at most
    :data:`MAX_RETRY` times). ``postgresql://`` URLs use the installed psycopg2 driver
    (:func:`driver_url`).

    Raises:
        InputError: when the URL cannot be parsed, its database driver is missing, or the
            database cannot be opened.
    """
    if not isinstance(storage, str):
        return storage
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                driver_url(storage),
                heartbeat_interval=heartbeat_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
            )
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as err:
        reason = str(err).splitlines()[0]
        raise InputError(
            shown_url(storage), "storage", f"an Optuna RDB URL that opens, e.g. sqlite:///search.db ({reason})"
        ) from None


def _differing(key: str, stored: Any, wanted: Any) -> str:
    """The field named in a refusal: the differing keys of a table, else the setting itself."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        return ", ".join(k for k in {**wanted, **stored} if stored.get(k) != wanted.get(k))
    return key


def bind_study(
    storage: optuna.storages.BaseStorage | None,
    study_name: str,
    settings: Mapping[str, Any],
    direction: str | Sequence[str] = "maximize",
) -> optuna.Study:
    """Open (creating if needed) a study tied to ``settings``: the one identity check of every search.

    Each setting is stored as a user attribute of the study (as JSON: tuples become lists) when
    the study first sees it; a later run must pass the same value, so that the scores of its
    trials stay comparable with the stored ones. ``direction`` is one direction, or one per
    objective; a stored study of other directions is refused too.

    Raises:
        InputError: naming the storage, the study and the differing field (for a table, its
            differing keys) when a stored setting differs.
    """
    settings = json.loads(json.dumps(dict(settings)))
    directions = [direction] if isinstance(direction, str) else list(direction)
    study = optuna.create_study(storage=storage, study_name=study_name, directions=directions, load_if_exists=True)
    stored = study.user_attrs
    differ = [_differing(k, stored[k], v) for k, v in settings.items() if k in stored and stored[k] != v]
    if [d.name.lower() for d in study.directions] != directions:
        differ.append("directions")
    if differ:
        raise InputError(f"{storage_label(storage)}, study {study_name!r}", ", ".join(differ), RESUME_HINT)
    for key, value in settings.items():
        if key not in stored:
            study.set_user_attr(key, value)
    return study
