"""Claim 4 and the time to the best topology: every search strategy, replayed on the seed tables.

Benmeziane et al. (2023) report that Bayesian optimisation finds better skip topologies than
random search, in fewer iterations and more stably (docs/data.md, claim 4), and "+8% within
approximately 5 minutes". Both are answered here on the multi-seed tables of
benchmarks/topology_table.py, by replaying seeded searches (benchmarks/search_replay.py: a trial
observes one seed's score, drawn at random; a pick is worth its seed mean):

- samplers: multivariate TPE, Gaussian-process BO and random search exactly as the search commands
  build them, and NSGA-II; ``--seeds`` searches of ``--trials`` trials each;
- the population strategies: exhaustive (every topology, seed after seed) and zero-cost + top K
  for each proxy (the ranking of benchmarks/zero_cost_tau.py, then the top of it trained);
  ``--seeds`` replays each.

Equal compute is equal wall seconds on this machine: ``--trials`` solo fits is the budget every
strategy is scored at. What a solo fit and a population member cost is measured here, side by
side (:func:`measure_costs`), on a machine that should be otherwise idle. Reported
per task and strategy, each as a mean with its 95% t-interval over searches: the pick's seed-mean
validation score and regret at that budget, the pick's seed-mean test score, how many searches
picked within ``--tolerance`` of the table's best seed mean, and the time until the pick first was
(median over searches; never, when fewer than half got there). For the samplers also the
best-so-far curve by trial (the Fig. 3 analogue) and Optuna's successive halving and Hyperband
pruners replayed on each trial's observed curve. Results: ``docs/results/search_samplers.json``
and the figures ``docs/img/search_samplers_<task>.png``; ``benchmarks/results_pages.py`` renders the page.

    python benchmarks/search_samplers.py [--tables benchmarks/tables] [--seeds 30] [--trials 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from matplotlib.figure import Figure
from results_json import count
from scipy import stats
from search_replay import CHUNK, Costs, Replay, Table, population_search, quality, quality_at, sampler_search, time_to_within
from table_rows import read_rows
from topology_table import BUDGETS, TASKS, all_topologies, check_header, snn_settings
from tqdm import tqdm

from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.errors import InputError

FILES = {"bmi": "bmi_snn_4layer.csv", "vision": "vision_snn_4layer.csv"}
LABELS = {"bmi": "validation R2", "vision": "validation accuracy"}
SAMPLERS = ("tpe", "gp", "random", "nsga2")
CHECKPOINTS = (10, 25, 50, 100, 200)
PRUNERS = ("none", "halving", "hyperband")
PRUNED_SAMPLERS = ("tpe", "random")


def interval(samples) -> tuple[float, float, float]:
    """Mean and its 95% t-interval."""
    samples = np.asarray(samples, dtype=float)
    mean = float(np.mean(samples))
    if len(samples) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(samples) - 1) * np.std(samples, ddof=1) / np.sqrt(len(samples)))
    return mean, mean - half, mean + half


def measure_costs(task: str, runner, solo_fits: int, log=print) -> tuple[float, float]:
    """Wall seconds of one solo fit and of one population member at the table's budget, measured
    side by side now: the median of ``solo_fits`` topologies (spread over the space) trained alone
    at seed 0, as a sampler's trial trains them, and one population of :data:`CHUNK` topologies
    trained and scored as the table builds them, per member."""
    topologies = all_topologies()
    sample = topologies[:: max(1, len(topologies) // solo_fits)][:solo_fits]
    if task == "bmi":
        from bmi_decoder.decoders import SNNDecoder

        def solo(topology: str) -> None:
            decoder = SNNDecoder(topology=topology, seed=0, progress=False, device="cpu", **snn_settings(runner.budget))
            decoder.fit(*runner.session.split("train"), *runner.session.split("val"))
    else:

        def solo(topology: str) -> None:
            runner.fit(topology, 0)

    solo(sample[0])  # compiles the kernels
    seconds = []
    for topology in tqdm(sample, desc=f"{task}: solo fits", unit="fit"):
        start = time.perf_counter()
        solo(topology)
        seconds.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as progress:
        start = time.perf_counter()
        runner.run([(t, 0) for t in topologies[:CHUNK]], Path(progress))
        member = (time.perf_counter() - start) / CHUNK
    return float(statistics.median(seconds)), member


def collect(
    table: Table, key: str, name: str, pruner_name: str, seeds: int, trials: int, costs: Costs, cache: Path
) -> list[Replay]:
    """The sampler searches of seeds 0..seeds-1, each read from its file in ``cache`` or run and
    saved (an interrupted benchmark resumes; the GP sampler is slow to propose)."""
    found = []
    for seed in range(seeds):
        path = cache / f"{key}_{name}_{pruner_name}_{trials}_seed{seed}.json"
        if path.exists():
            found.append(Replay(**json.loads(path.read_text())))
            continue
        found.append(sampler_search(table, name, seed, trials, costs, pruner_name))
        cache.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(found[-1].__dict__) + "\n")
    return found


def strategy_statistics(table: Table, replays: list[Replay], budget_s: float, tolerance: float) -> dict:
    """One strategy's searches scored at ``budget_s`` seconds, and their time to within ``tolerance``."""
    at_budget = np.array([quality_at(r, table, np.array([budget_s]))[0] for r in replays])
    picked = np.isfinite(at_budget)
    means = table.means
    tests = [
        means[r.picks[np.searchsorted(r.times, budget_s, side="right") - 1]].test_score for r, p in zip(replays, picked) if p
    ]
    times = np.array([time_to_within(r, table, tolerance) for r in replays])
    return {
        "searches": len(replays),
        "picked_by_budget": int(picked.sum()),
        "val_of_pick": interval(at_budget[picked]) if picked.any() else None,
        "regret": interval(table.best_mean - at_budget[picked]) if picked.any() else None,
        "test_of_pick": interval(tests) if tests else None,
        "within_tolerance": int(np.sum(at_budget >= table.best_mean - tolerance - 1e-12)),
        "seconds_to_within": {
            "median": float(np.median(times)) if np.isfinite(np.median(times)) else None,
            "reached": int(np.isfinite(times).sum()),
            "horizon_s": float(np.median([r.times[-1] for r in replays])),
        },
    }


def sampler_curves(table: Table, replays: list[Replay]) -> np.ndarray:
    """(searches x trials) seed-mean validation score of each search's pick after each trial."""
    return np.array([quality(table, r.picks) for r in replays])


def pruning_statistics(table: Table, runs: dict[str, dict[str, list[Replay]]]) -> dict:
    """Epochs saved, and seed-mean score lost by each pruner's picks, vs the same searches unpruned."""
    means, out = table.means, {}
    for name, by_pruner in runs.items():
        base = by_pruner["none"]
        base_epochs = np.array([r.epochs for r in base], dtype=float)
        base_val = np.array([means[r.picks[-1]].val_score for r in base])
        out[name] = {}
        for pruner_name, found in by_pruner.items():
            epochs = np.array([r.epochs for r in found], dtype=float)
            val = np.array([means[r.picks[-1]].val_score for r in found])
            out[name][pruner_name] = {
                "epochs": interval(epochs),
                "compute_saved": interval(1 - epochs / base_epochs),
                "val_of_pick": interval(val),
                "val_lost": interval(base_val - val),
                "test_of_pick": interval([means[r.picks[-1]].test_score for r in found]),
            }
    return out


def rankings(zero_cost: dict) -> dict[str, list[str]]:
    """Each proxy's ranking of the space at the first seed (the strategy's), best first."""
    first = zero_cost["per_seed"][0]["scores"]
    topologies = all_topologies()
    return {p: [topologies[i] for i in np.argsort(-np.asarray(s), kind="stable")] for p, s in first.items()}


def run_task(table: Table, key: str, costs: Costs, ranking: dict[str, list[str]], args, log=print) -> dict:
    """Every strategy on one table: replays, their statistics and the curves of the figure."""
    replays: dict[str, list[Replay]] = {}
    for name in args.samplers:
        start = time.perf_counter()
        replays[name] = collect(table, key, name, "none", args.seeds, args.trials, costs, args.cache)
        log(f"  {name}: {args.seeds} searches ({time.perf_counter() - start:.0f} s)")
    replays["exhaustive"] = [population_search(table, seed, costs) for seed in range(args.seeds)]
    for proxy, order in ranking.items():
        replays[f"zero-cost ({proxy})"] = [population_search(table, seed, costs, order) for seed in range(args.seeds)]
    budget_s = args.trials * costs.solo_fit
    pruned = {
        s: {p: collect(table, key, s, p, args.seeds, args.trials, costs, args.cache) for p in PRUNERS}
        for s in PRUNED_SAMPLERS
        if s in args.samplers
    }
    curves = {name: sampler_curves(table, replays[name]) for name in args.samplers}
    grid = np.geomspace(min(costs.solo_fit, costs.ranking), max(r.times[-1] for rs in replays.values() for r in rs), 200)
    return {
        "best_seed_mean": table.best_mean,
        "best_topology": max(table.means, key=lambda t: table.means[t].val_score),
        "costs": costs.__dict__,
        "budget_s": budget_s,
        "strategies": {name: strategy_statistics(table, rs, budget_s, args.tolerance) for name, rs in replays.items()},
        "mean_best_by_trial": {
            name: {str(k): interval(c[:, k - 1]) for k in CHECKPOINTS if k <= c.shape[1]} for name, c in curves.items()
        },
        "pruning": pruning_statistics(table, pruned),
        "curves_by_trial": {name: c.mean(axis=0).tolist() for name, c in curves.items()},
        # mean over searches while every search holds a pick and is still running (None outside)
        "curves_by_second": {
            "seconds": grid.tolist(),
            **{
                name: _finite(np.mean([np.where(grid <= r.times[-1], quality_at(r, table, grid), np.nan) for r in rs], axis=0))
                for name, rs in replays.items()
            },
        },
        "_curves": curves,
    }


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def figure(task: str, result: dict, tolerance: float) -> Figure:
    """The samplers' best-so-far seed-mean score by trial (mean, 95% band; the Fig. 3
    analogue), and every strategy's by wall second, with the budget and the tolerance band."""
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot(1, 2, 1)
    for name, c in result["_curves"].items():
        trials, mean = np.arange(1, c.shape[1] + 1), c.mean(axis=0)
        half = stats.t.ppf(0.975, len(c) - 1) * c.std(axis=0, ddof=1) / np.sqrt(len(c))
        ax.plot(trials, mean, label=f"{name} ({len(c)} searches)")
        ax.fill_between(trials, mean - half, mean + half, alpha=0.2)
    ax.axhline(result["best_seed_mean"], color="grey", linestyle=":", label="best seed mean")
    ax.set(xscale="log", xlabel="trial", ylabel=f"seed-mean {LABELS[task]} of the pick", title=f"{task}: samplers")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 2, 2)
    by_second = result["curves_by_second"]
    for name, curve in by_second.items():
        if name != "seconds":
            ax.plot(by_second["seconds"], [np.nan if v is None else v for v in curve], label=name)
    ax.axhspan(
        result["best_seed_mean"] - tolerance,
        result["best_seed_mean"],
        color="grey",
        alpha=0.2,
        label=f"within {tolerance} of best",
    )
    ax.axvline(result["budget_s"], color="black", linestyle="--", linewidth=0.8, label="equal-compute budget")
    ax.set(xscale="log", xlabel="wall seconds on this machine", title=f"{task}: every strategy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=Path, default=Path("benchmarks/tables"))
    parser.add_argument("--tasks", nargs="+", choices=sorted(FILES), default=list(FILES))
    parser.add_argument("--seeds", type=count, default=30, help="searches per strategy (default 30)")
    parser.add_argument(
        "--trials", type=count, default=100, help="trials per sampler search; the equal-compute budget (default 100)"
    )
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    parser.add_argument(
        "--tolerance", type=float, default=0.01, help="of the best seed mean, for the time to best (default 0.01)"
    )
    parser.add_argument("--solo-fits", type=count, default=5, help="solo fits timed for a trial's cost (default 5)")
    parser.add_argument(
        "--zero-cost", type=Path, default=Path("docs/results/zero_cost_tau.json"), help="rankings and their seconds"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"))
    parser.add_argument("--cache", type=Path, default=Path("runs/search_samplers"), help="finished searches (resume)")
    parser.add_argument("--json", type=Path, default=Path("docs/results/search_samplers.json"))
    parser.add_argument("--figures", type=Path, default=Path("docs/img"), help="where search_samplers_<task>.png go")
    args = parser.parse_args(argv)
    if min(args.seeds, args.trials, args.solo_fits) < 2 or not 0 < args.tolerance < 1:
        print(
            "search_samplers: error: --seeds, --trials and --solo-fits must be at least 2, --tolerance in (0, 1)", file=sys.stderr
        )
        return 2
    torch.set_num_threads(1)  # the GP sampler's fits are tiny
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    zero_cost = json.loads(args.zero_cost.read_text())["tasks"]
    report = {"command": " ".join(["python", *sys.argv]), "seeds": args.seeds, "trials": args.trials, "tolerance": args.tolerance}
    results = {}
    for task in args.tasks:
        path = args.tables / FILES[task]
        try:
            check_header(path.with_suffix(".json"), task, BUDGETS[task])
            table = Table(read_rows(path))
        except InputError as err:
            print(f"search_samplers: error: {err}", file=sys.stderr)
            return 2
        expected = len(all_topologies()) * len(BUDGETS[task]["seeds"])
        if len(table.rows) != expected or task not in zero_cost:
            print(
                f"search_samplers: error: {path}: rows: {expected} fits and a zero-cost ranking, got {len(table.rows)}",
                file=sys.stderr,
            )
            return 2
        runner = TASKS[task](BUDGETS[task], args.data_dir)
        torch.set_num_threads(2)
        solo, population = measure_costs(task, runner, args.solo_fits)
        torch.set_num_threads(1)
        costs = Costs(solo_fit=solo, population_member=population, ranking=zero_cost[task]["seconds"])
        print(f"{task}: a solo fit {solo:.2f} s, a population member {population:.2f} s, the ranking {costs.ranking:.1f} s")
        # cached searches are keyed by the table's content: a rebuilt table is searched afresh
        key = f"{task}-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}-{solo:.3f}"
        results[task] = run_task(table, key, costs, rankings(zero_cost[task]), args)
    for task, result in results.items():
        with atomic_path(args.figures / f"search_samplers_{task}.png") as tmp:
            figure(task, result, args.tolerance).savefig(tmp, dpi=120)
    report["tasks"] = {t: {k: v for k, v in r.items() if not k.startswith("_")} for t, r in results.items()}
    if args.json.exists():  # one task at a time keeps the other's results
        report["tasks"] = {**json.loads(args.json.read_text()).get("tasks", {}), **report["tasks"]}
    write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
    for task, r in report["tasks"].items():
        for name, s in r["strategies"].items():
            v, t = s["val_of_pick"], s["seconds_to_within"]
            shown = "no pick" if v is None else f"{v[0]:.3f}"
            print(
                f"{task} {name:20s} pick at budget {shown}; within tolerance by {t['median']} s ({t['reached']}/{s['searches']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
