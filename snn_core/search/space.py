"""The search space: a skip topology as Optuna trial parameters, and back.

Every upper-triangle entry of every block is one categorical parameter ``b{block}_{i}_{j}`` with
choices 0 (none), 1 (DSC) and 2 (ASC), so the sampler sees all three decisions at once (position,
type and number of skips, as Benmeziane et al. 2023 optimise them) and every topology counted by
:func:`~snn_core.topology.search_space_size` can be drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from optuna.trial import FrozenTrial, Trial, TrialState

from snn_core.topology import ASC, DSC, NONE, SkipTopology


def suggest_topology(trial: Trial, layers_per_block: Sequence[int]) -> SkipTopology:
    """Draw a topology with one categorical parameter ``b{block}_{i}_{j}`` per upper-triangle entry.

    The text form is stored as the trial's user attribute ``"topology"``.
    """
    matrices = []
    for block, n in enumerate(layers_per_block):
        m = np.zeros((n, n), dtype=int)
        for i, j in zip(*np.triu_indices(n, k=1)):
            m[i, j] = trial.suggest_categorical(f"b{block}_{i}_{j}", (NONE, DSC, ASC))
        matrices.append(m)
    topology = SkipTopology(matrices)
    trial.set_user_attr("topology", str(topology))
    return topology


def topology_params(topology: SkipTopology) -> dict[str, int]:
    """``topology`` as the trial parameters of :func:`suggest_topology`, e.g. to enqueue it."""
    matrices = enumerate(topology.matrices())
    return {f"b{k}_{i}_{j}": int(m[i, j]) for k, m in matrices for i, j in zip(*np.triu_indices(len(m), k=1))}


def trial_topology(trial: FrozenTrial) -> str | None:
    """The topology a trial trains: its user attribute, or for a queued trial its fixed parameters."""
    if "topology" in trial.user_attrs:
        return trial.user_attrs["topology"]
    fixed = trial.system_attrs.get("fixed_params")
    if trial.state == TrialState.WAITING and fixed:
        blocks = sorted({name.split("_")[0] for name in fixed}, key=lambda block: int(block[1:]))
        matrices = []
        for block in blocks:
            entries = {tuple(map(int, k.split("_")[1:])): v for k, v in fixed.items() if k.split("_")[0] == block}
            n = max(j for _, j in entries) + 1
            m = np.zeros((n, n), dtype=int)
            for (i, j), v in entries.items():
                m[i, j] = v
            matrices.append(m)
        return str(SkipTopology(matrices))
    return None
