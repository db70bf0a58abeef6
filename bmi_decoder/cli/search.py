"""``bmi-decoder search``: search the SNN decoder's skip topology for the best validation R2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

from bmi_decoder.checkpoint import save_decoder
from bmi_decoder.cli._arguments import add_device_argument
from bmi_decoder.decoders import Decoder, SNNDecoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.experiment import load_config
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import prepare_session
from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.search import SAMPLERS, best_so_far, open_storage, run_search
from snn_core.topology import SkipTopology, search_space_size

DESCRIPTION = """\
Search the skip topology of the SNN decoder (one block of --layers LIF layers: which entries of
its adjacency matrix carry a skip, and of which type, DSC or ASC) with Optuna, maximising the
validation R2 of the NeuroBench split. The test split is scored once, at the end, for the best
topology only. Layer widths (hidden; default 96 per layer) and every other SNN setting come from
the config's [decoders.snn] table.
Trials are stored in --storage (default: a SQLite file DIR/search.db; a PostgreSQL or MySQL URL
lets workers on several machines share one study): rerunning the same command resumes the search,
keeping the completed trials. Writes DIR/search.json (every trial, the best topology, its test
R2) and DIR/best.pt, the best decoder, a checkpoint that `bmi-decoder replay` reads."""

# SNN parameters the search sets itself, or that do not change a fit's result (the device only
# changes rounding: workers with and without a GPU share one study)
SEARCH_SET = ("topology", "hidden", "progress", "progress_file", "device")

EPILOG = """\
examples:
  bmi-decoder search session.mat --trials 20 --out runs/search
  bmi-decoder search session.mat --sampler random --out runs/search-random   # the baseline
  bmi-decoder search session.mat --storage postgresql://user:pw@host/db --study indy   # one per worker"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search", help="search the SNN decoder's skip topology (Optuna)", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="recording file (.mat or .nwb)")
    parser.add_argument("--sampler", default="tpe", help=f"one of {', '.join(SAMPLERS)} (default tpe; random is the baseline)")
    parser.add_argument("--trials", type=int, default=20, help="completed trials the study should hold (default 20)")
    parser.add_argument("--layers", type=int, help="layers of the block (default: the length of hidden, else 3)")
    parser.add_argument("--storage", metavar="URL", help="Optuna RDB URL (default sqlite:///DIR/search.db)")
    parser.add_argument("--study", default="skip-search", metavar="NAME", help="study name in the storage (default skip-search)")
    parser.add_argument("--config", type=Path, help="TOML experiment config (see configs/bmi_*.toml)")
    parser.add_argument("--seed", type=int, help="seed of the sampler and of every fit (overrides the config's)")
    add_device_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("runs/search"), metavar="DIR", help="output folder (default runs/search)")
    parser.set_defaults(func=run)


def block_widths(config_hidden: list[int] | None, layers: int | None, source: str) -> tuple[int, ...]:
    """The block's layer widths: the config's ``hidden``, or the decoder's default width per layer."""
    if config_hidden is None:
        width = SNNDecoder().hidden[0]
        return (width,) * (layers if layers is not None else len(SNNDecoder().hidden))
    if not isinstance(config_hidden, list) or not config_hidden:
        raise InputError(source, "decoders.snn.hidden", f"a list of layer widths, got {config_hidden!r}")
    if layers is not None and layers != len(config_hidden):
        raise InputError(source, "decoders.snn.hidden", f"{layers} widths to match --layers {layers}, got {config_hidden}")
    return tuple(config_hidden)


def check_study(storage: optuna.storages.BaseStorage, name: str, objective: dict) -> None:
    """Tie a study to its session and settings: a rerun resumes it only with the same ones.

    Raises:
        InputError: when the stored study was run on another session or with other settings,
            whose validation R2 values cannot be compared with this run's.
    """
    objective = json.loads(json.dumps(objective))  # as stored: tuples become lists
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    stored = study.user_attrs.get("objective")
    if stored is None:
        study.set_user_attr("objective", objective)
    elif stored != objective:
        differ = ", ".join(k for k in objective if stored.get(k) != objective[k])
        raise InputError(f"study {name!r}", differ, "the same as stored for a resumed study (or a new --study / --out)")


def print_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """One line per finished trial: its topology, validation R2 and the best so far."""
    topology = trial.user_attrs.get("topology", "?")
    if trial.state != TrialState.COMPLETE:
        print(f"trial {trial.number:3d}  {topology}  {trial.state.name.lower()}", flush=True)
        return
    repeat = f"  (as trial {trial.user_attrs['repeat_of']})" if "repeat_of" in trial.user_attrs else ""
    best = study.best_trial
    print(
        f"trial {trial.number:3d}  {topology}  validation R2 {trial.value:.3f}{repeat}  "
        f"best {best.value:.3f} ({best.user_attrs['topology']})", flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if args.sampler not in SAMPLERS:
        raise InputError("command line", "--sampler", f"one of {', '.join(SAMPLERS)}, got {args.sampler!r}")
    if args.trials < 1:
        raise InputError("command line", "--trials", f"at least 1, got {args.trials}")
    if args.layers is not None and args.layers < 2:
        raise InputError("command line", "--layers", f"at least 2 (one layer has no skip to search), got {args.layers}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed below
    config = load_config(args.config, args.seed, args.device)
    hidden = config.decoders.get("snn", {}).get("hidden")
    widths = block_widths(hidden, args.layers, str(args.config))
    recording = read_recording(args.file)
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.storage or f"sqlite:///{(args.out / 'search.db').resolve()}"
    storage = open_storage(url)  # a bad URL fails before any training
    snn_params = {k: v for k, v in config.decoder("snn").get_params().items() if k not in SEARCH_SET}
    snn_params["hidden"] = list(widths)
    check_study(storage, args.study, {"session": args.file.name, "data": config.data, "snn": snn_params})
    session = prepare_session(recording, **config.data)
    X_val, y_val = session.split("val")
    best: dict = {}  # the best decoder fitted in this run, kept to spare a refit of the winner

    def fit(topology: SkipTopology) -> Decoder:
        decoder = config.decoder("snn").set_params(hidden=list(widths), topology=str(topology), progress=False)
        return decoder.fit(*session.split("train"), X_val, y_val)

    def objective(topology: SkipTopology) -> float:
        decoder = fit(topology)
        r2 = r2_score(y_val, decoder.predict(X_val))
        if not best or r2 > best["r2"]:
            best.update(r2=r2, topology=str(topology), decoder=decoder)
        return r2

    print(
        f"searching {search_space_size([len(widths)]):,} topologies of a {len(widths)}-layer block "
        f"(widths {list(widths)}) with {args.sampler}, {args.trials} trials, storage {_shown(url)}", file=sys.stderr,
    )
    study = run_search(
        objective, [len(widths)], args.sampler, args.trials, config.seed, storage, args.study, callbacks=[print_trial]
    )
    if not study.get_trials(states=(TrialState.COMPLETE,)):
        print(f"bmi-decoder search: no trial of study {args.study!r} completed (training diverged?)", file=sys.stderr)
        return 1
    winner = study.best_trial.user_attrs["topology"]
    decoder = best["decoder"] if best.get("topology") == winner else fit(SkipTopology.from_string(winner))
    X_test, y_test = session.split("test")
    test_r2 = r2_score(y_test, decoder.predict(X_test))
    save_decoder(decoder, args.out / "best.pt", {"session": str(args.file), "data": config.data, "seed": config.seed})
    result = {
        "session": str(args.file),
        "study": args.study,
        "storage": _shown(url),
        "sampler": args.sampler,
        "seed": config.seed,
        "layers": len(widths),
        "hidden": list(widths),
        "search_space_size": search_space_size([len(widths)]),
        "trials": [
            {
                "number": t.number,
                "topology": t.user_attrs.get("topology"),
                "state": t.state.name.lower(),
                "validation_r2": t.value,
            }
            for t in study.trials
        ],
        "best_so_far": best_so_far(study),
        "best": {"trial": study.best_trial.number, "topology": winner, "validation_r2": study.best_value, "test_r2": test_r2},
    }
    write_text_atomic(args.out / "search.json", json.dumps(result, indent=2) + "\n")
    print(f"best topology {winner}: validation R2 {study.best_value:.3f}, test R2 {test_r2:.3f}")
    print(f"report: {args.out / 'search.json'}, decoder: {args.out / 'best.pt'}", file=sys.stderr)
    return 0


def _shown(url: str) -> str:
    """The storage URL with any password masked, for printing and the report."""
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
