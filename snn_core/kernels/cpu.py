"""The CPU backend of the fused LIF: numba kernels, parallel over blocks of neurons.

Each kernel runs the whole time loop for one block of neurons, with the block's state in a small
local array, so a thread touches only its own columns of the (T, N) arrays and the inner loop
over neurons vectorises. numba compiles the kernels on first use and caches them on disk, so
nothing needs a compiler at install time. The arithmetic is float32 in snnTorch's order, which
keeps spikes bit-identical to ``snntorch.Leaky``.

The membrane trace is not kept for the backward pass: the backward kernel recomputes it per
block from the input, into a scratch array that stays in cache. On large layers (a 64 x 48 x 48
convolution's output at batch 32 is 4.7 M neurons) this halves the memory written by the forward
pass, and fresh large arrays are expensive on the CPU: every page is faulted in on first write.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

# Neurons per parallel task: up to 1,024 (a 4 KB row of state), fewer for long sequences so that
# the backward pass's recomputed (T, block) membrane trace stays within 256 KB of cache.
MAX_BLOCK, SCRATCH_FLOATS = 1024, 65536


def block_size(steps: int) -> int:
    return int(max(16, min(MAX_BLOCK, SCRATCH_FLOATS // max(steps, 1) // 16 * 16)))


@numba.njit(inline="always")
def _surrogate_grad(code: int, param: np.float32, u: np.float32) -> np.float32:
    # The derivatives of snn_core.surrogate, by their ``code``, in float32.
    if code == 0:
        c = np.float32(math.pi / 2) * param
        return (param / np.float32(2)) / (np.float32(1) + (c * u) * (c * u))
    if code == 1:
        s = param * abs(u) + np.float32(1)
        return np.float32(1) / (s * s)
    if code == 2:
        e = np.exp(-param * u)
        return param * e / ((e + np.float32(1)) * (e + np.float32(1)))
    return np.float32(1)


@numba.njit(inline="always")
def _lif_update(prev: np.float32, x: np.float32, beta: np.float32, threshold: np.float32) -> np.float32:
    # snnTorch's order: (beta * mem + x) - reset * threshold, reset detached. A conditional
    # instead of the product keeps a never-reached (infinite) threshold from giving 0 * inf.
    m = beta * prev + x
    return m - threshold if prev - threshold > 0 else m


@numba.njit(parallel=True, cache=True)
def _forward(x, mem0, beta, threshold, block, spk, mem, keep_mem):  # pragma: no cover - compiled
    steps, n = x.shape
    per_neuron = beta.shape[0] > 1
    for b in numba.prange((n + block - 1) // block):
        lo, hi = b * block, min(b * block + block, n)
        state = mem0[lo:hi].copy()
        decay = beta[lo:hi].copy() if per_neuron else np.full(hi - lo, beta[0], np.float32)
        for t in range(steps):
            for j in range(hi - lo):
                m = _lif_update(state[j], x[t, lo + j], decay[j], threshold)
                state[j] = m
                spk[t, lo + j] = np.float32(1) if m - threshold > 0 else np.float32(0)
            if keep_mem:
                mem[t, lo:hi] = state


@numba.njit(parallel=True, cache=True)
def _backward(
    grad_spk, grad_mem, has_grad_mem, x, mem0, beta, threshold, code, param, block, grad_x, grad_mem0, grad_beta
):  # pragma: no cover
    steps, n = x.shape
    per_neuron = beta.shape[0] > 1
    for b in numba.prange((n + block - 1) // block):
        lo, hi = b * block, min(b * block + block, n)
        width = hi - lo
        decay = beta[lo:hi].copy() if per_neuron else np.full(width, beta[0], np.float32)
        trace = np.empty((steps + 1, width), np.float32)  # trace[t + 1] = mem[t], trace[0] = mem0
        trace[0] = mem0[lo:hi]
        for t in range(steps):
            for j in range(width):
                trace[t + 1, j] = _lif_update(trace[t, j], x[t, lo + j], decay[j], threshold)
        # d = total gradient reaching mem[t]: its own output, its spike, and mem[t + 1] via beta
        d = np.zeros(width, np.float32)
        acc = np.zeros(width, np.float32)
        for t in range(steps - 1, -1, -1):
            for j in range(width):
                g = grad_spk[t, lo + j] * _surrogate_grad(code, param, trace[t + 1, j] - threshold) + decay[j] * d[j]
                if has_grad_mem:
                    g += grad_mem[t, lo + j]
                d[j] = g
                grad_x[t, lo + j] = g
                acc[j] += g * trace[t, j]
        grad_mem0[lo:hi] = decay * d
        grad_beta[lo:hi] = acc


def _threads() -> None:
    # honour torch's thread setting (e.g. torch.set_num_threads(1) beside other work)
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def lif_forward(
    x: torch.Tensor, mem0: torch.Tensor, beta: torch.Tensor, threshold: float, return_mem: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Spikes (T, N), and the membrane trace when ``return_mem``, for input ``x`` (T, N).

    ``mem0`` (N,) is the initial membrane; ``beta`` has shape (1,) or (N,), already clamped to
    [0, 1]; all contiguous float32 on the CPU.
    """
    _threads()
    spk = torch.empty_like(x)
    mem = torch.empty_like(x) if return_mem else spk[:0]
    _forward(
        x.numpy(), mem0.numpy(), beta.numpy(), np.float32(threshold), block_size(x.shape[0]), spk.numpy(), mem.numpy(), return_mem
    )
    return spk, (mem if return_mem else None)


def lif_backward(
    grad_spk: torch.Tensor,
    grad_mem: torch.Tensor | None,
    x: torch.Tensor,
    mem0: torch.Tensor,
    beta: torch.Tensor,
    threshold: float,
    surrogate_code: int,
    surrogate_param: float,
    beta_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gradients for the input (T, N), the initial membrane (N,) and, when ``beta_grad``, beta
    per element (N,), recomputing the membrane trace from the forward's input ``x``."""
    _threads()
    grad_x, grad_mem0, grad_beta = torch.empty_like(x), torch.empty_like(mem0), torch.empty_like(mem0)
    has_grad_mem = grad_mem is not None
    _backward(
        grad_spk.numpy(),
        (grad_mem if has_grad_mem else grad_spk).numpy(),
        has_grad_mem,
        x.numpy(),
        mem0.numpy(),
        beta.numpy(),
        np.float32(threshold),
        surrogate_code,
        np.float32(surrogate_param),
        block_size(x.shape[0]),
        grad_x.numpy(),
        grad_mem0.numpy(),
        grad_beta.numpy(),
    )
    return grad_x, grad_mem0, grad_beta if beta_grad else None
