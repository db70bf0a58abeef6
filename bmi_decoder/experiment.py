"""An offline evaluation: sessions x decoders on the NeuroBench primate-reaching protocol.

The protocol (docs/data.md): 4 ms bins with all units of a channel OR-ed, cursor velocity as the
label, a chronological 50/25/25 split by reach, R2 over the test set averaged over x and y. Each
decoder is fitted on the train split, tuned or early-stopped on the validation split, and scored
on the test split, which it decodes from the reset state in one pass.

Configuration is a TOML file (``configs/bmi_*.toml``)::

    seed = 0
    [data]                 # the fields of bmi_decoder.preprocess.Preprocessing
    bin_width = 0.004
    max_gap_s = 1.0        # and this one: the longest hole tolerated in t (bmi_decoder.quality)
    [decoders.snn]         # keyword arguments of each decoder
    max_epochs = 10
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bmi_decoder.cost import decoder_cost
from bmi_decoder.decoders import DECODERS, Decoder, make_decoder
from bmi_decoder.evaluation import correlation, r2_per_axis, rmse
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import NEUROBENCH, PreparedSession, Preprocessing, prepare_session
from bmi_decoder.preprocess import SCHEMA as PREPROCESSING_SCHEMA
from bmi_decoder.quality import DEFAULT_MAX_GAP_S, require_decodable
from bmi_decoder.recording import Recording
from snn_core.config import SEED, SEED_MAX, Field, Rule, check_section, dataclass_schema, read_toml
from snn_core.device import choose_device
from snn_core.errors import InputError
from snn_core.outputs import PROGRESS, check_output


@dataclass(frozen=True)
class ExperimentConfig:
    """What an evaluation runs: the preprocessing, the decoders' parameters and the seed, and
    the device of every decoder with a ``device`` parameter (None: each keeps its own), and the
    longest hole in a recording's clock that is tolerated (``[data] max_gap_s``)."""

    seed: int = 0
    preprocessing: Preprocessing = NEUROBENCH
    decoders: dict[str, dict] = field(default_factory=dict)
    device: str | None = None
    max_gap_s: float = DEFAULT_MAX_GAP_S

    def decoder(self, name: str, source: str = "config") -> Decoder:
        """Build decoder ``name`` with its configured parameters, the experiment's seed and device."""
        params = dict(self.decoders.get(name, {}))
        if "seed" in DECODERS[name].param_names():
            params["seed"] = self.seed
        if self.device is not None and "device" in DECODERS[name].param_names():
            params["device"] = self.device
        return make_decoder(name, source=source, **params)


# The file's top level sets the seed and the decoders, and its [data] table the preprocessing and
# max_gap_s, which is kept apart from the preprocessing: a checkpoint stores the preprocessing, and
# a recording's quality is checked whatever the decoder learned from. The device comes only from
# the command line. The decoders' settings are checked by each decoder.
TOP_SCHEMA = {
    **dataclass_schema(ExperimentConfig, {"seed": SEED}, exclude=("preprocessing", "device", "max_gap_s")),
    "data": Field(dict),
}
DATA_SCHEMA = {
    **PREPROCESSING_SCHEMA,
    **dataclass_schema(
        ExperimentConfig,
        {"max_gap_s": Rule(lambda g: g > 0, "a positive number of seconds")},
        exclude=("seed", "preprocessing", "decoders", "device"),
    ),
}


def load_config(
    path: str | Path | None, seed: int | None = None, device: str | None = None, inputs: Iterable[str | Path] = ()
) -> ExperimentConfig:
    """Read an experiment config; unknown keys are errors (a typo must not pass silently).

    Args:
        path: a TOML file, or None for the defaults.
        seed: overrides the file's seed when given.
        device: overrides the device of every decoder that has one (``--device``) when given.
        inputs: the command's other input files: a path the config sets for a decoder to write
            (``progress_file``) is checked against them, the config and what is there already
            (:func:`snn_core.outputs.check_output`).

    Raises:
        InputError: on an unreadable file, an unknown key or decoder, a decoder parameter typo,
            or a ``device`` this machine cannot train on.
    """
    if seed is not None and not (isinstance(seed, int) and 0 <= seed <= SEED_MAX):
        raise InputError("command line", "--seed", f"an integer in [0, {SEED_MAX}], got {seed!r}")
    if device is not None:
        choose_device(device, "command line", "--device")  # before any data is read
    raw = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    check_section(source, "", raw, TOP_SCHEMA)
    data = dict(check_section(source, "data", raw.get("data", {}), DATA_SCHEMA))
    max_gap_s = float(data.pop("max_gap_s", DEFAULT_MAX_GAP_S))
    decoders = raw.get("decoders", {})
    config = ExperimentConfig(
        seed=int(seed if seed is not None else raw.get("seed", 0)),
        preprocessing=Preprocessing.from_dict(data, source, "data"),
        decoders=decoders,
        device=device,
        max_gap_s=max_gap_s,
    )
    for name, params in decoders.items():
        if name not in DECODERS:
            raise InputError(source, f"decoders.{name}", f"a decoder name: {', '.join(DECODERS)}")
        if not isinstance(params, dict):
            raise InputError(source, f"decoders.{name}", f"a table of the {name} decoder's parameters, not {params!r}")
        # parameter typos and bad values fail now, not after an hour of training another decoder
        try:
            config.decoder(name, source).check_params()
        except InputError as err:
            if err.field not in decoders[name]:
                raise
            raise InputError(source, f"decoders.{name}.{err.field}", err.expected) from None
        if params.get("progress_file"):
            field_name = f"decoders.{name}.progress_file"
            check_output(params["progress_file"], field_name, [*inputs, path], kind=PROGRESS, source=source)
    return config


def parse_decoder_names(text: str, option: str = "--decoders") -> list[str]:
    """``"snn,kalman"`` -> ``["snn", "kalman"]``, each checked against the registry.

    ``option`` is the command-line option the text came from, named in errors.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(option, "names", f"a comma-separated list from {', '.join(DECODERS)}")
    for name in names:
        if name not in DECODERS:
            raise InputError(option, name, f"a decoder name: {', '.join(DECODERS)}")
    return names


@dataclass
class DecoderResult:
    """One row of a report: how well one decoder decoded one session, and what it cost."""

    session: str
    decoder: str
    r2: float
    r2_x: float
    r2_y: float
    correlation: float
    rmse_mm_s: float
    fit_seconds: float
    bin_width: float
    cost: dict
    test_velocity: np.ndarray = field(repr=False)
    test_prediction: np.ndarray = field(repr=False)

    def row(self) -> dict:
        """The JSON row: the report contract's keys first, then the extras."""
        return {
            "session": self.session,
            "decoder": self.decoder,
            "r2": self.r2,
            "r2_x": self.r2_x,
            "r2_y": self.r2_y,
            **self.cost,
            "correlation": self.correlation,
            "rmse_mm_s": self.rmse_mm_s,
            "fit_seconds": self.fit_seconds,
        }


def evaluate_decoder(decoder: Decoder, session: PreparedSession, name: str) -> DecoderResult:
    """Fit on train (+ val), decode test from the reset state, score and cost it."""
    start = time.perf_counter()
    decoder.fit(*session.split("train"), *session.split("val"))
    fit_seconds = time.perf_counter() - start
    X_test, y_test = session.split("test")
    prediction = decoder.predict(X_test)
    r2_x, r2_y = (float(v) for v in r2_per_axis(y_test, prediction))
    return DecoderResult(
        session=name,
        decoder=decoder.name,
        r2=(r2_x + r2_y) / 2,
        r2_x=r2_x,
        r2_y=r2_y,
        correlation=correlation(y_test, prediction),
        rmse_mm_s=rmse(y_test, prediction),
        fit_seconds=fit_seconds,
        bin_width=session.bin_width,
        cost=decoder_cost(decoder, X_test).to_dict(),
        test_velocity=y_test,
        test_prediction=prediction,
    )


def read_decodable(path: str | Path, config: ExperimentConfig) -> Recording:
    """Read a recording file and refuse it if it cannot be decoded honestly.

    Raises:
        InputError: an unreadable file, or the first :mod:`bmi_decoder.quality` finding.
    """
    return require_decodable(read_recording(path), config.max_gap_s)


def evaluate_file(path: str | Path, names: list[str], config: ExperimentConfig, progress=print) -> list[DecoderResult]:
    """Every decoder in ``names`` on one recording file (refused if :func:`read_decodable` refuses it)."""
    session = prepare_session(read_decodable(path, config), config.preprocessing)
    results = []
    for name in names:
        decoder = config.decoder(name)
        result = evaluate_decoder(decoder, session, Path(path).stem)
        progress(f"{result.session}  {name:7s} R2 {result.r2:.3f}  ({result.fit_seconds:.0f} s to fit)")
        results.append(result)
    return results
