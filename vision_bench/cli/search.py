"""``vision-bench search``: search the skip topology of the vision SNN (the paper's claims 3 and 4)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import optuna
import sqlalchemy
import torch
from optuna.trial import FrozenTrial, TrialState

from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.errors import InputError
from snn_core.search import SAMPLERS
from vision_bench.claims import Claim, claims_table
from vision_bench.config import AnalysisConfig, load_config
from vision_bench.cli._arguments import add_dataset_arguments, add_device_argument, with_device
from vision_bench.search import VALIDATION_SHARE, NoTrialCompleted, run_vision_search

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
Writes OUT/search.json, OUT/search.md and OUT/search_convergence.png (atomically).
Model and training come from the config (see `vision-bench analyze --help`); its [train] seed
seeds every fit, --seed the samplers."""

EPILOG = """\
exit status: 0 report written; 1 no trial completed; 2 bad input (missing root, bad config,
unknown sampler, a storage that does not open or holds a study run with other settings).

examples:
  vision-bench search --dataset synthetic --root datasets/synthetic_dvs --config configs/vision_search.toml --sampler all --trials 8 --threads 1
  vision-bench search --dataset cifar10dvs --root ~/data --config configs/vision_cifar10dvs.toml --trials 30 --out runs/c10-search"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search", help="search the SNN's skip topology (Optuna TPE/GP/random); claims 3 and 4",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(parser)
    parser.add_argument("--config", type=Path, metavar="TOML", help="configuration (default: built-in defaults; see configs/vision_search.toml)")
    parser.add_argument("--sampler", default="tpe", help=f"one of {', '.join(SAMPLERS)}, or all (default tpe; random is the baseline)")
    parser.add_argument("--trials", type=int, default=20, metavar="N", help="completed trials per sampler (default 20)")
    parser.add_argument("--storage", metavar="URL", help="Optuna RDB URL (default sqlite:///OUT/search.db)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default runs/search-DATASET)")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="seed of the samplers (default 0)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads for training (default: torch's); 1 suits small models on shared cores")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def print_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """One line per finished trial: its topology, validation accuracy and the best so far."""
    topology, name = trial.user_attrs.get("topology", "?"), study.study_name.rsplit("-", 1)[-1]
    if trial.state != TrialState.COMPLETE:
        print(f"{name:6s} trial {trial.number:3d}  {topology}  {trial.state.name.lower()}", flush=True)
        return
    best = study.best_trial
    print(f"{name:6s} trial {trial.number:3d}  {topology}  validation acc {trial.value:.3f}  "
          f"best {best.value:.3f} ({best.user_attrs['topology']})", flush=True)


def samplers_table(result: dict) -> str:
    """Per sampler (Markdown): best topology and accuracy, trials to reach it, times."""
    lines = ["| sampler | best topology | best val acc | at trial | trainings | wall time (s) | alone (s) |", "|---|---|---|---|---|---|---|"]
    for sampler, r in result["searches"].items():
        curve = r["best_so_far"]
        lines.append(f"| {sampler} | `{r['best']['topology']}` | {curve[-1]:.3f} | {curve.index(curve[-1]) + 1} "
                     f"| {r['trainings']} | {r['wall_s']:.1f} | {r['alone_s']:.1f} |")
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    data, cfg, start, best = result["data"], result["config"], result["start"], result["best"]
    model, training = cfg["model"], cfg["train"]
    curves = result["searches"]
    rows = [f"| {k + 1} | " + " | ".join(f"{r['best_so_far'][k]:.3f}" if k < len(r["best_so_far"]) else "" for r in curves.values()) + " |"
            for k in range(max(len(r["best_so_far"]) for r in curves.values()))]
    ann = ", ".join(f"{v} {a:.3f}" for v, a in result["ann_validation_accuracy"].items())
    return "\n".join([
        f"# Skip-topology search on {result['dataset']}", "",
        f"Data: {data['fit']} fit, {data['validation']} validation (the last {VALIDATION_SHARE:.0%} of each training class) and "
        f"{data['test']} test recordings, frames {' x '.join(map(str, data['frame_shape']))}. Model: {model['family']}-like, blocks "
        f"{result['layers_per_block']} layers ({result['search_space_size']:,} topologies). Training: {training['epochs']} epochs, "
        f"{training['optimizer']} lr {training['lr']}, seed {training['seed']}. {result['trials']} trials per sampler, "
        f"sampler seed {result['seed']}. Runtime of this command {result['runtime_s']:.0f} s.", "",
        "## Start and best topology", "",
        f"ANN twins, validation accuracy: {ann}. ANN-derived start: `{start['variant']}`.", "",
        "| topology | what | val acc | test acc |", "|---|---|---|---|",
        f"| `{start['topology']}` | ANN-derived start ({start['variant']}) | {start['validation_accuracy']:.3f} | {start['test_accuracy']:.3f} |",
        f"| `{best['topology']}` | best found ({', '.join(best['found_by'])}) | {best['validation_accuracy']:.3f} | {best['test_accuracy']:.3f} |", "",
        "## Samplers", "",
        "Wall time: the study's trials as run, where a topology already trained by another study is reused; alone: "
        "what the study would have taken training every topology itself.", "",
        samplers_table(result), "",
        "Best validation accuracy so far, per trial:", "",
        "| trial | " + " | ".join(curves) + " |", "|---|" + "---|" * len(curves), *rows, "",
        "![best validation accuracy per trial](search_convergence.png)", "",
        "## The paper's claims on this run", "", claims_table(Claim(**c) for c in result["claims"]), "",
    ])


def plot_convergence(result: dict, path: Path) -> None:
    """Best-so-far validation accuracy per trial, one line per sampler (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    styles = [("o", "-", 9), ("s", "--", 6), ("^", ":", 4)]  # curves often coincide: keep each visible
    for (sampler, r), (marker, line, size) in zip(result["searches"].items(), styles):
        ax.plot(range(1, len(r["best_so_far"]) + 1), r["best_so_far"], marker=marker, linestyle=line, markersize=size, label=sampler)
    ax.axhline(result["start"]["validation_accuracy"], color="grey", linestyle=":", label="ANN-derived start")
    ax.set(xlabel="trial", ylabel="best validation accuracy so far", title=f"skip-topology search, {result['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120)


def run(args: argparse.Namespace) -> int:
    samplers = list(SAMPLERS) if args.sampler == "all" else [args.sampler]
    if not set(samplers) <= set(SAMPLERS):
        raise InputError("command line", "--sampler", f"one of {', '.join(SAMPLERS)} or all, got {args.sampler!r}")
    if args.trials < 1:
        raise InputError("command line", "--trials", f"at least 1, got {args.trials}")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError("command line", "--threads", f"at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = with_device(load_config(args.config) if args.config is not None else AnalysisConfig(), args.device)
    if not args.root.is_dir():  # before OUT is made: a mistyped root leaves nothing behind
        raise InputError(args.root, "root", "an existing folder holding the data set")
    out = args.out if args.out is not None else Path("runs") / f"search-{args.dataset}"
    out.mkdir(parents=True, exist_ok=True)
    url = args.storage or f"sqlite:///{(out / 'search.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed below
    progress = sys.stderr.isatty()
    try:
        result = run_vision_search(args.dataset, args.root, config, samplers, args.trials, url, args.seed, progress=progress,
                                   log=lambda line: print(line, file=sys.stderr, flush=True), callbacks=[print_trial])
    except NoTrialCompleted as err:
        print(f"vision-bench search: {err}", file=sys.stderr)
        return 1
    result["storage"] = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    plot_convergence(result, out / "search_convergence.png")
    write_text_atomic(out / "search.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "search.md", render_markdown(result))
    print(samplers_table(result), claims_table(Claim(**c) for c in result["claims"]), sep="\n\n")
    print(f"\nreport: {out / 'search.md'} (and search.json, search_convergence.png); runtime {result['runtime_s']:.0f} s", file=sys.stderr)
    return 0
