"""The JSON a benchmark writes for its results page (docs/results/NAME.json).

Each benchmark names its file with ``--json`` (checked before the run, so a wrong path fails in a
second, not after the run), records the command and the machine as it was when the run started,
and writes the report atomically; ``benchmarks/results_pages.py`` renders it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.outputs import JSON, check_output

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def add_json_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """``--json PATH``, by default docs/results/NAME.json of this checkout."""
    parser.add_argument(
        "--json", type=Path, default=RESULTS / f"{name}.json", help=f"results file (default docs/results/{name}.json)"
    )


def count(text: str) -> int:
    """argparse ``type`` of a count option (``--jobs``, ``--repeats``, ``--sessions``): an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def check_json(path: Path, prog: str) -> bool:
    """Whether ``path`` may be written; if not, one line on stderr naming why."""
    try:
        check_output(path, "--json", kind=JSON)
    except InputError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return False
    return True


def run_facts(script: str, argv: list[str] | None) -> dict:
    """The command (as typed from the repository root) and the machine at the start of the run.

    A timing taken beside other work says little, so the 1-minute load average and the CPUs this
    process may run on (``taskset``) are recorded with it.
    """
    args = sys.argv[1:] if argv is None else argv
    return {
        "command": shlex.join(["python", f"benchmarks/{script}", *args]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpus_allowed": len(os.sched_getaffinity(0)),
            "processor": platform.processor() or platform.machine(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
    }


def write_json(path: Path, facts: dict, report: dict) -> None:
    """``facts`` (from :func:`run_facts`) and the benchmark's ``report``, atomically."""
    write_text_atomic(path, json.dumps({**facts, **report}, indent=1) + "\n")
    print(f"wrote {path}")
