"""``bmi-decoder convert``: rewrite a recording in the other format (.mat v7.3 <-> NWB)."""

from __future__ import annotations

import argparse
from pathlib import Path

from snn_core.outputs import check_output

DESCRIPTION = """\
Convert a reaching session between the Zenodo MATLAB v7.3 layout (.mat) and NWB (.nwb); the
suffixes pick the formats. Everything a decoder uses is carried over exactly, and so are the
spikes outside the behaviour window (kept in the Units table), so converting back gives the same
recording. NWB input may be this project's export or the DANDI / Neural Latents layout.
Waveform snippets (wf) are not carried over."""

EPILOG = """\
examples:
  bmi-decoder convert indy_20160630_01.mat indy_20160630_01.nwb
  bmi-decoder convert session.nwb session.mat"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a recording between .mat (v7.3) and .nwb",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, metavar="IN", help="recording to read (.mat or .nwb)")
    parser.add_argument("out", type=Path, metavar="OUT", help="file to write (.mat or .nwb), replaced atomically")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.io import read_recording_file, recording_kind, write_recording

    check_output(args.out, "OUT", [args.source], kind=recording_kind(args.out))
    stored = read_recording_file(args.source)
    write_recording(stored.recording, args.out, outside_spikes=stored.outside_spikes)
    rec = stored.recording
    print(
        f"{args.source} -> {args.out}: {rec.n_channels} channels, {len(rec.spike_times)} spikes in the "
        f"behaviour window, {len(stored.outside_spikes.times)} outside"
    )
    return 0
