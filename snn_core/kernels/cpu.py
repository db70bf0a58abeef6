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

Threads: a call below :data:`SERIAL_BELOW` neuron-steps, or with a single block, runs on the
calling thread alone; larger ones use torch's thread count. The threads claim blocks one at a
time from a shared counter rather than splitting them evenly in advance, so a thread sharing its
core with another process (data loading, a second job) does less of the work instead of holding
everyone up at the end of the region (issue 19, item 7). Results do not depend on the thread
count: every neuron's arithmetic is the same whichever thread runs its block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
import torch
from numba import types
from numba.extending import intrinsic

from snn_core.surrogate_formulas import SurrogateCode, bind

# Neurons per parallel task: up to 1,024 (a 4 KB row of state), fewer for long sequences so that
# the backward pass's recomputed (T, block) membrane trace stays within 256 KB of cache.
MAX_BLOCK, SCRATCH_FLOATS = 1024, 65536


def block_size(steps: int) -> int:
    return int(max(16, min(MAX_BLOCK, SCRATCH_FLOATS // max(steps, 1) // 16 * 16)))


# The surrogate derivatives of snn_core.surrogate_formulas, in float32: their constants are
# numpy.float32, since numba would widen float32 to float64 against a Python literal. numba's disk
# cache of the kernels below is keyed on this file only: after editing a formula, touch this file
# (test_surrogate_extremes compares these kernels with the eager formulas, and catches a stale one).
_SURROGATES = bind(np, np.float32, compile=numba.njit(inline="always"), module=__name__)
_surrogate_grad = _SURROGATES.surrogate_grad


@numba.njit(inline="always")
def _lif_update(prev: np.float32, x: np.float32, beta: np.float32, threshold: np.float32) -> np.float32:
    # snnTorch's order: (beta * mem + x) - reset * threshold, reset detached. A conditional
    # instead of the product keeps a never-reached (infinite) threshold from giving 0 * inf.
    m = beta * prev + x
    return m - threshold if prev - threshold > 0 else m


@intrinsic
def _claim(typingctx, counter):  # pragma: no cover - compiled
    """``counter[0] += 1`` atomically, returning the old value: the next block for the caller."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.atomic_rmw("add", data, context.get_constant(types.int64, 1), "monotonic")

    return types.int64(counter), codegen


@numba.njit(inline="always")
def _forward_block(x, mem0, beta, threshold, lo, hi, spk, mem, keep_mem):  # pragma: no cover
    width = hi - lo
    state = mem0[lo:hi].copy()
    decay = beta[lo:hi].copy() if beta.shape[0] > 1 else np.full(width, beta[0], np.float32)
    for t in range(x.shape[0]):
        # the block's rows as 1-D views: faster than indexing x[t, lo + j] for every neuron
        x_t, spk_t = x[t, lo:hi], spk[t, lo:hi]
        for j in range(width):
            m = _lif_update(state[j], x_t[j], decay[j], threshold)
            state[j] = m
            spk_t[j] = np.float32(1) if m - threshold > 0 else np.float32(0)
        if keep_mem:
            mem[t, lo:hi] = state


@numba.njit(inline="always")
def _backward_block(
    grad_spk, grad_mem, has_grad_mem, x, mem0, beta, threshold, code, param, lo, hi, grad_x, grad_mem0, grad_beta
):  # pragma: no cover
    steps, width = x.shape[0], hi - lo
    decay = beta[lo:hi].copy() if beta.shape[0] > 1 else np.full(width, beta[0], np.float32)
    trace = np.empty((steps + 1, width), np.float32)  # trace[t + 1] = mem[t], trace[0] = mem0
    trace[0] = mem0[lo:hi]
    for t in range(steps):
        x_t, before, after = x[t, lo:hi], trace[t], trace[t + 1]
        for j in range(width):
            after[j] = _lif_update(before[j], x_t[j], decay[j], threshold)
    # d = total gradient reaching mem[t]: its own output, its spike, and mem[t + 1] via beta
    d = np.zeros(width, np.float32)
    acc = np.zeros(width, np.float32)
    for t in range(steps - 1, -1, -1):
        spk_t, mem_t, out_t = grad_spk[t, lo:hi], grad_mem[t, lo:hi], grad_x[t, lo:hi]
        before, after = trace[t], trace[t + 1]
        for j in range(width):
            g = spk_t[j] * _surrogate_grad(code, after[j] - threshold, param) + decay[j] * d[j]
            if has_grad_mem:
                g += mem_t[j]
            d[j] = g
            out_t[j] = g
            acc[j] += g * before[j]
    grad_mem0[lo:hi] = decay * d
    grad_beta[lo:hi] = acc


# ``workers`` threads (prange gives each one iteration) claim blocks from a shared counter until
# none is left. Plain prange over the blocks splits them evenly ahead of time, and with another
# process busy on the second core the thread sharing that core finishes its fixed half last,
# while claimed blocks go to whichever thread is running (`python benchmarks/lif_vs_snntorch.py
# --busy` times the pass idle and beside a busy core: docs/results/lif_vs_snntorch.md).
@numba.njit(parallel=True, cache=True)
def _forward(x, mem0, beta, threshold, block, workers, spk, mem, keep_mem):  # pragma: no cover - compiled
    n = x.shape[1]
    blocks = (n + block - 1) // block
    counter = np.zeros(1, np.int64)
    for _ in numba.prange(workers):
        b = _claim(counter)
        while b < blocks:
            _forward_block(x, mem0, beta, threshold, b * block, min(b * block + block, n), spk, mem, keep_mem)
            b = _claim(counter)


@numba.njit(parallel=True, cache=True)
def _backward(
    grad_spk, grad_mem, has_grad_mem, x, mem0, beta, threshold, code, param, block, workers, grad_x, grad_mem0, grad_beta
):  # pragma: no cover
    n = x.shape[1]
    blocks = (n + block - 1) // block
    counter = np.zeros(1, np.int64)
    for _ in numba.prange(workers):
        b = _claim(counter)
        while b < blocks:
            lo, hi = b * block, min(b * block + block, n)
            _backward_block(
                grad_spk, grad_mem, has_grad_mem, x, mem0, beta, threshold, code, param, lo, hi, grad_x, grad_mem0, grad_beta
            )
            b = _claim(counter)


# Below 65,536 neuron-steps (T x N) a call runs on one thread: there, waking a second thread for
# the forward and the backward regions costs about what it saves, idle or beside a busy core.
# With a core busy, small calls still gain from two: the woken thread runs before the busy
# process is scheduled back. From about 2 M neuron-steps the second thread can be descheduled
# while it holds a block, and the region waits a time slice for it; beside a busy core one and
# two threads are then about even, while idle two are clearly faster, so all threads stay the
# choice above the threshold. Who shares the cores with heavier work (another multi-threaded torch
# job) sets torch.set_num_threads(1), which :func:`workers` follows.
# numba's threading layer is left as configured (omp here): workqueue was slower on the BMI pass.
# Beside a busy core the pass has a heavy tail from OpenMP's spin-wait after each region, in
# torch's runtime as much as numba's: the idle threads burn their scheduler share and then wait
# behind the busy process. GOMP_SPINCOUNT=10000 in the environment before Python starts shortens
# that tail; a library cannot set it for torch, whose runtime is loaded first.
SERIAL_BELOW = 65536


def workers(steps: int, neurons: int) -> int:
    """Threads for a (steps, neurons) call: one below :data:`SERIAL_BELOW` neuron-steps or with a
    single block, else torch's thread setting (e.g. ``torch.set_num_threads(1)`` beside other
    work), at most one per block."""
    if steps * neurons < SERIAL_BELOW:
        return 1
    blocks = -(-neurons // block_size(steps))
    return max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS, blocks))


@contextmanager
def _threads(count: int) -> Iterator[None]:
    # numba's thread count belongs to the calling thread and sticks: restore the caller's after
    before = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def lif_forward(
    x: torch.Tensor, mem0: torch.Tensor, beta: torch.Tensor, threshold: float, return_mem: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Spikes (T, N), and the membrane trace when ``return_mem``, for input ``x`` (T, N).

    ``mem0`` (N,) is the initial membrane; ``beta`` has shape (1,) or (N,), already clamped to
    [0, 1]; all contiguous float32 on the CPU.
    """
    steps, n = x.shape
    spk = torch.empty_like(x)
    mem = torch.empty_like(x) if return_mem else spk[:0]
    count = workers(steps, n)
    with _threads(count):
        _forward(
            x.numpy(),
            mem0.numpy(),
            beta.numpy(),
            np.float32(threshold),
            block_size(steps),
            count,
            spk.numpy(),
            mem.numpy(),
            return_mem,
        )
    return spk, (mem if return_mem else None)


def lif_backward(
    grad_spk: torch.Tensor,
    grad_mem: torch.Tensor | None,
    x: torch.Tensor,
    mem0: torch.Tensor,
    beta: torch.Tensor,
    threshold: float,
    surrogate_code: SurrogateCode,
    surrogate_param: float,
    beta_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gradients for the input (T, N), the initial membrane (N,) and, when ``beta_grad``, beta
    per element (N,), recomputing the membrane trace from the forward's input ``x``."""
    steps, n = x.shape
    grad_x, grad_mem0, grad_beta = torch.empty_like(x), torch.empty_like(mem0), torch.empty_like(mem0)
    has_grad_mem = grad_mem is not None
    count = workers(steps, n)
    with _threads(count):
        _backward(
            grad_spk.numpy(),
            (grad_mem if has_grad_mem else grad_spk).numpy(),
            has_grad_mem,
            x.numpy(),
            mem0.numpy(),
            beta.numpy(),
            np.float32(threshold),
            int(surrogate_code),
            np.float32(surrogate_param),
            block_size(steps),
            count,
            grad_x.numpy(),
            grad_mem0.numpy(),
            grad_beta.numpy(),
        )
    return grad_x, grad_mem0, grad_beta if beta_grad else None
