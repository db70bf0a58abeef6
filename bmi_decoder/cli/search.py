"""``bmi-decoder search``: search the SNN decoder's skip topology for the best validation R2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmi_decoder.cli._arguments import add_device_argument
from snn_core.cli import add_strategy_arguments, checked_search, strategy_from_args
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.names import PRUNERS, SAMPLER_NAMES
from snn_core.outputs import CHECKPOINT, JSON, PNG, check_output

DESCRIPTION = """\
Search the skip topology of the SNN decoder (one block of --layers LIF layers: which entries of
its adjacency matrix carry a skip, and of which type, DSC or ASC) with Optuna, maximising the
validation R2 of the NeuroBench split. The test split is scored once, at the end, for the best
topology only. Layer widths (hidden; default 128 per layer, as in the SNN decoder) and every other
SNN setting come from the config's [decoders.snn] table.
Trials are stored in --storage (default: a SQLite file DIR/search.db; a PostgreSQL or MySQL URL
lets workers on several machines share one study): rerunning the same command resumes the search,
keeping the completed trials; another recording (by content, not file name) or other settings
are refused. Ctrl-C stops it with exit status 130; rerun to resume. Writes DIR/search.json (every trial, the best topology, its test
R2) and DIR/best.pt, the best decoder, a checkpoint that `bmi-decoder replay` reads.
Every trial reports its validation R2 after each epoch: --pruner sha or hyperband stops poor trials
early (recorded as pruned). --workers K runs K processes on the study; workers on other machines
join it with the same command and a shared --storage. --objectives score,energy (or score,synops)
searches for the Pareto front of R2 against the decoder's cost per 4 ms step on the validation
split, listed in search.json and drawn in DIR/search_pareto.png.
Strategies: --strategy exhaustive trains every topology of the block (or the --topologies
given) --seeds K times each as one population (a member equals the same decoder fitted alone)
and picks the best mean validation R2 over the seeds; --strategy zero-cost ranks every topology
untrained by a training-free score (--proxy hamming: SNASNet's sparsity-aware Hamming score of
the LIF spike patterns; naswot: NASWOT on the ANN twin), then trains the --top K the same way.
Both record every trained topology (its per-seed R2) as a trial of their own study
(skip-search-exhaustive, skip-search-zero-cost), resume after Ctrl-C (finished topologies are
kept, an interrupted population resumes at its last epoch), and report their wall time; the
test R2 is the winner's mean over its seeds. --sampler, --trials, --pruner, --workers and
--objectives belong to the sampler strategy."""

EPILOG = """\
examples:
  bmi-decoder search session.mat --trials 20 --out runs/search
  bmi-decoder search session.mat --sampler random --out runs/search-random   # the baseline
  bmi-decoder search session.mat --storage postgresql://user:pw@host/db --study indy   # one per machine
  bmi-decoder search session.mat --trials 40 --pruner hyperband --workers 2
  bmi-decoder search session.mat --objectives score,energy --sampler nsga2 --out runs/pareto
  bmi-decoder search session.mat --strategy exhaustive --seeds 3 --out runs/search
  bmi-decoder search session.mat --strategy zero-cost --top 5 --proxy hamming --out runs/search
  bmi-decoder search session.mat --strategy exhaustive --topologies 3-000,3-111,3-222"""


SEARCH_FILES = {"search.json": JSON, "best.pt": CHECKPOINT, "search_pareto.png": PNG}
"""What a search writes into --out (its SQLite storage aside)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search the SNN decoder's skip topology (Optuna)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="recording file (.mat or .nwb)")
    parser.add_argument("--sampler", help=f"one of {', '.join(SAMPLER_NAMES)} (default tpe; random is the baseline)")
    parser.add_argument("--trials", type=int, help="finished (completed or pruned) trials the study should hold (default 20)")
    parser.add_argument("--pruner", help=f"one of {', '.join(PRUNERS)} (default none; sha: successive halving)")
    parser.add_argument("--workers", type=int, metavar="K", help="processes on this machine (default 1)")
    parser.add_argument("--objectives", help="score, or score,energy or score,synops for a Pareto front (default score)")
    parser.add_argument("--layers", type=int, help="layers of the block (default: the length of hidden, else 3)")
    parser.add_argument("--storage", metavar="URL", help="Optuna RDB URL (default sqlite:///DIR/search.db)")
    parser.add_argument(
        "--study", metavar="NAME", help="study name in the storage (default skip-search, or skip-search-STRATEGY)"
    )
    parser.add_argument("--config", type=Path, help="TOML experiment config (see configs/bmi_*.toml)")
    parser.add_argument("--seed", type=seed_argument, help="seed of the sampler and of every fit (overrides the config's)")
    add_device_argument(parser)
    parser.add_argument(
        "--out", type=Path, default=Path("runs/search"), metavar="DIR", help="output folder (default runs/search)"
    )
    add_strategy_arguments(parser, "validation R2")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import optuna

    from bmi_decoder.experiment import load_config
    from bmi_decoder.search import search_topology
    from snn_core.search import SearchRequest, parse_objectives, trial_printer

    check_output(args.out, "--out", [args.file, args.config], folder=True, contents=SEARCH_FILES)
    given = {"trials": args.trials, "pruner": args.pruner, "workers": args.workers, "objectives": args.objectives}
    strategy, sampler = strategy_from_args(args, given)
    request = checked_search(
        SearchRequest(
            sampler=sampler or "tpe",
            trials=20 if args.trials is None else args.trials,
            pruner=args.pruner or "none",
            objectives=parse_objectives(args.objectives or "score"),
            workers=1 if args.workers is None else args.workers,
            storage=args.storage,
            study=args.study,
        )
    )
    objectives = request.objectives
    if args.layers is not None and args.layers < 2:
        raise InputError("command line", "--layers", f"at least 2 (one layer has no skip to search), got {args.layers}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed below
    result = search_topology(
        args.file,
        load_config(args.config, args.seed, args.device, inputs=[args.file]),
        request,
        layers=args.layers,
        out=args.out,
        config_source=str(args.config),
        log=lambda line: print(line, file=sys.stderr, flush=True),
        callbacks=[trial_printer("validation R2" if len(objectives) == 1 else f"validation R2, {objectives[1]}")],
        strategy=strategy,
    )
    if strategy is None:
        scores = f"validation R2 {result.validation_r2:.3f}, test R2 {result.test_r2:.3f}"
    else:
        seeds = len(result.strategy["seeds"])
        scores = f"mean over {seeds} seed(s): validation R2 {result.validation_r2:.3f}, test R2 {result.test_r2:.3f}"
    print(f"best topology {result.best_topology}: {scores}; {result.sampler} wall time {result.wall_s:.1f} s")
    for other in (result.strategy or {}).get("samplers", []):  # the samplers' studies on the same data, beside it
        print(
            f"  beside study {other['study']}: {other['trials']} trials, best validation R2 {other['best_score']:.3f} "
            f"({other['best_topology']}), wall time {other['wall_s']:.1f} s"
        )
    for point in result.pareto_front:
        print(
            f"Pareto front: trial {point['trial']:3d}  {point['topology']}  R2 {point['validation_r2']:.3f}  {objectives[1]} {point['cost']:.4g}"
        )
    print(f"report: {', '.join(map(str, result.paths[:1] + result.paths[2:]))}, decoder: {result.paths[1]}", file=sys.stderr)
    return 0
