"""The rows of a topology table (benchmarks/topology_table.py): one trained (topology, seed) each,
read and written as CSV, averaged over seeds, and the split-half reliability of the ranking they
give."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.stats import f as f_distribution
from scipy.stats import spearmanr

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.topology import SkipTopology

COLUMNS = (
    "topology",
    "seed",
    "val_per_epoch",
    "val_score",
    "test_score",
    "dense",
    "effective_macs",
    "effective_acs",
    "energy_pj_per_step",
    "seconds",
)
# the floors issue 19 sets for the split-half reliability of a table's ranking, by task
TARGETS = {"bmi": 0.8, "vision": 0.6}


@dataclass
class Row:
    """One trained (topology, seed) (see the module docstring for the columns)."""

    topology: str
    val_per_epoch: list[float]
    val_score: float
    test_score: float
    dense: float
    effective_macs: float
    effective_acs: float
    energy_pj_per_step: float
    seconds: float
    seed: int = 0

    def cells(self) -> list[str]:
        values = [self.topology, str(self.seed), ";".join(f"{v:.6g}" for v in self.val_per_epoch)]
        values += [f"{getattr(self, c):.6g}" for c in COLUMNS[3:]]
        return values


def parse_row(record: dict[str, str], source: str) -> Row:
    """A CSV record as a :class:`Row` (a table without a ``seed`` column was built at seed 0).

    Raises:
        InputError: a missing or non-numeric cell.
    """
    try:
        return Row(
            topology=str(SkipTopology.from_string(record["topology"])),
            val_per_epoch=[float(v) for v in record["val_per_epoch"].split(";")],
            seed=int(record.get("seed") or 0),
            **{c: float(record[c]) for c in COLUMNS[3:]},
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(source, "row", f"the columns {', '.join(COLUMNS)} with numbers ({err})") from None


def read_rows(path: str | Path) -> dict[tuple[str, int], Row]:
    """Every row of a table CSV by (topology, seed) (empty when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {(row.topology, row.seed): row for row in (parse_row(r, str(path)) for r in csv.DictReader(f))}


def seed_means(rows: dict[tuple[str, int], Row]) -> dict[str, Row]:
    """Per topology, the mean over its seeds of every score, curve and cost (seconds summed)."""
    by_topology: dict[str, list[Row]] = {}
    for (topology, _), row in sorted(rows.items()):
        by_topology.setdefault(topology, []).append(row)
    means = {}
    for topology, group in by_topology.items():
        length = min(len(r.val_per_epoch) for r in group)
        fields = {c: float(np.mean([getattr(r, c) for r in group])) for c in COLUMNS[3:-1]}
        curve = np.mean([r.val_per_epoch[:length] for r in group], axis=0).tolist()
        means[topology] = Row(topology, curve, **fields, seconds=sum(r.seconds for r in group), seed=-1)
    return means


def read_table(path: str | Path) -> dict[str, Row]:
    """The seed-mean rows of a table CSV by topology (:func:`seed_means` of :func:`read_rows`)."""
    return seed_means(read_rows(path))


def split_half(rows: dict[tuple[str, int], Row], field: str = "val_score") -> dict:
    """Split-half reliability of the topology ranking: the Spearman correlation, over the
    topologies with every seed, between the mean ``field`` over one half of the seeds and over the
    other, for every split into halves (the first half smaller when the count is odd).

    Returns ``{"seeds", "topologies", "splits": [[half, other, rho], ...], "mean", "min"}``.
    """
    seeds = sorted({seed for _, seed in rows})
    topologies = sorted({t for t, _ in rows if all((t, s) in rows for s in seeds)})
    scores = np.array([[getattr(rows[(t, s)], field) for s in seeds] for t in topologies])
    splits = []
    for half in combinations(range(len(seeds)), len(seeds) // 2):
        other = [k for k in range(len(seeds)) if k not in half]
        if len(seeds) % 2 == 0 and half[0] != 0:
            continue  # with an even count each split appears twice
        rho = float(spearmanr(scores[:, list(half)].mean(axis=1), scores[:, other].mean(axis=1)).statistic)
        splits.append([[seeds[k] for k in half], [seeds[k] for k in other], rho])
    rhos = [rho for *_, rho in splits]
    return {
        "seeds": seeds,
        "topologies": len(topologies),
        "splits": splits,
        "mean": float(np.mean(rhos)) if rhos else None,
        "min": float(np.min(rhos)) if rhos else None,
    }


def variance_components(scores: np.ndarray) -> dict[str, float]:
    """The variance of one fit's score split into its parts, from ``scores`` (topologies, seeds),
    by a two-way random-effects ANOVA without replication.

    ``topologies``: the variance of the topologies' true scores; ``seeds``: of the seeds' effect
    on every topology alike (a seed whose batches suit all of them), which moves each half's
    means together and so leaves a ranking alone; ``residual``: what a seed does to one topology
    and not the others, the noise a ranking suffers. The first two are unbiased estimates, and
    come out negative when there is nothing to estimate.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] < 2 or scores.shape[1] < 2:
        raise ValueError(f"expected scores of 2 or more topologies x 2 or more seeds, got shape {scores.shape}")
    n_topologies, n_seeds = scores.shape
    rows, columns = scores.mean(axis=1, keepdims=True), scores.mean(axis=0, keepdims=True)
    residual = float(((scores - rows - columns + scores.mean()) ** 2).sum() / ((n_topologies - 1) * (n_seeds - 1)))
    return {
        "topologies": float(rows.var(ddof=1) - residual / n_seeds),
        "seeds": float(columns.var(ddof=1) - residual / n_topologies),
        "residual": residual,
    }


def spearman_brown(r1: float, seeds: float) -> float:
    """Reliability of a mean over ``seeds`` fits, each of reliability ``r1``."""
    return seeds * r1 / (1 + (seeds - 1) * r1) if r1 > 0 else 0.0


def seeds_needed(r1: float, target: float) -> int | None:
    """Seeds a table needs for its split-half reliability (halves of seeds / 2) to reach ``target``;
    None when topologies do not differ at all (``r1 <= 0``)."""
    if r1 <= 0:
        return None
    half = target * (1 - r1) / (r1 * (1 - target))
    return 2 * max(1, math.ceil(half - 1e-9))


def r1_upper(scores: np.ndarray, confidence: float = 0.95) -> float:
    """The upper confidence bound of ``r1`` from ``scores`` (topologies, seeds): the most the
    topologies can differ and still have given scores this alike, so a sample in which they do
    not differ at all still bounds the seeds a table needs. In the two-way ANOVA, the ratio of the
    topology and residual mean squares over ``1 + seeds * theta`` (theta = topologies / residual)
    follows F(topologies - 1, (topologies - 1)(seeds - 1))."""
    scores = np.asarray(scores, dtype=float)
    n_topologies, n_seeds = scores.shape
    residual = variance_components(scores)["residual"]
    if residual <= 0:  # every seed ranks the topologies alike: nothing but the topology varies
        return 1.0
    ratio = n_seeds * scores.mean(axis=1).var(ddof=1) / residual
    low = f_distribution.ppf(1 - confidence, n_topologies - 1, (n_topologies - 1) * (n_seeds - 1))
    theta = max(0.0, (ratio / low - 1) / n_seeds)
    return float(theta / (1 + theta))


def reliability(scores: np.ndarray, target: float) -> dict:
    """What the seeds of ``scores`` (topologies, seeds) say of a table's ranking: the SDs of its
    parts (:func:`variance_components`), the single-seed reliability ``r1`` = topologies /
    (topologies + residual), the split-half reliability a table at these seeds is expected to
    reach (halves of seeds / 2, by :func:`spearman_brown`), the seeds it needs for ``target``,
    and the same at the 95% upper bound of ``r1`` (:func:`r1_upper`): the fewest seeds that can
    do."""
    parts = variance_components(scores)
    r1 = parts["topologies"] / (parts["topologies"] + parts["residual"]) if parts["topologies"] > 0 else 0.0
    upper = r1_upper(scores)
    return {
        **{f"{name}_sd": math.sqrt(max(value, 0.0)) for name, value in parts.items()},
        "r1": r1,
        "split_half_projected": spearman_brown(r1, scores.shape[1] / 2),
        "seeds_needed": seeds_needed(r1, target),
        "r1_upper": upper,
        "seeds_needed_least": seeds_needed(upper, target),
    }


def write_table(path: Path, rows: dict[tuple[str, int], Row], order: list[str]) -> None:
    """Rewrite the CSV atomically, rows in counting order, then by seed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rank = {t: k for k, t in enumerate(order)}
    for key in sorted(rows, key=lambda k: (rank.get(k[0], len(rank)), k[1])):
        writer.writerow(rows[key].cells())
    write_text_atomic(path, buffer.getvalue())
