"""``topology="auto"`` for the SNN decoders: a topology and seed chosen per session on validation.

Which skip topology decodes best differs from session to session, and so does the seed: a fixed
default is a good topology on average, not on every recording. An auto fit trains a few
candidate topologies, each at ``auto_seeds`` seeds, as one population
(:func:`~bmi_decoder.decoders.snn_population.fit_population`: every member equals the decoder
its topology and seed give fitted alone, and the members share the kernels), and keeps the
member with the best validation R2. On a CPU a handful of members still costs about one solo
fit each (measured for four seeds of the default on a 600 s session); the shared kernels pay
off for hundreds of members (docs/results/population_speed.md) and on a GPU.
The decoder is then an ordinary fitted decoder of the chosen topology; its learned
``topology_``, ``seed_`` and ``auto_scores_`` say what was chosen among what.

``ensemble = K`` trains a population too (:func:`population_members`): a fixed topology at K
seeds, or the auto candidates, and keeps the K best members, their velocities averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bmi_decoder.evaluation import r2_score
from snn_core.errors import InputError
from snn_core.topology import ASC, DSC, NONE, SkipTopology

from ._base import Decoder, clone, require, require_int
from ._torch import FitData
from .snn_footprint import AUTO, layer_widths, member_limit, network_bytes, preset_topology
from .snn_network import EnsembleVelocityNet
from .snn_population import fit_population

# the learned attributes an auto or ensemble fit adds; a fit of one fixed network removes stale ones
AUTO_LEARNED = ("topology_", "seed_", "auto_scores_", "members_")
# beside the decoder's progress file: the population's progress files, one per group
POPULATION_SUFFIX = ".population"


def check_auto_params(decoder: Decoder) -> None:
    """Validate ``candidates``, ``auto_seeds`` and ``ensemble`` (and what a population excludes).

    ``hidden`` must have been checked first: every candidate must fit its layer count.
    """
    require_int(decoder, "auto_seeds", 1)
    require_int(decoder, "ensemble", 1)
    if decoder.ensemble > 1:
        require(decoder, not decoder.recurrent, "recurrent", "false with an ensemble (its population training is feed-forward)")
    if decoder.topology != AUTO:
        # set but never read: refused, so that a config that forgot topology = "auto" does not
        # silently train the fixed topology instead of choosing among its candidates
        require(decoder, decoder.candidates is None, "candidates", "no value unless topology is 'auto' (they are its choices)")
        require(decoder, decoder.auto_seeds == 1, "auto_seeds", "1 unless topology is 'auto' (the seeds it chooses among)")
        return
    require(decoder, not decoder.recurrent, "recurrent", "false with topology 'auto' (its population training is feed-forward)")
    if decoder.candidates is None:
        return
    layers = len(decoder.hidden)
    expected = f"a list of distinct topologies of {layers} layers in text form, e.g. '{SkipTopology.uniform([layers], DSC)}'"
    items = decoder.candidates
    ok = isinstance(items, Sequence) and not isinstance(items, str | bytes) and len(items) > 0
    require(decoder, ok and all(isinstance(t, str) for t in items) and len(set(items)) == len(items), "candidates", expected)
    for text in items:
        try:
            sizes = SkipTopology.from_string(text).layers_per_block
        except ValueError as err:
            raise InputError(f"{decoder.name} decoder", "candidates", f"{expected} ({text!r}: {err})") from None
        require(decoder, sizes == (layers,), "candidates", f"{expected} ({text!r} is for {'+'.join(map(str, sizes))} layers)")


def default_candidates(decoder: Decoder) -> list[str]:
    """No skips, all DSC, all ASC, and the decoder class's default topology when it fits
    ``hidden`` and differs: the three pure wirings span the search space's kinds of skip in one
    population, and the class default keeps what the preset was chosen for."""
    candidates = [str(SkipTopology.uniform([len(decoder.hidden)], kind)) for kind in (NONE, DSC, ASC)]
    preset = preset_topology(decoder)
    if preset is not None:
        candidates.append(preset)
    return list(dict.fromkeys(candidates))  # one layer: the three are the same "1-"


def auto_candidates(decoder: Decoder, n_features: int) -> list[str]:
    """The topologies an auto fit on ``n_features`` channels trains: ``candidates`` (or the
    default set), less those whose network exceeds ``footprint_limit`` at the decoder's widths.

    Raises:
        InputError: naming ``candidates`` when the limit leaves none.
    """
    candidates = list(decoder.candidates) if decoder.candidates is not None else default_candidates(decoder)
    limit = member_limit(decoder)
    if limit is None:
        return candidates
    kept = [t for t in candidates if footprint(decoder, t, n_features) <= limit]
    if not kept:
        raise InputError(
            f"{decoder.name} decoder",
            "candidates",
            f"a topology whose network for {n_features} channels fits in {limit} bytes (footprint_limit per member), got {candidates}",
        )
    return kept


def population_members(decoder: Decoder, n_features: int) -> list[tuple[str, int]]:
    """The (topology, seed) members an auto or ensemble fit trains: with ``"auto"`` every
    candidate (:func:`auto_candidates`) at ``auto_seeds`` seeds, else the decoder's topology at
    ``ensemble`` seeds.

    Raises:
        InputError: naming ``candidates`` as :func:`auto_candidates` does, or ``ensemble`` when
            it asks for more members than the population has.
    """
    if decoder.topology != AUTO:
        topology = decoder.topology or str(SkipTopology.empty([len(decoder.hidden)]))  # None: no skips
        return [(topology, decoder.seed + k) for k in range(decoder.ensemble)]
    candidates = auto_candidates(decoder, n_features)
    members = [(t, decoder.seed + k) for t in candidates for k in range(decoder.auto_seeds)]
    size = f"{len(candidates)} candidates x {decoder.auto_seeds} auto_seeds"
    require(
        decoder, decoder.ensemble <= len(members), "ensemble", f"at most the {len(members)} members of the population ({size})"
    )
    return members


def footprint(decoder: Decoder, topology: str, n_features: int) -> int:
    """Bytes of the network an auto fit of ``decoder`` builds for candidate ``topology``."""
    return network_bytes(decoder, topology, layer_widths(decoder, n_features), n_features)


def best_score(curve: Sequence[float]) -> float:
    """The best validation R2 of a member's curve (what its early stopping kept); -inf if none
    is finite (a diverged member never wins)."""
    return max((s for s in curve if math.isfinite(s)), default=-math.inf)


def fit_auto(decoder: Decoder, data: FitData) -> None:
    """Train ``decoder``'s population (:func:`population_members`) on ``data`` and keep the
    ``ensemble`` members with the best validation R2 (first in member order on a tie).

    With one kept, sets ``network_``, ``label_scaler_`` and ``validation_r2_`` as a fit of the
    winner alone would; with several, ``network_`` is their
    :class:`~bmi_decoder.decoders.snn_network.EnsembleVelocityNet`, ``members_`` names them and
    ``validation_r2_`` holds the ensemble's one score. Also sets ``topology_`` and ``seed_`` (the
    best member's) and ``auto_scores_`` (``"topology@seed"`` -> best validation R2 of every member).
    """
    members = population_members(decoder, data.X.shape[1])
    # what the population's progress identity holds: none of the settings the members do not read;
    # every member at the decoder's widths (sized for its preset topology), the limit applied;
    # the kept members share the budget of synaptic operations, as they share the footprint
    template = clone(decoder).set_params(
        hidden=layer_widths(decoder, data.X.shape[1]),
        synop_budget=decoder.synop_budget / decoder.ensemble,
        footprint_limit=None,
        candidates=None,
        auto_seeds=1,
        ensemble=1,
        progress=False,
        progress_file=None,
    )
    progress_dir = Path(f"{decoder.progress_file}{POPULATION_SUFFIX}") if decoder.progress_file else None
    fitted = fit_population(template, members, *data.arrays, progress_dir=progress_dir, progress=bool(decoder.progress))
    scores = [best_score(member.validation_r2_) for member in fitted]
    kept = [fitted[i] for i in sorted(range(len(fitted)), key=lambda i: -scores[i])[: decoder.ensemble]]
    winner = kept[0]
    decoder.label_scaler_ = winner.label_scaler_
    if len(kept) == 1:
        decoder.network_ = winner.network_
        decoder.validation_r2_ = list(winner.validation_r2_)
    else:
        decoder.members_ = [f"{m.topology}@{m.seed}" for m in kept]
        decoder.network_ = EnsembleVelocityNet([m.network_ for m in kept])
        decoder.validation_r2_ = [r2_score(data.y_val, decoder.predict(data.X_val))]
    decoder.topology_ = str(winner.topology)
    decoder.seed_ = int(winner.seed)
    decoder.auto_scores_ = {f"{m.topology}@{m.seed}": s for m, s in zip(fitted, scores)}
