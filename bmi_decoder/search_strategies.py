"""The population strategies of the SNN decoder's topology search: exhaustive and zero-cost.

:func:`bmi_decoder.search.search_topology` runs these in place of a sampler when it is given a
:class:`~snn_core.strategies.Strategy` (:mod:`snn_core.strategies`). Every (topology, seed)
member is fitted by :func:`~bmi_decoder.decoders.snn_population.fit_population`, which equals
the same decoder fitted alone; a topology's score is the mean over its seeds of the validation R2
of its best epoch, which is what a solo fit keeps. The study is bound to the same recording and
SNN settings as a sampler's study, plus the strategy's own settings.

Zero-cost ranks the block's topologies before any training
(:func:`snn_core.zero_cost.score_topologies`): each is built with the decoder's initial weights
(``weight_gain`` included) from the first seed and reads the same
:data:`ZERO_COST_SAMPLES` windows of ``chunk_bins`` training bins, drawn with that seed.

The winner is the topology of the best mean validation R2. Its decoders (one per seed) are
scored on the test split, and the report gives their mean. ``best.pt`` holds the first seed's
decoder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import optuna
import torch

from bmi_decoder.checkpoint import save_decoder
from bmi_decoder.decoders import SNNDecoder, clone
from bmi_decoder.decoders.snn_population import fit_population, group_size
from bmi_decoder.evaluation import r2_score
from bmi_decoder.search_results import SearchResult, SearchTrial
from snn_core.atomic import write_text_atomic
from snn_core.errors import NoTrialCompleted
from snn_core.network import SkipNetwork
from snn_core.search import SearchRequest, best_so_far, shown_url
from snn_core.strategies import Strategy
from snn_core.strategy_runs import (
    MemberFit,
    open_strategy_study,
    rank_topologies,
    sampler_studies,
    strategy_report,
    train_topologies,
    winner,
)
from snn_core.topology import search_space_size
from snn_core.training import seeded_torch
from snn_core.zero_cost import score_topologies

__all__ = ["ZERO_COST_SAMPLES", "population_search", "topologies_per_chunk", "untrained_body", "zero_cost_inputs"]

ZERO_COST_SAMPLES = 32  # windows in the zero-cost mini-batch: the kernels are 32 x 32
ZERO_COST_GROUP = 32  # topologies scored as one population


def zero_cost_inputs(X: np.ndarray, bins: int, seed: int, samples: int = ZERO_COST_SAMPLES) -> torch.Tensor:
    """``samples`` windows of ``bins`` consecutive training bins at seeded distinct starts,
    time-major (bins, samples, features), in the order of their starts."""
    bins = min(bins, len(X))
    starts = len(X) - bins + 1
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(starts, size=min(samples, starts), replace=False))
    return torch.from_numpy(np.stack([X[s : s + bins] for s in chosen], axis=1).astype(np.float32))


def topologies_per_chunk(template: SNNDecoder, n_features: int, val_bins: int, seeds: int, memory_gb: float) -> int:
    """Topologies trained as one population: as many as one group of
    :func:`~bmi_decoder.decoders.snn_population.fit_population` holds with all their seeds."""
    return max(1, group_size(template, n_features, val_bins, memory_gb) // max(1, seeds))


def untrained_body(template: SNNDecoder, n_features: int) -> Callable[[str, int], SkipNetwork]:
    """The untrained LIF block of a (topology, seed), with the weights its fit starts from."""

    def build(topology: str, seed: int) -> SkipNetwork:
        decoder = clone(template).set_params(topology=topology, seed=int(seed))
        with seeded_torch(int(seed), torch.device("cpu")):
            return decoder._build_network(n_features).body

    return build


def population_search(
    task,
    request: SearchRequest,
    store: optuna.storages.BaseStorage,
    strategy: Strategy,
    *,
    candidates: Sequence[str],
    out: Path,
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
) -> SearchResult:
    """Run (or resume) ``strategy`` on the search task of :func:`bmi_decoder.search.search_topology`;
    writes ``search.json`` and ``best.pt`` to ``out``.

    Args:
        task: the binned session, its name and digest, the config and widths, and what the study
            is tied to.
        request: its storage URL and study name (the sampler's settings are unused here).
        store: that storage, open.
        strategy: the population strategy and its options.
        candidates: the topologies it considers (``strategy.candidates``).
        out: the output folder.
        log, callbacks: a receiver of one line per stage; called with (study, trial) after each
            recorded topology.

    Raises:
        InputError: a stored study of another strategy or of a sampler, or of other settings.
        NoTrialCompleted: every trained topology diverged.
        SearchInterrupted: on Ctrl-C; rerunning the same call resumes.
    """
    config, widths, session, study_name = task.config, task.widths, task.session, request.study
    layers = [len(widths)]
    seeds = strategy.seed_list(config.seed)
    settings = {**task.settings, **strategy.settings(seeds), "layers_per_block": layers}
    study = open_strategy_study(store, study_name, strategy, settings)
    template = config.decoder("snn").set_params(hidden=list(widths), ensemble=1, progress=False, progress_file=None)
    X, y = session.split("train")
    X_val, y_val = session.split("val")
    say = log or (lambda line: None)
    say(
        f"{strategy.name}: {len(candidates):,} topologies of a {len(widths)}-layer block (widths {list(widths)}), "
        f"seeds {seeds}, {strategy.precision}, storage {shown_url(request.storage)}, study {study_name}"
    )
    ranking = None
    to_train = list(candidates)
    if strategy.name == "zero-cost":
        inputs = zero_cost_inputs(X, template.chunk_bins, seeds[0])

        def score_chunk(chunk: list[str]) -> dict[str, np.ndarray]:
            return score_topologies(untrained_body(template, X.shape[1]), chunk, inputs, seeds[0], group=ZERO_COST_GROUP)

        ranking = rank_topologies(study, candidates, score_chunk, strategy.proxy)
        to_train = ranking[: strategy.top_k(len(candidates))]
        say(
            f"ranked by {strategy.proxy} in {study.user_attrs.get('ranking_seconds', 0.0):.1f} s; "
            f"training the top {len(to_train)}: {', '.join(to_train)}"
        )
    kept: dict = {}  # the decoders of the best mean trained in this process (spares a refit)

    def train_chunk(members: list[tuple[str, int]], folder: Path | None) -> list[MemberFit]:
        decoders = fit_population(
            template,
            members,
            X,
            y,
            X_val,
            y_val,
            memory_gb=strategy.memory_gb,
            precision=strategy.precision,
            progress_dir=folder,
            progress=False,
        )
        fits = []
        for d in decoders:
            finite = [v for v in d.validation_r2_ if math.isfinite(v)]
            fits.append(MemberFit(max(finite) if finite else math.nan, list(d.validation_r2_), float(d.fit_seconds_)))
        for k in range(0, len(members), len(seeds)):
            mean = float(np.mean([f.score for f in fits[k : k + len(seeds)]]))
            if math.isfinite(mean) and mean > kept.get("mean", -math.inf):
                kept.update(mean=mean, topology=members[k][0], decoders=decoders[k : k + len(seeds)])
        return fits

    per_chunk = topologies_per_chunk(template, X.shape[1], len(X_val), len(seeds), strategy.memory_gb)
    train_topologies(study, to_train, seeds, train_chunk, per_chunk, out / f"{study_name}-progress", callbacks)
    try:
        top = winner(study, to_train)
    except ValueError:
        raise NoTrialCompleted(f"no topology of study {study_name!r} completed (training diverged?)") from None
    best = top.user_attrs["topology"]
    decoders = kept["decoders"] if kept.get("topology") == best else None
    if decoders is None:  # trained by an earlier run: refit its seeds (deterministic)
        members = [(best, s) for s in seeds]
        decoders = fit_population(
            template, members, X, y, X_val, y_val, memory_gb=strategy.memory_gb, precision=strategy.precision, progress=False
        )
    X_test, y_test = session.split("test")
    test = [float(r2_score(y_test, d.predict(X_test))) for d in decoders]
    report = {
        **strategy_report(study, strategy, ranking),
        "best": {"topology": best, "validation_r2": top.user_attrs["seed_scores"], "test_r2": test},
        "samplers": sampler_studies(store, "objective", task.settings["objective"]),
    }
    paths = (out / "search.json", out / "best.pt")
    result = SearchResult(
        session=task.name,
        session_sha256=task.digest,
        study=study_name,
        storage=shown_url(request.storage),
        sampler=strategy.name,
        seed=config.seed,
        hidden=tuple(widths),
        search_space_size=search_space_size(layers),
        trials=tuple(SearchTrial(t.number, t.user_attrs.get("topology"), t.state.name.lower(), t.value) for t in study.trials),
        best_so_far=tuple(best_so_far(study)),
        best_trial=top.number,
        best_topology=best,
        validation_r2=float(top.value),
        test_r2=float(np.mean(test)),
        paths=paths,
        decoder=decoders[0],
        wall_s=report["wall_s"],
        strategy=report,
    )
    save_decoder(decoders[0], paths[1], {"session": result.session, "seed": seeds[0]}, preprocessing=config.preprocessing)
    write_text_atomic(paths[0], json.dumps(result.to_dict(), indent=2) + "\n")
    return result
