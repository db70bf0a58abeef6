"""``vision-bench search``: search the skip topology of the vision SNN (the paper's claims 3 and 4)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snn_core.cli import add_strategy_arguments, checked_search, strategy_from_args
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.names import PRUNERS, SAMPLER_NAMES, SAMPLERS
from snn_core.outputs import JSON, MARKDOWN, PNG, check_output
from vision_bench.cli._arguments import add_dataset_arguments, add_device_argument, with_device
from vision_bench.names import VALIDATION_SHARE

DESCRIPTION = f"""\
Search the skip connections of the vision SNN's blocks (position, type DSC or ASC, and number:
every entry of each block's adjacency matrix; the stem stays `1-`) with Optuna, maximising
validation accuracy, to test two claims of Benmeziane et al. (2023):
  3  searching adapts an ANN topology to an SNN with an accuracy gain (paper: about +8%)
  4  Bayesian optimisation (TPE, GP) beats random search, in fewer trials
The validation set is the last {VALIDATION_SHARE:.0%} of each class of the training split; the test
split is scored only for the search's start and its best topology. The start is the ANN-derived
topology: of the config's [analysis] variants, the one whose ANN twin scores best on validation;
every study tries it first. `--sampler all` runs TPE, GP and random search with the same budget
(one study each in one storage), compares them trial by trial and states a verdict on claim 4.

Trials are stored in --storage (default sqlite:///OUT/search.db; a PostgreSQL or MySQL URL lets
workers on several machines share the studies): rerunning the command resumes, and a topology
already trained under the same settings is not trained again, whichever sampler asks for it.
Ctrl-C stops it with exit status 130; rerun to resume. Every trial reports its validation accuracy
after each epoch; --pruner sha or hyperband stops poor trials early (recorded as pruned, counted
among the --trials).
Writes OUT/search.json, OUT/search.md and OUT/search_convergence.png (atomically).
Model and training come from the config (see `vision-bench analyze --help`); its [train] seed
seeds every fit, --seed the samplers.

Strategies: --strategy exhaustive trains every topology of the blocks (or the --topologies given)
--seeds K times each as one population (grouped convolutions; a member equals the same model
trained alone), seeds [train] seed and the next ones, and picks the best mean validation
accuracy; --strategy zero-cost ranks every topology untrained by a training-free score (--proxy
hamming: SNASNet's sparsity-aware Hamming score of the LIF spike patterns; naswot: NASWOT on the
ANN twin), then trains the --top K the same way. Each runs in its own study
(vision-search-exhaustive, vision-search-zero-cost) with every trained topology's per-seed
accuracies, resumes after Ctrl-C, and appears in the samplers' table with its wall time; the
best's test accuracy is the mean over its seeds. The space grows fast (two blocks of 4 layers:
531,441 topologies): give --topologies, or a config of one small block. --sampler, --trials and
--pruner belong to the sampler strategy."""

EPILOG = """\
exit status: 0 report written; 1 no trial completed; 2 bad input (missing root, bad config,
unknown sampler, a storage that does not open or holds a study run with other settings).

examples:
  vision-bench search --dataset synthetic --root datasets/synthetic_dvs --config configs/vision_search.toml --sampler all --trials 8 --threads 1
  vision-bench search --dataset cifar10dvs --root ~/data --config configs/vision_cifar10dvs.toml --trials 30 --out runs/c10-search
  vision-bench search --dataset synthetic --root datasets/synthetic_dvs --config configs/vision_search.toml --strategy exhaustive --seeds 3
  vision-bench search --dataset synthetic --root datasets/synthetic_dvs --config configs/vision_search.toml --strategy zero-cost --top 4"""


SEARCH_FILES = {"search.json": JSON, "search.md": MARKDOWN, "search_convergence.png": PNG}
"""What a search writes into --out (its SQLite storage aside)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search the SNN's skip topology (Optuna TPE/GP/random); claims 3 and 4",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--config", type=Path, metavar="TOML", help="configuration (default: built-in defaults; see configs/vision_search.toml)"
    )
    parser.add_argument("--sampler", help=f"one of {', '.join(SAMPLERS)}, or all (default tpe; random is the baseline)")
    parser.add_argument("--trials", type=int, metavar="N", help="finished (completed or pruned) trials per sampler (default 20)")
    parser.add_argument("--pruner", help=f"one of {', '.join(PRUNERS)} (default none; sha: successive halving)")
    parser.add_argument("--storage", metavar="URL", help="Optuna RDB URL (default sqlite:///OUT/search.db)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default runs/search-DATASET)")
    parser.add_argument("--seed", type=seed_argument, default=0, metavar="K", help="seed of the samplers (default 0)")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for training (default: torch's); 1 suits small models on shared cores",
    )
    add_device_argument(parser)
    add_strategy_arguments(parser, "validation accuracy")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import optuna
    import torch

    from snn_core.search import SearchRequest, trial_printer
    from vision_bench.config import AnalysisConfig, load_config
    from vision_bench.search import run_vision_search
    from vision_bench.search_report import samplers_table
    from vision_bench.verdicts import claims_table

    strategy, sampler = strategy_from_args(args, {"trials": args.trials, "pruner": args.pruner})
    sampler = sampler or "tpe"
    if sampler not in (*SAMPLER_NAMES, "all"):
        raise InputError("command line", "--sampler", f"one of {', '.join(SAMPLER_NAMES)} or all, got {sampler!r}")
    samplers = [] if strategy is not None else list(SAMPLERS) if sampler == "all" else [sampler]
    request = checked_search(
        SearchRequest(
            sampler=samplers[0] if samplers else "tpe",
            trials=20 if args.trials is None else args.trials,
            seed=args.seed,
            pruner=args.pruner or "none",
            storage=args.storage,
        )
    )
    if args.threads is not None:
        if args.threads < 1:
            raise InputError("command line", "--threads", f"at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = with_device(load_config(args.config) if args.config is not None else AnalysisConfig(), args.device)
    if strategy is not None:  # a bad --topologies or --top fails before any data is read
        strategy.candidates([config.model.depth] * len(config.model.widths))
    out = args.out or Path("runs") / f"search-{args.dataset}"
    check_output(out, "--out", [args.config], folder=True, contents=SEARCH_FILES)
    if not args.root.is_dir():  # before OUT is made: a mistyped root leaves nothing behind
        raise InputError(args.root, "root", "an existing folder holding the data set")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed below
    result = run_vision_search(
        args.dataset,
        args.root,
        config,
        request,
        samplers=samplers,
        progress=sys.stderr.isatty(),
        log=lambda line: print(line, file=sys.stderr, flush=True),
        out=out,
        callbacks=[trial_printer("validation acc", label=lambda study: f"{study.study_name.removeprefix('vision-search-'):6s} ")],
        strategy=strategy,
    )
    print(samplers_table(result.to_dict()), claims_table(result.claims), sep="\n\n")
    print(
        f"\nreport: {result.paths[1]} (and search.json, search_convergence.png); runtime {result.runtime_s:.0f} s",
        file=sys.stderr,
    )
    return 0
