"""A budget of synaptic operations per step, kept while an SNN decoder trains.

A neuromorphic core is sized in synaptic operations per step as much as in bytes. NeuroBench
counts an accumulate (AC) for every non-zero binary input of a synapse times the synapse's
fan-out; in a feed-forward block without addition-type skips every input is a spike or a 0/1
bin, so a block's effective ACs per step are, over its nodes (the block input and each layer's
spikes), the node's active inputs per step times the widths that read it (the next layer, the
layers that concatenate it, the readout; a recurrent layer's own width too). The input's share is
fixed by the recording; the spikes' share is what training sets.

:class:`SynopMeter` counts that while the network trains, differentiably (through the LIF
surrogate gradient), for one network or a population of them, and its penalty, added to the
loss, is ``PENALTY * relu(acs / budget - 1)``: nothing under the budget, and above it a cost that
grows with the excess, so that a decoder spends spikes where they buy accuracy and stays under
the budget on the recordings it learns from. An addition-type skip sums spikes into values
above 1, which NeuroBench counts as MACs; the meter counts such a sum as its spikes' ACs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from snn_core.population import PopulationNetwork
from snn_core.topology import SkipTopology

# the penalty's weight: steep enough to act as a limit. At 1 (against the loss on standardised
# velocity, about 0.3 when decoding well) snn_small on a 192-channel session settled at 600 ACs
# under a budget of 450; at 10 it kept 435, at the same best validation R2
PENALTY = 10.0


def node_fanouts(topology: str, widths: Sequence[int], outputs: int = 2, recurrent: bool = False) -> list[int]:
    """Per node of a one-block network (0: the block input, k: layer k's spikes), the synapses
    one active input of it reaches: the widths of the layers that read it by the chain or a skip,
    the readout's ``outputs`` for the last, and a recurrent layer's own width."""
    parsed = SkipTopology.from_string(topology)
    if len(parsed.layers_per_block) != 1:
        raise ValueError(f"a budget of synaptic operations needs one block, got topology {topology}")
    layers = len(widths)
    fanouts = [widths[n] if n < layers else outputs for n in range(layers + 1)]
    for k in range(layers):
        for i, _ in parsed.sources(0, k):
            fanouts[i] += widths[k]
        if recurrent:
            fanouts[k + 1] += widths[k]
    return fanouts


class SynopMeter:
    """Effective ACs per step of a network (or each member of a population) as it trains.

    Args:
        body: the network's :class:`~snn_core.network.SkipNetwork` or
            :class:`~snn_core.population.PopulationNetwork` (one dense block); forward hooks on
            its spiking layers record their spikes in training mode only, so validation and
            decoding cost nothing.
        input_active: active (non-zero) input channels per step of the training data.
    """

    def __init__(self, body: nn.Module, input_active: float) -> None:
        population = isinstance(body, PopulationNetwork)
        topologies = body.topologies if population else [body.spec.topology]
        widths = body.spec.widths[0]
        fanouts = np.array([node_fanouts(t, widths, recurrent=body.spec.recurrent) for t in topologies], dtype=np.float32)
        self.input_acs = torch.from_numpy(input_active * fanouts[:, 0])  # (M,)
        self.fanouts = torch.from_numpy(fanouts[:, 1:])  # (M, layers)
        self.rates: dict[int, torch.Tensor] = {}
        # a solo layer's spikes pass its activity probe, recurrent or not (a recurrent layer steps
        # its LIF one bin at a time); a population's leave its LIF whole
        spiking = [layer.neuron for layer in body.blocks[0]] if population else [layer.probe for layer in body.blocks[0].layers]
        self.hooks = [module.register_forward_hook(self._recorder(k)) for k, module in enumerate(spiking)]

    def close(self) -> None:
        """Remove the hooks: the fitted network no longer records."""
        for hook in self.hooks:
            hook.remove()
        self.rates.clear()

    def _recorder(self, k: int):
        def record(module: nn.Module, args: tuple, spikes: torch.Tensor) -> None:
            if module.training:
                # (T, batch[, M], width) -> active spikes per step, for each member
                self.rates[k] = spikes.sum(-1).flatten(0, 1).mean(0)

        return record

    def acs(self) -> torch.Tensor:
        """Effective ACs per step of each member (shape (M,)) over the last training forward pass."""
        device = next(iter(self.rates.values())).device if self.rates else self.fanouts.device
        fanouts = self.fanouts.to(device)
        spikes = sum((self.rates[k] * fanouts[:, k] for k in sorted(self.rates)), torch.zeros_like(fanouts[:, 0]))
        return self.input_acs.to(device) + spikes

    def penalty(self, budget: float) -> torch.Tensor:
        """``PENALTY * relu(acs / budget - 1)`` per member, from the last training forward pass."""
        cost = PENALTY * torch.relu(self.acs() / budget - 1)
        self.rates.clear()
        return cost


def input_active(X: np.ndarray) -> float:
    """Active input channels per step: bins holding a spike, each an AC per synapse it reaches."""
    return float(np.count_nonzero(X, axis=1).mean())
