"""Decoding across days: train on some sessions, decode later ones fixed and recalibrated.

The protocol of FALCON (Karpowicz et al. 2024) on the O'Doherty sessions: decoders are fitted on
the training ("held-in") sessions, and each held-out session is decoded

- by the fixed decoder, with no recalibration;
- after each recalibration method (:mod:`bmi_decoder.recalibration`) given the first 15, 30, 60
  or 120 s of the session as calibration data (``scratch``, a decoder fitted on that data alone,
  is one of them);
- by the within-session reference: a decoder fitted on the session's own NeuroBench split.

Everything except the reference is scored on the same stretch, the session after its longest
calibration, so that every number of a session is comparable; the reference is scored on the
NeuroBench test split (the last 25% of the reaches), as ``evaluate`` scores it. A session's date
comes from its file name (Zenodo's ``indy_20160630_01.mat``; ``synth --days`` writes the same
form), and the days since training are counted from the last training session.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmi_decoder.evaluation import r2_score
from bmi_decoder.experiment import ExperimentConfig, evaluate_decoder, read_decodable
from bmi_decoder.names import CALIBRATION_S
from bmi_decoder.preprocess import PreparedSession, prepare_session
from bmi_decoder.recalibration import METHODS, recalibrate
from snn_core.errors import InputError

# What must remain of a held-out session after its longest calibration to score on: at least a
# minute, a few dozen reaches.
MIN_SCORED_S = 60.0
_DATE = re.compile(r"_(\d{8})_\d+$")


def session_date(path: str | Path) -> datetime.date:
    """The recording date in a session's file name (``indy_20160630_01.mat`` -> 2016-06-30).

    Raises:
        InputError: a name without a ``_YYYYMMDD_NN`` date.
    """
    match = _DATE.search(Path(path).stem)
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%d").date()  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        raise InputError(path, "name", "a session name with its date, <subject>_<YYYYMMDD>_<NN> as on Zenodo") from None


@dataclass(frozen=True)
class SessionSet:
    """The sessions of a cross-day evaluation, checked: their dates and channel count."""

    train: list[Path]
    test: list[Path]
    dates: dict[Path, datetime.date]
    channels: int

    def days_after_training(self, path: Path) -> int:
        return (self.dates[path] - max(self.dates[p] for p in self.train)).days


def check_sessions(
    train: Sequence[Path], test: Sequence[Path], calibration_s: Sequence[float], config: ExperimentConfig
) -> SessionSet:
    """Read every session once and refuse bad input before any fit, one line each.

    Raises:
        InputError: a session in both lists, a name without a date, a file that cannot be decoded,
            sessions with different electrode counts, or a held-out session too short for the
            longest calibration plus :data:`MIN_SCORED_S` to score on.
    """
    train, test = [Path(p) for p in train], [Path(p) for p in test]
    held_in = {p.resolve(): p for p in train}
    stems = {p.stem: p for p in train}
    for path in test:
        other = held_in.get(path.resolve()) or stems.get(path.stem)
        if other is not None:
            raise InputError(path, "--test", f"a session that is not also a training session (--train {other})")
    dates = {p: session_date(p) for p in [*train, *test]}
    channels, first = None, None
    for path in [*train, *test]:
        rec = read_decodable(path, config)
        if channels is None:
            channels, first = rec.n_channels, path
        elif rec.n_channels != channels:
            raise InputError(
                path, "chan_names", f"{channels} channels like {first} (one array over all sessions), got {rec.n_channels}"
            )
        longest = max(calibration_s)
        if path in test and rec.duration_s < longest + MIN_SCORED_S:
            raise InputError(
                path,
                "--calibration",
                f"at most {max(rec.duration_s - MIN_SCORED_S, 0):.0f} s of calibration for this {rec.duration_s:.0f} s session "
                f"({MIN_SCORED_S:.0f} s must remain to score on), got {longest:g} s",
            )
    return SessionSet(train, test, dates, int(channels))


def _training_data(paths: Sequence[Path], config: ExperimentConfig) -> tuple[np.ndarray, ...]:
    """Train and validation splits of every training session, each concatenated in date order."""
    prepared = [prepare_session(read_decodable(p, config), config.preprocessing) for p in paths]
    return tuple(np.concatenate([s.split(part)[i] for s in prepared]) for part in ("train", "val") for i in (0, 1))


def _row(session: str, decoder: str, days: int, method: str, calibration_s: float, r2: float, **cost) -> dict:
    return {
        "session": session,
        "decoder": decoder,
        "days": days,
        "method": method,
        "calibration_s": calibration_s,
        "r2": float(r2),
        **cost,
    }


def evaluate_days(
    sessions: SessionSet,
    decoder_names: Sequence[str],
    method_names: Sequence[str],
    config: ExperimentConfig,
    calibration_s: Sequence[float] = CALIBRATION_S,
    progress: Callable[[str], None] = print,
) -> list[dict]:
    """Every decoder fixed, recalibrated and refitted on every held-out session (module docstring).

    Returns:
        One row per (held-out session, decoder, method, calibration): ``session``, ``decoder``,
        ``days`` (since the last training session), ``method`` (``fixed``, ``within`` or a
        recalibration method), ``calibration_s`` (0 for fixed and within), ``r2``, and for
        recalibrations ``seconds`` and ``parameters_changed``.
    """
    X, y, X_val, y_val = _training_data(sessions.train, config)
    rows = []
    for name in decoder_names:
        trained = config.decoder(name).fit(X, y, X_val, y_val)
        progress(f"{name}: fitted on {len(sessions.train)} training session(s)")
        methods = [METHODS[m]() for m in method_names]
        for path in sessions.test:
            days = sessions.days_after_training(path)
            session: PreparedSession = prepare_session(read_decodable(path, config), config.preprocessing)
            bins = [int(round(c / session.bin_width)) for c in calibration_s]
            X_score, y_score = session.features[max(bins) :], session.velocity[max(bins) :]
            within = evaluate_decoder(config.decoder(name), session, path.stem)
            rows.append(_row(path.stem, name, days, "within", 0.0, within.r2))
            fixed = r2_score(y_score, trained.predict(X_score))
            rows.append(_row(path.stem, name, days, "fixed", 0.0, fixed))
            for method in methods:
                if not method.applies_to(trained):
                    continue
                for seconds, n in zip(calibration_s, bins):
                    X_cal, y_cal = session.features[:n], session.velocity[:n]
                    done = recalibrate(method, trained, X_cal, y_cal, X)
                    r2 = r2_score(y_score, done.decoder.predict(X_score))
                    rows.append(
                        _row(
                            path.stem,
                            name,
                            days,
                            method.name,
                            float(seconds),
                            r2,
                            seconds=done.seconds,
                            parameters_changed=done.parameters_changed,
                        )
                    )
            progress(f"{name}: {path.stem} (day {days}) fixed R2 {fixed:.3f}, within-session {within.r2:.3f}")
    return rows
