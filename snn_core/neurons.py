"""Leaky integrate-and-fire neurons, snnTorch-compatible.

The dynamics are those of ``snntorch.Leaky`` with reset by subtraction (its default)::

    reset[t] = H(mem[t-1] - threshold)          (detached, as snnTorch does)
    mem[t]   = clamp(beta, 0, 1) * mem[t-1] + input[t] - reset[t] * threshold
    spk[t]   = surrogate(mem[t] - threshold)    (Heaviside forward, surrogate backward)

so that a model trained here and one built from ``snntorch.Leaky`` agree spike for spike. One
neuron has two forms: :meth:`LIF.forward` runs a whole time-major sequence (training), and
:meth:`LIF.step` advances one step with explicit state (streaming). ``forward`` runs the fused
kernels of :mod:`snn_core.kernels` (numba on the CPU, Triton on CUDA: one pass over time forward,
one backward); the loop over :meth:`LIF.step` is their reference (``backend="eager"``) and what
recurrent layers use, since their input at step t depends on their spikes at t - 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snn_core.kernels import lif_multi_step, pick_backend
from snn_core.surrogate import ATan


class LIF(nn.Module):
    """A layer of leaky integrate-and-fire neurons.

    Args:
        beta: membrane decay per step, in [0, 1]; a float, or a tensor of one value per neuron.
        threshold: firing threshold.
        spike_grad: surrogate gradient: one of :mod:`snn_core.surrogate` (``ATan()``, snnTorch's
            default, when None), which the fused kernels run; any other callable, e.g. from
            ``snntorch.surrogate``, runs on the eager loop.
        learn_beta: make ``beta`` a trained parameter.
        backend: ``"auto"`` (fused: numba on CPU, Triton on CUDA), ``"cpu"``, ``"triton"`` or
            ``"eager"`` (the per-step reference loop); see :mod:`snn_core.kernels`.
    """

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float = 1.0,
        spike_grad: Callable[[torch.Tensor], torch.Tensor] | None = None,
        learn_beta: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        beta_t = torch.as_tensor(beta, dtype=torch.float32).clone()
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        self.threshold = float(threshold)
        self.spike_grad = spike_grad if spike_grad is not None else ATan()
        pick_backend(backend, torch.device("cpu"), self.spike_grad)  # rejects unknown names now
        self.backend = backend

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
        backend = pick_backend(self.backend, current.device, self.spike_grad)
        if backend != "eager":
            mem0 = current.new_zeros(()) if mem is None else mem
            spk_seq, mem_seq = lif_multi_step(current, mem0, self.beta, self.threshold, self.spike_grad, backend, return_mem)
            return (spk_seq, mem_seq) if return_mem else spk_seq
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
