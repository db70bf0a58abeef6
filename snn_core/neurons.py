"""Leaky integrate-and-fire neurons, snnTorch-compatible.

The dynamics are those of ``snntorch.Leaky`` with reset by subtraction (its default)::

    reset[t] = H(mem[t-1] - threshold)          (detached, as snnTorch does)
    mem[t]   = clamp(beta, 0, 1) * mem[t-1] + input[t] - reset[t] * threshold
    spk[t]   = surrogate(mem[t] - threshold)    (Heaviside forward, surrogate backward)

so that a model trained here and one built from ``snntorch.Leaky`` agree spike for spike. One
neuron has two forms: :meth:`LIF.forward` runs a whole time-major sequence (training), and
:meth:`LIF.step` advances one step with explicit state (streaming).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from snntorch import surrogate
from torch import nn


def atan_surrogate(x: torch.Tensor) -> torch.Tensor:
    """snnTorch's default surrogate, ``surrogate.atan(alpha=2.0)``, as a module-level function:
    ``surrogate.atan()`` returns a closure, which cannot be pickled into a saved model."""
    return surrogate.ATan.apply(x, 2.0)


class LIF(nn.Module):
    """A layer of leaky integrate-and-fire neurons.

    Args:
        beta: membrane decay per step, in [0, 1]; a float, or a tensor of one value per neuron.
        threshold: firing threshold.
        spike_grad: surrogate gradient from ``snntorch.surrogate``; arctan (snnTorch's default,
            :func:`atan_surrogate`) when None.
        learn_beta: make ``beta`` a trained parameter.
    """

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float = 1.0,
        spike_grad: Callable[[torch.Tensor], torch.Tensor] | None = None,
        learn_beta: bool = False,
    ) -> None:
        super().__init__()
        beta_t = torch.as_tensor(beta, dtype=torch.float32).clone()
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        self.threshold = float(threshold)
        self.spike_grad = spike_grad if spike_grad is not None else atan_surrogate

    def step(self, current: torch.Tensor, mem: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one time step.

        Args:
            current: synaptic input at this step, (batch, ...).
            mem: membrane potential after the previous step; zeros when None.

        Returns:
            (spikes, membrane) after this step.
        """
        if mem is None:
            mem = torch.zeros_like(current)
        reset = self.spike_grad(mem - self.threshold).detach()
        mem = self.beta.clamp(0, 1) * mem + current - reset * self.threshold
        return self.spike_grad(mem - self.threshold), mem

    def forward(
        self, current: torch.Tensor, mem: torch.Tensor | None = None, return_mem: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run a whole sequence.

        Args:
            current: synaptic input, time-major (T, batch, ...).
            mem: initial membrane potential (batch, ...); zeros when None.
            return_mem: also return the membrane trace (T, batch, ...).

        Returns:
            Spikes (T, batch, ...), and the membrane trace when ``return_mem``.
        """
        spikes, trace = [], []
        for current_t in current:
            spk, mem = self.step(current_t, mem)
            spikes.append(spk)
            trace.append(mem)
        spk_seq = torch.stack(spikes)
        return (spk_seq, torch.stack(trace)) if return_mem else spk_seq

    def extra_repr(self) -> str:
        beta = self.beta.item() if self.beta.numel() == 1 else f"tensor({tuple(self.beta.shape)})"
        return f"beta={beta}, threshold={self.threshold}, learn_beta={isinstance(self.beta, nn.Parameter)}"
