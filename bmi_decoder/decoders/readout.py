"""The SNN decoders' velocity readout: a leaky, non-spiking integrator of the last layer's spikes,
as in NeuroBench's SNN baselines, so 4 ms spike trains become a continuous velocity."""

from __future__ import annotations

import math

import torch
from torch import nn

from snn_core.kernels import lif_multi_step, pick_backend
from snn_core.surrogate import ATan

# The readout never spikes, so its surrogate never sees a finite input: ATan's derivative at
# mem - inf is exactly 0.
NEVER_FIRES = ATan()


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator: ``v[t] = beta * v[t-1] + W s[t] + b``.

    Over a sequence it runs as a LIF neuron whose threshold is never reached (infinite), so the
    fused kernels of :mod:`snn_core.kernels` run its time loop too.
    """

    def __init__(self, n_in: int, n_out: int, beta: float) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.register_buffer("beta", torch.tensor(float(beta)))

    def step(self, spikes: torch.Tensor, v: torch.Tensor | None) -> torch.Tensor:
        current = self.linear(spikes)
        return current if v is None else self.beta * v + current

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return leaky_integrate(self.linear(spikes.flatten(0, 1)).unflatten(0, spikes.shape[:2]), self.beta)


def leaky_integrate(current: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``v[t] = beta * v[t-1] + current[t]`` from ``v = 0`` over a time-major sequence."""
    backend = pick_backend("auto", current.device, NEVER_FIRES)
    if backend != "eager":
        return lif_multi_step(current, current.new_zeros(()), beta, math.inf, NEVER_FIRES, backend, return_mem=True)[1]
    v, out = torch.zeros_like(current[0]), []
    for current_t in current:
        v = beta * v + current_t
        out.append(v)
    return torch.stack(out)
