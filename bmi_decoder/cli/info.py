"""``bmi-decoder info``: what a recording file holds, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bmi_decoder.names import DEFAULT_MAX_GAP_S

if TYPE_CHECKING:
    from bmi_decoder.io import RecordingFile

DESCRIPTION = f"""\
Summarise a reaching session (.mat v7.3 or .nwb): channels, units (non-empty cells, i.e. (channel,
unit) slots with at least one spike anywhere in the file), sorted units (those with unit >= 1;
unit 0 is the unsorted hash unit), duration and samples of the behaviour record, reaches (segments
between changes of target_pos), spikes inside and outside the behaviour window [t[0], t[-1]], and
finger_pos columns. The file is fully read and checked, so this also validates it. What would make
the decoding commands refuse it (a still cursor, a hole in t longer than the default [data] max_gap_s
of {DEFAULT_MAX_GAP_S:g} s, an irregular clock) is printed as "warning:" lines on stderr; the exit status stays 0."""

EPILOG = """\
--json prints one object with exactly these keys: channels, units, sorted_units, duration_s,
samples, reaches, spikes_in_window, spikes_outside_window, finger_columns, warnings (a list of
lines, empty for a recording the decoding commands accept).

examples:
  bmi-decoder info indy_20160630_01.mat
  bmi-decoder info session.nwb --json"""

LABELS = {
    "channels": "channels",
    "units": "units (non-empty cells)",
    "sorted_units": "sorted units (unit >= 1)",
    "duration_s": "duration (s)",
    "samples": "behaviour samples",
    "reaches": "reaches",
    "spikes_in_window": "spikes in behaviour window",
    "spikes_outside_window": "spikes outside window",
    "finger_columns": "finger_pos columns",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="summarise a recording file (channels, units, duration, reaches, spikes)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="recording (.mat or .nwb)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def summarize(stored: RecordingFile) -> dict[str, int | float | list[str]]:
    """The numbers ``info`` reports, keyed as in its ``--json`` output."""
    import numpy as np

    from bmi_decoder.kinematics import reach_starts
    from bmi_decoder.quality import check_recording

    rec, outside = stored.recording, stored.outside_spikes
    # A cell whose spikes all lie outside the window is still a unit of the file.
    channels = np.concatenate([rec.spike_channels, outside.channels]).astype(np.int64)
    units = np.concatenate([rec.spike_units, outside.units]).astype(np.int64)
    cells = np.unique(channels * rec.units_per_channel + units)
    return {
        "channels": rec.n_channels,
        "units": int(cells.size),
        "sorted_units": int(np.count_nonzero(cells % rec.units_per_channel >= 1)),
        "duration_s": round(rec.duration_s, 6),
        "samples": len(rec.t),
        "reaches": len(reach_starts(rec.target_pos)),
        "spikes_in_window": len(rec.spike_times),
        "spikes_outside_window": rec.spikes_outside_window,
        "finger_columns": int(rec.finger_pos.shape[1]),
        "warnings": [str(finding) for finding in check_recording(rec)],
    }


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.io import read_recording_file

    summary = summarize(read_recording_file(args.file))
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        print(args.file)
        for key, label in LABELS.items():
            value = summary[key]
            print(f"  {label:<28} {value:.3f}" if isinstance(value, float) else f"  {label:<28} {value}")
    return 0
