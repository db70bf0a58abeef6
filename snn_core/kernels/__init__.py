"""Fused multi-step LIF kernels: one pass over time forward, one backward, per backend.

:func:`lif_multi_step` runs a whole (T, ...) sequence of leaky integrate-and-fire neurons with
exactly ``snntorch.Leaky``'s dynamics (reset by subtraction, detached reset) as one
``torch.autograd.Function``: no autograd node per time step, and only the input is kept for the
backward pass, whose kernel recomputes the membrane trace block by block. Backends, picked by the tensor's device with ``backend="auto"``:

- ``"cpu"``: numba kernels (:mod:`snn_core.kernels.cpu`), parallel over blocks of neurons;
- ``"triton"``: Triton kernels for CUDA tensors (:mod:`snn_core.kernels.triton`);
- ``"eager"``: the reference loop of :meth:`snn_core.neurons.LIF.step`, one autograd node per
  step, which every backend is tested against (``tests/snn_core/test_lif_kernels.py``).

The backward pass follows from the dynamics (``d[t]`` = total gradient reaching ``mem[t]``)::

    d[t] = dL/dmem[t] + dL/dspk[t] * surrogate'(mem[t] - threshold) + beta * d[t + 1]
    dL/dx[t] = d[t],   dL/dbeta = sum_t d[t] * mem[t - 1],   dL/dmem0 = beta * d[0]
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

from snn_core.surrogate import Surrogate

BACKENDS = ("auto", "eager", "cpu", "triton")


def kernel_module(backend: str) -> ModuleType:
    """The module holding ``lif_forward`` / ``lif_backward`` for a fused backend (imported lazily:
    numba and triton load only when used)."""
    return importlib.import_module(f"snn_core.kernels.{backend}")


def pick_backend(backend: str, device: torch.device, surrogate: object) -> str:
    """The backend that will run: ``auto`` picks by device; a surrogate that is not one of
    :mod:`snn_core.surrogate`'s (any other callable) can only run eagerly."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if not isinstance(surrogate, Surrogate):
            return "eager"
        return "triton" if device.type == "cuda" else "cpu" if device.type == "cpu" else "eager"
    if backend != "eager" and not isinstance(surrogate, Surrogate):
        raise ValueError(f"the {backend} backend needs a surrogate from snn_core.surrogate, got {surrogate!r}")
    if backend == "cpu" and device.type != "cpu":
        raise ValueError(f"the cpu backend runs tensors on the CPU, got a tensor on {device}")
    return backend


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mem0, beta, threshold, surrogate, backend, return_mem):  # type: ignore[override]
        steps, shape = x.shape[0], x.shape[1:]
        b = beta.detach().float().clamp(0, 1)
        flat_beta = b.reshape(1) if b.numel() == 1 else b.expand(shape).reshape(-1).contiguous()
        flat_mem0 = mem0.detach().float().expand(shape).reshape(-1).contiguous()
        kernels = kernel_module(backend)
        flat_x = x.detach().float().reshape(steps, -1).contiguous()
        spk, mem = kernels.lif_forward(flat_x, flat_mem0, flat_beta, threshold, return_mem)
        ctx.save_for_backward(flat_x, flat_mem0, flat_beta, beta)
        ctx.threshold, ctx.surrogate, ctx.kernels, ctx.x_dtype = threshold, surrogate, kernels, x.dtype
        ctx.shapes = (x.shape, mem0.shape)
        ctx.set_materialize_grads(False)
        return spk.view(x.shape), (mem.view(x.shape) if return_mem else None)

    @staticmethod
    def backward(ctx, grad_spk, grad_mem):  # type: ignore[override]
        flat_x, flat_mem0, flat_beta, beta = ctx.saved_tensors
        x_shape, mem0_shape = ctx.shapes
        flat = (x_shape[0], -1)
        grad_spk = torch.zeros_like(flat_x) if grad_spk is None else grad_spk.float().reshape(flat).contiguous()
        grad_mem = None if grad_mem is None else grad_mem.float().reshape(flat).contiguous()
        grad_x, grad_mem0, grad_beta = ctx.kernels.lif_backward(
            grad_spk,
            grad_mem,
            flat_x,
            flat_mem0,
            flat_beta,
            ctx.threshold,
            ctx.surrogate.code,
            ctx.surrogate.param,
            ctx.needs_input_grad[2],
        )
        if grad_beta is not None:
            # clamp(0, 1) passes the gradient only inside [0, 1], as torch's clamp does
            inside = (beta >= 0) & (beta <= 1)
            grad_beta = grad_beta.view(x_shape[1:]).sum_to_size(beta.shape) * inside
        if ctx.needs_input_grad[1]:
            grad_mem0 = grad_mem0.view(x_shape[1:]).sum_to_size(mem0_shape)
        else:
            grad_mem0 = None
        return grad_x.view(x_shape).to(ctx.x_dtype), grad_mem0, grad_beta, None, None, None, None


def lif_multi_step(
    x: torch.Tensor,
    mem0: torch.Tensor,
    beta: torch.Tensor,
    threshold: float,
    surrogate: Surrogate,
    backend: str,
    return_mem: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Spikes and, when ``return_mem``, the membrane trace (both shaped like ``x``) of LIF
    neurons over a whole sequence.

    Args:
        x: synaptic input, time-major (T, batch, ...); any float dtype, computed in float32.
        mem0: initial membrane, broadcastable to ``x.shape[1:]``.
        beta: decay, broadcastable to ``x.shape[1:]`` (a scalar, or one per neuron); clamped to
            [0, 1] as snnTorch does, and differentiable when it requires grad.
        threshold: firing threshold; ``inf`` makes a non-spiking leaky integrator.
        surrogate: the spike's surrogate gradient.
        backend: ``"cpu"`` or ``"triton"`` (see :func:`pick_backend`).
        return_mem: also return the membrane trace (otherwise it is never stored).
    """
    return _FusedLIF.apply(x, mem0, beta, float(threshold), surrogate, backend, return_mem)
