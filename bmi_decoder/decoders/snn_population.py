"""Many SNN decoders fitted as one population: every topology and seed of a search at once.

:func:`fit_population` fits one :class:`~bmi_decoder.decoders.snn.SNNDecoder` per (topology,
seed) member with the settings of a template decoder, and returns them fitted, each equal (to
float tolerance) to the same decoder fitted alone (``tests/bmi_decoder/test_snn_population.py``):
the same initial weights (each member's network is built from its own seed), the same batch
order, per-member gradient clipping and early stopping, and the same best-epoch weights
(:mod:`snn_core.population_training`). What is shared is the kernels: a layer of all members is
one batched matmul, the LIF one fused pass over members x neurons.

Memory: the validation segment is decoded by all members of a group at once, so members are
fitted in groups sized to ``memory_gb`` (and members of one seed are grouped together: they read
the same batches, so their first layer is one wide matmul over a shared input).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bmi_decoder.evaluation import r2_score
from snn_core.errors import InputError
from snn_core.population import PopulationNetwork, StackedLinear
from snn_core.population_training import train_population
from snn_core.training import data_digest, seeded_torch

from ._base import clone, train_validation
from ._torch import _TorchDecoder
from ._training import LabelScaler, chunk_rows, training_device
from .readout import leaky_integrate
from .snn_network import SpikingVelocityNet
from .snn_synops import SynopMeter, input_active

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


class PopulationVelocityNet(nn.Module):
    """:class:`SpikingVelocityNet`\\ s of one shape stacked: (T, batch, M, F) -> (T, batch, M, 2)."""

    def __init__(self, networks: Sequence[SpikingVelocityNet]) -> None:
        super().__init__()
        self.body = PopulationNetwork.from_networks([n.body for n in networks])
        members = len(networks)
        self.readout = StackedLinear(members, self.body.out_size, 2)
        self.register_buffer("beta", networks[0].readout.beta.clone())
        with torch.no_grad():
            for m, net in enumerate(networks):
                self.readout.weight[m] = net.readout.linear.weight
                self.readout.bias[m] = net.readout.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leaky_integrate(self.readout(self.body(x)), self.beta)

    def member(self, m: int, network: SpikingVelocityNet) -> SpikingVelocityNet:
        """Write member ``m``'s weights into ``network`` (a solo net of its topology) and return it."""
        self.body.member(m, network.body)
        with torch.no_grad():
            network.readout.linear.weight.copy_(self.readout.weight[m])
            network.readout.linear.bias.copy_(self.readout.bias[m])
        return network


def group_size(decoder: _TorchDecoder, n_features: int, val_bins: int, memory_gb: float) -> int:
    """Members per group such that decoding ``val_bins`` at once stays near ``memory_gb``.

    Per member and bin the forward pass holds the block input's share, each layer's widest input
    (the chain input plus every concatenated node) and its output: about four floats per unit.
    """
    widths = list(decoder.hidden)
    per_bin = n_features + sum(n_features + sum(widths[:k]) + widths[k] for k in range(len(widths)))
    per_member = 4 * 4 * per_bin * max(val_bins, 1)
    return max(1, int(memory_gb * 2**30 // per_member))


def fit_population(
    template: _TorchDecoder,
    members: Sequence[tuple[str, int]],
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    *,
    memory_gb: float = 2.0,
    precision: str = "float32",
    progress_dir: str | Path | None = None,
    progress: bool = True,
) -> list[_TorchDecoder]:
    """Fit one decoder per ``(topology, seed)`` member with ``template``'s other settings.

    Args:
        template: an :class:`~bmi_decoder.decoders.snn.SNNDecoder` (or ``SmallSNNDecoder``) whose
            parameters every member takes, but ``topology`` and ``seed``; feed-forward only. (Typed
            as their base: the SNN decoders import this module for ``topology="auto"``.)
        members: the (topology, seed) pairs, in the order of the result.
        X, y, X_val, y_val: as :meth:`SNNDecoder.fit` (validation split off the end of ``X``
            when not given).
        memory_gb: about how much memory a group of members may use (see :func:`group_size`).
        precision: ``"float32"`` (members equal solo fits to float tolerance) or ``"bfloat16"``:
            the synapses' matmuls under bfloat16 autocast, several times faster on CPUs with AMX
            (and on GPUs); spikes are exact in bfloat16, and the LIF and readout integrate in
            float32 either way.
        progress_dir: a progress file per group is kept here, so an interrupted fit resumes at
            the epoch it reached (None: no files).
        progress: a tqdm bar per group.

    Returns:
        The fitted decoders. Each has ``validation_r2_`` (its curve, ending where it stopped)
        and ``fit_seconds_``: its share of its group's training time.

    Raises:
        InputError: a template setting population training cannot run (recurrence), or a
            member topology that does not fit ``hidden``.
    """
    X, y, X_val, y_val = train_validation(X, y, X_val, y_val)
    template.check_params()
    if precision not in PRECISIONS:
        raise InputError(f"{template.name} population", "precision", f"one of {', '.join(PRECISIONS)}, got {precision!r}")
    if template.recurrent:
        raise InputError(
            f"{template.name} decoder", "recurrent", "false for population training (recurrent layers step one bin at a time)"
        )
    # a member is one network, whatever the template's ensemble (the default's four are members too)
    decoders = [
        clone(template).set_params(topology=t, seed=int(s), ensemble=1, progress=False, progress_file=None) for t, s in members
    ]
    for decoder in decoders:
        decoder.check_params()
        decoder._spec(X.shape[1])  # a topology that does not fit ``hidden`` is refused now
    device = training_device(template)
    scaler = LabelScaler(y)
    inputs = torch.from_numpy(X.astype(np.float32)).to(device)
    targets = torch.from_numpy(scaler.encode(y)).to(device)
    val_inputs = torch.from_numpy(X_val.astype(np.float32)).to(device)
    digest = data_digest(X, y, X_val, y_val)
    size = group_size(template, X.shape[1], len(X_val), memory_gb)
    # members of one seed together (they share their batches), then by topology: the first
    # digits of the text form are the skips of the block input, the widest source, so
    # neighbours share them and need no mask for them (snn_core.population)
    order = sorted(range(len(decoders)), key=lambda i: (decoders[i].seed, decoders[i].topology))
    groups = [order[g : g + size] for g in range(0, len(order), size)]
    active = input_active(X)  # the block input's share of the operations, the same for every group
    for k, group in enumerate(groups):
        _fit_group(
            [decoders[i] for i in group],
            template,
            inputs,
            targets,
            val_inputs,
            y_val,
            scaler,
            active,
            None if progress_dir is None else Path(progress_dir) / f"group{k:04d}.pt",
            {"template": template.get_params(), "members": [members[i] for i in group], "data": digest, "precision": precision},
            PRECISIONS[precision],
            progress,
            f"population {k + 1}/{len(groups)}",
        )
    return decoders


def _fit_group(
    decoders: list[_TorchDecoder],
    template: _TorchDecoder,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    val_inputs: torch.Tensor,
    y_val: np.ndarray,
    scaler: LabelScaler,
    active_inputs: float,
    checkpoint: Path | None,
    identity: dict,
    precision: torch.dtype | None,
    progress: bool,
    desc: str,
) -> None:
    device, count = inputs.device, len(decoders)
    seeds = [d.seed for d in decoders]
    shared = len(set(seeds)) == 1
    solo = []
    for d in decoders:
        with seeded_torch(d.seed, device):  # the weights the seed gives alone, built on the CPU
            solo.append(d._build_network(inputs.shape[1]))
    model = PopulationVelocityNet(solo).to(device)
    burn_in, budget = template.burn_in_bins, float(template.synop_budget)
    meter = SynopMeter(model.body, active_inputs) if budget else None

    def members_view(batch: torch.Tensor, rows: list[np.ndarray]) -> torch.Tensor:
        if shared:  # one batch for all: a broadcast view, not M copies
            picked = batch[torch.from_numpy(rows[0]).to(device)].transpose(0, 1).contiguous()
            return picked.unsqueeze(2).expand(-1, -1, count, -1)
        return torch.stack([batch[torch.from_numpy(r).to(device)].transpose(0, 1) for r in rows], dim=2)

    def epoch_batches(rngs: list[np.random.Generator]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for rows in zip(*(chunk_rows(rng, len(inputs), template.chunk_bins, template.batch_size) for rng in rngs)):
            yield members_view(inputs, list(rows)), members_view(targets, list(rows))

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        out = model(batch[0])
        loss = (out[burn_in:] - batch[1][burn_in:]).pow(2).mean(dim=(0, 1, 3))
        return loss if meter is None else loss + meter.penalty(budget)

    def validate() -> np.ndarray:
        out = model(val_inputs[:, None, None, :].expand(-1, 1, count, -1))[:, 0].cpu().numpy()
        return np.array([r2_score(y_val, scaler.decode(out[:, m])) for m in range(count)])

    start = time.perf_counter()
    result = train_population(
        model,
        torch.optim.Adam(model.parameters(), lr=template.lr),
        epoch_batches,
        loss_fn,
        validate,
        members=count,
        seeds=seeds,
        max_epochs=template.max_epochs,
        patience=template.patience,
        clip_grad_norm=float(template.grad_clip) or None,
        average_decay=float(template.weight_average) or None,
        precision=precision,
        checkpoint=checkpoint,
        identity=identity,
        progress=progress,
        desc=desc,
    )
    share = (time.perf_counter() - start) / count
    if meter is not None:
        meter.close()
    model.cpu()
    for m, (d, net) in enumerate(zip(decoders, solo)):
        d.n_features_in_ = inputs.shape[1]
        d.label_scaler_ = scaler
        d.network_ = model.member(m, net).to(device).eval()
        d.validation_r2_ = result.curves[m]
        d.fit_seconds_ = share
