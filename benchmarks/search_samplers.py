"""Skip-topology search on the full-space tables: samplers (claim 4) and pruning, replayed by look-up.

Benmeziane et al. (2023) report that Bayesian optimisation finds better skip topologies than
random search, in fewer iterations and more stably (docs/data.md, claim 4). Telling samplers apart
needs many repeated searches, and each search trial trains a network; the tables of
benchmarks/topology_table.py hold every topology of a 4-layer block trained once at a fixed seed,
so a trial here is a table look-up and hundreds of searches cost seconds of training-free work.

Samplers: multivariate TPE, Gaussian-process BO and random search exactly as the search commands
build them (:func:`snn_core.search.make_sampler`, 5 shared random start-up trials for TPE and GP),
and NSGA-II (a genetic algorithm, Optuna's other sampler for categorical spaces; population 10 so
that 100 trials make 10 generations). Each runs ``--seeds`` searches of ``--trials`` trials per
table, with the trial parameters of :func:`snn_core.search.suggest_topology`. A suggested topology
that was already tried is a trial too, as in a real study (there it costs no training).

Reported per task and sampler: the mean best validation score so far after 10, 25, 50 and 100
trials with 95% t-intervals over seeds, the first trial at which the mean curve reaches random
search's final mean best, the standard deviation over seeds of the best at 25 and 100 trials, the
regret to the table's best validation score, and the test score of the topology each search
picks. Pruning: Optuna's successive halving and Hyperband pruners replayed on the tables'
per-epoch validation curves (each trial reports its curve with ``trial.report``/``should_prune``;
a pruned trial stops and is never a search's answer); compute is epochs trained, compared with
the same sampler and seed without pruning.

    python benchmarks/search_samplers.py [--tables benchmarks/tables] [--seeds 30] [--trials 100]
        [--out docs/img]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import torch
from matplotlib.figure import Figure
from optuna.trial import TrialState
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from topology_table import Row, all_topologies, read_table  # noqa: E402

from snn_core.atomic import atomic_path, write_text_atomic  # noqa: E402
from snn_core.search import make_sampler, suggest_topology  # noqa: E402

TASKS = {"bmi": ("bmi_snn_4layer.csv", "validation R2"), "vision": ("vision_snn_4layer.csv", "validation accuracy")}
SAMPLERS = ("tpe", "gp", "random", "nsga2")
CHECKPOINTS = (10, 25, 50, 100)
NSGA2_POPULATION = 10
PRUNERS = ("none", "halving", "hyperband")
PRUNED_SAMPLERS = ("tpe", "random")


def sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The search commands' samplers (:func:`snn_core.search.make_sampler`), plus ``"nsga2"``."""
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=NSGA2_POPULATION, seed=seed)
    return make_sampler(name, seed)


def pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """No pruning, successive halving or Hyperband over ``epochs`` (reduction factor 3, Optuna's default)."""
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def search(table: dict[str, Row], sampler_name: str, seed: int, trials: int, pruner_name: str = "none") -> dict:
    """One seeded search of ``trials`` trials against ``table``.

    Returns:
        ``values`` (each trial's score, NaN for a pruned trial), ``best`` (topology with the best
        score among completed trials, the first on ties, as Optuna's ``best_trial``) and
        ``epochs`` (epochs trained in all, a pruned trial counting the epochs it reported).
    """
    layers = [int(next(iter(table)).split("-")[0])]
    epochs_per_trial = len(next(iter(table.values())).val_per_epoch)
    used = []

    def objective(trial: optuna.Trial) -> float:
        row = table[str(suggest_topology(trial, layers))]
        for step, value in enumerate(row.val_per_epoch):
            trial.report(value, step)
            if pruner_name != "none" and step + 1 < epochs_per_trial and trial.should_prune():
                used.append(step + 1)
                raise optuna.TrialPruned()
        used.append(epochs_per_trial)
        return row.val_score

    study = optuna.create_study(
        direction="maximize", sampler=sampler(sampler_name, seed), pruner=pruner(pruner_name, epochs_per_trial)
    )
    study.optimize(objective, n_trials=trials)
    values = [t.value if t.state == TrialState.COMPLETE else math.nan for t in study.trials]
    return {"values": values, "best": study.best_trial.user_attrs["topology"], "epochs": int(sum(used))}


def best_so_far(values: list[float]) -> np.ndarray:
    """Running best of a search's scores; NaN (pruned) trials do not count, -inf before any score."""
    return np.maximum.accumulate(np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf))


def interval(samples: np.ndarray) -> tuple[float, float, float]:
    """Mean and its 95% t-interval over the first axis."""
    mean = float(np.mean(samples))
    if len(samples) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(samples) - 1) * np.std(samples, ddof=1) / np.sqrt(len(samples)))
    return mean, mean - half, mean + half


def first_reaching(mean_curve: np.ndarray, target: float) -> int | None:
    """1-based first trial at which ``mean_curve`` reaches ``target`` (None: never)."""
    hits = np.flatnonzero(mean_curve >= target - 1e-12)
    return int(hits[0]) + 1 if hits.size else None


def sampler_statistics(table: dict[str, Row], curves: dict[str, np.ndarray], picks: dict[str, list[str]]) -> dict:
    """Claim-4 statistics of one task from each sampler's (seeds x trials) best-so-far curves."""
    true_best = max(r.val_score for r in table.values())
    target = float(curves["random"][:, -1].mean())
    out = {}
    for name, c in curves.items():
        tests = np.array([table[t].test_score for t in picks[name]])
        out[name] = {
            "mean_best": {str(k): interval(c[:, k - 1]) for k in CHECKPOINTS if k <= c.shape[1]},
            "reaches_random_final_at": first_reaching(c.mean(axis=0), target),
            "std_best": {str(k): float(np.std(c[:, k - 1], ddof=1)) for k in (25, c.shape[1]) if k <= c.shape[1]},
            "regret": interval(true_best - c[:, -1]),
            "found_true_best": int(np.sum(np.isclose(c[:, -1], true_best))),
            "test_of_pick": interval(tests),
        }
    return {"true_best": true_best, "random_final_mean": target, "samplers": out}


def pruning_statistics(runs: dict[str, dict[str, list[dict]]], table: dict[str, Row]) -> dict:
    """Compute saved and best score lost by each pruner vs no pruning, same sampler and seeds."""
    out = {}
    for sampler_name, by_pruner in runs.items():
        base = by_pruner["none"]
        base_epochs = np.array([r["epochs"] for r in base], dtype=float)
        base_val = np.array([table[r["best"]].val_score for r in base])
        base_test = np.array([table[r["best"]].test_score for r in base])
        out[sampler_name] = {}
        for name, found in by_pruner.items():
            epochs = np.array([r["epochs"] for r in found], dtype=float)
            val = np.array([table[r["best"]].val_score for r in found])
            test = np.array([table[r["best"]].test_score for r in found])
            out[sampler_name][name] = {
                "epochs": interval(epochs),
                "compute_saved": interval(1 - epochs / base_epochs),
                "best_val": interval(val),
                "val_lost": interval(base_val - val),
                "test_of_pick": interval(test),
                "test_lost": interval(base_test - test),
            }
    return out


def collect(
    table: dict[str, Row],
    task: str,
    sampler_name: str,
    pruner_name: str,
    seeds: int,
    trials: int,
    cache: Path,
    part: tuple[int, int] = (1, 1),
) -> list[dict]:
    """The searches of seeds 0..seeds-1, each read from its file in ``cache`` or run and saved.

    The cache lets an interrupted benchmark resume, and the slow GP searches run in several
    processes (``part`` (K, N): only the seeds with seed % N == K - 1) before one run gathers
    everything.
    """
    found = []
    for seed in range(seeds):
        path = cache / f"{task}_{sampler_name}_{pruner_name}_{trials}_seed{seed}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
        elif seed % part[1] == part[0] - 1:
            found.append(search(table, sampler_name, seed, trials, pruner_name))
            cache.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(found[-1]) + "\n")
    return found


def run_task(
    table: dict[str, Row],
    task: str,
    seeds: int,
    trials: int,
    cache: Path,
    samplers=SAMPLERS,
    log: Callable[[str], None] = print,
    part: tuple[int, int] = (1, 1),
    gp_seeds: int | None = None,
) -> dict:
    """Every sampler and pruner on one table; curves, picks and their statistics.

    ``gp_seeds`` (default ``seeds``) lets the GP sampler, by far the slowest to propose a trial,
    run fewer searches when compute is short.
    """
    curves, picks = {}, {}
    for name in samplers:
        start = time.perf_counter()
        n = gp_seeds if name == "gp" and gp_seeds is not None else seeds
        found = collect(table, task, name, "none", n, trials, cache, part)
        if part != (1, 1):
            continue
        curves[name] = np.array([best_so_far(f["values"]) for f in found])
        picks[name] = [f["best"] for f in found]
        log(f"  {name}: {n} searches ({time.perf_counter() - start:.0f} s)")
    pruned = {
        s: {p: collect(table, task, s, p, seeds, trials, cache, part) for p in PRUNERS} for s in PRUNED_SAMPLERS if s in samplers
    }
    if part != (1, 1):
        return {}
    return {
        "curves": curves,
        "statistics": sampler_statistics(table, curves, picks) if "random" in curves else None,
        "pruning": pruning_statistics(pruned, table),
    }


def figure(results: dict[str, dict], labels: dict[str, str]) -> Figure:
    """Best validation score so far vs trial: mean and 95% band per sampler, one panel per task."""
    fig = Figure(figsize=(5 * len(results), 3.8))
    for k, (task, result) in enumerate(results.items()):
        ax = fig.add_subplot(1, len(results), k + 1)
        for name, c in result["curves"].items():
            trials = np.arange(1, c.shape[1] + 1)
            mean = c.mean(axis=0)
            half = stats.t.ppf(0.975, len(c) - 1) * c.std(axis=0, ddof=1) / np.sqrt(len(c))
            ax.plot(trials, mean, label=f"{name} ({len(c)} searches)")
            ax.fill_between(trials, mean - half, mean + half, alpha=0.2)
        ax.axhline(result["statistics"]["true_best"], color="grey", linestyle=":", label="table's best")
        ax.set(xscale="log", xlabel="trial", ylabel=f"best {labels[task]} so far", title=f"{task}: 729 topologies")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=Path, default=Path("benchmarks/tables"))
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--cache", type=Path, default=Path("runs/search_samplers"), help="finished searches (resume)")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the GP sampler (default 1)")
    parser.add_argument("--gp-seeds", type=int, help="searches of the GP sampler (default: --seeds)")
    parser.add_argument("--part", type=int, nargs=2, default=(1, 1), metavar=("K", "N"), help="run only seeds %% N == K-1")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results, labels = {}, {}
    for task in args.tasks:
        file, label = TASKS[task]
        table = read_table(args.tables / file)
        if len(table) != len(all_topologies()):
            print(
                f"search_samplers: error: {args.tables / file}: rows: all {len(all_topologies())} topologies, got {len(table)}",
                file=sys.stderr,
            )
            return 2
        print(f"{task}: {len(table)} topologies; searching")
        # cached searches are keyed by the table's content: a rebuilt table is searched afresh
        key = f"{task}-{hashlib.sha256((args.tables / file).read_bytes()).hexdigest()[:12]}"
        results[task] = run_task(
            table, key, args.seeds, args.trials, args.cache, args.samplers, part=tuple(args.part), gp_seeds=args.gp_seeds
        )
        labels[task] = label
    if set(args.samplers) != set(SAMPLERS) or set(args.tasks) != set(TASKS) or tuple(args.part) != (1, 1):
        return 0  # a part of the work, for the cache; the report needs every task and sampler
    with atomic_path(args.out / "search_samplers.png") as tmp:
        figure(results, labels).savefig(tmp, dpi=120)
    report = {
        "command": " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]]) if argv is None else None,
        "seeds": args.seeds,
        "gp_seeds": args.gp_seeds or args.seeds,
        "trials": args.trials,
        "nsga2_population": NSGA2_POPULATION,
        "tasks": {
            t: {
                "metric": labels[t],
                "statistics": r["statistics"],
                "pruning": r["pruning"],
                "mean_best_so_far": {s: c.mean(axis=0).tolist() for s, c in r["curves"].items()},
            }
            for t, r in results.items()
        },
    }
    write_text_atomic(args.out / "search_samplers.json", json.dumps(report, indent=1) + "\n")
    print(json.dumps({t: v["statistics"] for t, v in report["tasks"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
