"""``bmi-decoder replay``: decode a recording as a live stream with a trained checkpoint."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from bmi_decoder.cli._arguments import MAX_SPEED, MIN_SPEED
from bmi_decoder.names import SPLITS
from snn_core.errors import InputError

if TYPE_CHECKING:
    from bmi_decoder.preprocess import PreparedSession

DESCRIPTION = """\
Replay a recording as a live stream: bins are released at real-time pace (4 ms apart at --speed 1)
and decoded one at a time by a checkpoint from `bmi-decoder train`, with the same preprocessing it
was trained with. Reports the decoding latency per bin (median, 99th percentile, max), missed
deadlines (latency above the bin width) and the R2 of the streamed velocity."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="decode a recording bin by bin at real-time pace", description=DESCRIPTION)
    parser.add_argument("checkpoint", type=Path, metavar="CKPT", help="checkpoint written by `bmi-decoder train`")
    parser.add_argument("file", type=Path, metavar="FILE", help="recording file (.mat or .nwb)")
    parser.add_argument("--split", default="test", choices=SPLITS, help="which part of the session to stream (default: test)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how much of it to stream (default: 30 s)")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 0 = as fast as possible (default: 1)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from bmi_decoder.checkpoint import load_decoder
    from bmi_decoder.evaluation import r2_score
    from bmi_decoder.io import read_recording
    from bmi_decoder.preprocess import prepare_session
    from bmi_decoder.replay import replay

    # checked before the checkpoint is read; NaN fails every comparison, so test finiteness first
    if not (args.speed == 0 or MIN_SPEED <= args.speed <= MAX_SPEED):  # NaN fails both
        raise InputError("command line", "--speed", f"0 or a number from {MIN_SPEED:g} to {MAX_SPEED:g}, got {args.speed}")
    if not math.isfinite(args.seconds) or args.seconds <= 0:
        raise InputError("command line", "--seconds", f"a finite number > 0, got {args.seconds}")
    # Streaming is one small step per 4 ms bin, latency-bound: the CPU beats a GPU kernel launch.
    decoder, meta = load_decoder(args.checkpoint, device="cpu")
    preprocessing = meta["preprocessing"]
    session = prepare_session(read_recording(args.file), preprocessing)
    check_features(session, decoder, args.file, preprocessing.mode)
    X, y = session.split(args.split)
    n = min(len(X), int(round(args.seconds / session.bin_width)))
    with tqdm(total=n, desc="replay", unit="bin", disable=args.json) as bar:
        result = replay(decoder, X[:n], session.bin_width, args.speed, on_step=lambda i, v: bar.update())
    summary = {"decoder": decoder.name, **result.summary(), "r2": r2_score(y[:n], result.predictions)}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:18s} {value:.4g}" if isinstance(value, float) else f"{key:18s} {value}")
    return 0


def check_features(session: PreparedSession, decoder: object, file: Path, mode: str) -> None:
    """Refuse, before streaming, a session whose feature columns differ from the checkpoint's."""
    trained = getattr(decoder, "n_features_in_", None)
    got = session.features.shape[1]
    if trained is None or got == trained:
        return
    what = "sorted units" if mode == "sorted" else "channels"
    raise InputError(file, what, f"{trained} {what} as the checkpoint was trained on, got {got}")
