"""Whether a table's budget can rank topologies, measured on a sample before the whole table.

A topology table (benchmarks/topology_table.py) costs every topology times every seed: 2,187 fits
for the vision task at three seeds, about 9 hours of one core here. Its ranking is only worth that
when topologies differ more than seeds do (issue 19 asks a split-half reliability of at least 0.6
for vision and 0.8 for BMI). This benchmark fits a random sample of topologies at every seed of a
budget, and of each variant of it, through the table's own trainer, and reports:

- the variance of a fit's score split into the part between topologies and the part between seeds
  of one topology (:func:`table_rows.variance_components`);
- the split-half reliability on the sample (:func:`table_rows.split_half`);
- the single-seed reliability ``r1`` (between / (between + seeds)), and from it the split-half
  reliability a full table would reach at its seeds, and the seeds it would need for the target,
  by Spearman-Brown (a mean over k seeds has reliability ``k r1 / (1 + (k - 1) r1)``);
- the seconds per fit, so the table's cost at those seeds can be read off.

The sample's fits are kept as small tables (``runs/budget_pilot/``), so an interrupted run resumes.

    python benchmarks/budget_pilot.py vision --variant epochs2 train.epochs=2
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
from results_json import add_json_argument, check_json, count, run_facts, write_json
from table_rows import TARGETS, reliability, split_half
from topology_table import BUDGETS, all_topologies, build_table

from snn_core.errors import InputError


def with_settings(budget: dict, settings: list[str]) -> dict:
    """``budget`` with each ``KEY.PATH=VALUE`` of ``settings`` set (VALUE read as JSON, else text).

    Raises:
        InputError: a setting without ``=``, or a path that is not in the budget.
    """
    budget = copy.deepcopy(budget)
    for setting in settings:
        path, sep, text = setting.partition("=")
        keys = path.split(".")
        node = budget
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not sep or not isinstance(node, dict) or keys[-1] not in node:
            raise InputError("command line", "--variant", f"KEY.PATH=VALUE with a path of the budget, got {setting!r}")
        try:
            node[keys[-1]] = json.loads(text)
        except json.JSONDecodeError:
            node[keys[-1]] = text
    return budget


def pilot(task: str, label: str, budget: dict, topologies: list[str], out: Path) -> dict:
    """Fit the sample at every seed of ``budget`` (resuming a table at ``out``) and summarise it."""
    rows = build_table(task, out, budget=budget, topologies=topologies, command=[f"budget_pilot {label}"])
    rows = {k: r for k, r in rows.items() if k[0] in topologies}
    seeds, target = budget["seeds"], TARGETS[task]
    summary = {"seeds": seeds, "fits": len(rows), "seconds_per_fit": float(np.mean([r.seconds for r in rows.values()]))}
    for field in ("val_score", "test_score"):
        scores = np.array([[getattr(rows[(t, s)], field) for s in seeds] for t in topologies])
        summary[field] = {
            "mean": float(scores.mean()),
            **reliability(scores, target),
            "split_half_sample": split_half(rows, field)["mean"],
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TARGETS))
    parser.add_argument("--topologies", type=count, default=36, help="topologies in the random sample (default 36)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seeds the sample of topologies (default 0)")
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar=("NAME", "KEY.PATH=VALUE"),
        help="a variant of the table's budget, e.g. 'epochs2 train.epochs=2' (repeatable); the budget itself always runs",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/budget_pilot"), help="folder of the sample's fits")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"), help="simulated data folder")
    parser.add_argument("--threads", type=count, default=1, help="torch CPU threads (default 1)")
    add_json_argument(parser, "budget_pilot")
    args = parser.parse_args(argv)
    if not check_json(args.json, "budget_pilot"):
        return 2
    torch.set_num_threads(args.threads)
    facts = run_facts("budget_pilot.py", argv)
    sample = random.Random(args.sample_seed).sample(all_topologies(), min(args.topologies, len(all_topologies())))
    variants = [("table", []), *((name, settings) for name, *settings in args.variant)]
    if len({name for name, _ in variants}) < len(variants):
        parser.error("--variant: every variant needs a name of its own, other than 'table'")
    try:
        budgets = {name: with_settings(BUDGETS[args.task], settings) for name, settings in variants}
        report = {
            name: {"settings": settings, **pilot(args.task, name, budgets[name], sample, args.out / f"{args.task}_{name}.csv")}
            for name, settings in variants
        }
    except InputError as err:
        print(f"budget_pilot: error: {err}", file=sys.stderr)
        return 2
    write_json(
        args.json,
        facts,
        {"task": args.task, "target": TARGETS[args.task], "topologies": len(sample), "variants": report},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
