"""``bmi-decoder train``: fit one decoder on a session and save a checkpoint."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bmi_decoder.cli._arguments import add_device_argument
from bmi_decoder.names import DECODER_NAMES
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.outputs import CHECKPOINT, PROGRESS, check_output

DESCRIPTION = """\
Fit one decoder on the train split of a session (early stopping / tuning on the validation split)
and save it to CKPT: its name, parameters, learned weights and the preprocessing config, enough to
rebuild it for decoding without this training run. Prints the validation and test R2.
Neural-network decoders save their training state to CKPT.progress after every epoch: if the run is
interrupted, the same command resumes from the last finished epoch. A progress file of another
session, decoder or config is refused (exit status 2); --restart discards it and trains afresh."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="fit one decoder and save a checkpoint", description=DESCRIPTION)
    parser.add_argument("file", type=Path, metavar="FILE", help="recording file (.mat or .nwb)")
    parser.add_argument("--decoder", required=True, help=f"one of {', '.join(DECODER_NAMES)}")
    parser.add_argument("--config", type=Path, help="TOML experiment config (see configs/bmi_*.toml)")
    parser.add_argument("--out", type=Path, required=True, metavar="CKPT", help="checkpoint file to write")
    parser.add_argument("--seed", type=seed_argument, help="seed of every random choice (overrides the config's)")
    parser.add_argument(
        "--restart", action="store_true", help="discard CKPT.progress of an interrupted run and train from the first epoch"
    )
    add_device_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.checkpoint import save_decoder
    from bmi_decoder.decoders.snn_auto import POPULATION_SUFFIX
    from bmi_decoder.evaluation import r2_score
    from bmi_decoder.experiment import load_config, parse_decoder_names, read_decodable
    from bmi_decoder.preprocess import prepare_session

    progress = Path(f"{args.out}.progress")
    # an auto fit keeps its population's progress beside it, one file per group
    population = Path(f"{progress}{POPULATION_SUFFIX}")
    check_output(args.out, "--out", [args.file, args.config], kind=CHECKPOINT)
    check_output(progress, "--out", [args.file, args.config], kind=PROGRESS)  # written, then deleted
    names = parse_decoder_names(args.decoder, "--decoder")
    if len(names) != 1:
        raise InputError("--decoder", "names", f"one decoder name, got {args.decoder!r}")
    (name,) = names
    config = load_config(args.config, args.seed, args.device, inputs=[args.file])
    session = prepare_session(read_decodable(args.file, config), config.preprocessing)
    decoder = config.decoder(name)
    if "progress_file" in decoder.get_params():
        # rerunning the same command after an interruption resumes from the last epoch
        decoder.set_params(progress_file=str(progress))
        if args.restart:
            progress.unlink(missing_ok=True)
            shutil.rmtree(population, ignore_errors=True)
    decoder.fit(*session.split("train"), *session.split("val"))
    X_val, y_val = session.split("val")
    X_test, y_test = session.split("test")
    save_decoder(decoder, args.out, {"session": str(args.file), "seed": config.seed}, preprocessing=config.preprocessing)
    progress.unlink(missing_ok=True)
    shutil.rmtree(population, ignore_errors=True)
    print(f"validation R2 {r2_score(y_val, decoder.predict(X_val)):.3f}, test R2 {r2_score(y_test, decoder.predict(X_test)):.3f}")
    print(f"checkpoint: {args.out}", file=sys.stderr)
    return 0
