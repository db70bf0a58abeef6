"""The main job's table as a fresh clone prints it: ``bmi-decoder demo`` run end to end.

Runs ``bmi-decoder demo`` (the cached simulated session, every decoder at the settings of
``configs/bmi_demo.toml``) into a temporary folder and keeps its report's rows, with the command,
in ``--json``; ``benchmarks/results_pages.py`` renders them into the page of the same name and the
README's example table. R2 and costs do not depend on the machine's load; the fit times in the
rows do, and are not rendered.

    python benchmarks/demo_table.py [--device cpu] [--json docs/results/demo.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from results_json import add_json_argument, check_json, run_facts, write_json

from bmi_decoder.cli import main as bmi_decoder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="the demo's --device (default cpu, as on a machine without a GPU)")
    add_json_argument(parser, "demo")
    args = parser.parse_args(argv)
    if not check_json(args.json, "demo_table"):
        return 2
    facts = run_facts("demo_table.py", argv)
    demo = ["demo", "--device", args.device]
    with tempfile.TemporaryDirectory() as folder:
        status = bmi_decoder([*demo, "--out", folder])
        if status:
            return status
        report = json.loads((Path(folder) / "report.json").read_text())
    rows = report["results"]
    sessions = sorted({Path(f).name for f in report["files"]})
    write_json(
        args.json,
        facts,
        {"demo": " ".join(["bmi-decoder", *demo]), "sessions": sessions, "energy_note": report["energy_note"], "results": rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
