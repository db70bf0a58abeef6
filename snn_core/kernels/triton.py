"""Triton backend of the fused multi-step LIF layer (snnTorch's ``Leaky``, reset by subtraction).

One program owns a block of ``BLOCK`` neurons and walks the whole time axis inside the kernel, so
the membrane and the backward's running gradient stay in registers: the forward reads ``x`` once
and writes spikes and the membrane trace; the backward reads ``grad_spk``, ``grad_mem`` and the
trace once, in reverse time, and writes ``grad_x``, ``grad_mem0`` and the per-element beta gradient.
The autograd function keeps only the input between the two passes (:mod:`snn_core.kernels`), so
:func:`lif_backward` first reruns the forward kernel to rebuild the trace.

Tensors are ``(T, N)`` with all non-time dimensions flattened into ``N``; row ``t`` starts at ``t * N``.

Both kernels are launched with ``enable_fp_fusion=False``: otherwise LLVM contracts ``beta * mem + x``
into one fused multiply-add, which rounds once instead of twice, so the membrane drifts from
snnTorch's (eager PyTorch, two roundings) by an ulp and a neuron sitting on the threshold can spike
in one and not the other. Spikes must be bit-identical to snnTorch, hence no contraction anywhere.
Triton's interpreter (``TRITON_INTERPRET=1``) ignores the option: it evaluates op by op in NumPy
float32, which never fuses.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from snn_core.surrogate_formulas import SurrogateCode, bind

# Neurons per program: a few per thread at the default 4 warps, and enough programs for small N.
BLOCK = 256

# The surrogate derivatives of snn_core.surrogate_formulas, compiled as Triton functions: the
# kernel passes the code as a constexpr, so only the chosen formula is compiled in.
_SURROGATES = bind(tl, tl.constexpr, tl.constexpr, compile=triton.jit, module=__name__)
_surrogate_grad = _SURROGATES.surrogate_grad


@triton.jit
def _lif_forward_kernel(
    x_ptr, mem0_ptr, beta_ptr, spk_ptr, mem_ptr, threshold, T, N,
    PER_ELEMENT_BETA: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    if PER_ELEMENT_BETA:
        beta = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    else:
        beta = tl.load(beta_ptr)
    mem = tl.load(mem0_ptr + offs, mask=mask, other=0.0)
    for _ in range(T):
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        # snnTorch's order: the reset comes from the previous membrane, then decay, input, subtract.
        # Selecting the subtraction rather than multiplying by the 0/1 reset gives the same bits
        # and keeps an infinite threshold (a non-spiking integrator) from computing 0 * inf.
        integrated = beta * mem + x
        mem = tl.where(mem - threshold > 0, integrated - threshold, integrated)
        tl.store(mem_ptr + offs, mem, mask=mask)
        tl.store(spk_ptr + offs, tl.where(mem - threshold > 0, 1.0, 0.0), mask=mask)
        offs += N


# T is not specialised: Triton would turn T = 1 into a constant, which has no `.to` for the int64 cast.
@triton.jit(do_not_specialize=["T"])
def _lif_backward_kernel(
    grad_spk_ptr, grad_mem_ptr, mem_ptr, mem0_ptr, beta_ptr, grad_x_ptr, grad_mem0_ptr, grad_beta_ptr,
    threshold, surrogate_param, T, N,
    SURROGATE: tl.constexpr, HAS_GRAD_MEM: tl.constexpr, PER_ELEMENT_BETA: tl.constexpr,
    BETA_GRAD: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    neurons = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = neurons < N
    if PER_ELEMENT_BETA:
        beta = tl.load(beta_ptr + neurons, mask=mask, other=0.0)
    else:
        beta = tl.load(beta_ptr)
    mem0 = tl.load(mem0_ptr + neurons, mask=mask, other=0.0)
    offs = neurons + (T - 1).to(tl.int64) * N  # row T - 1
    # Row guards test the offset itself (offs >= 0: the row exists, here T > 0) rather than a scalar
    # like `T > 0`: Triton 3.9's interpreter splats a scalar comparison as int32, which tl.load then
    # rejects as a mask.
    mem = tl.load(mem_ptr + offs, mask=mask & (offs >= 0), other=0.0)
    # tl.full, not tl.zeros: zeros is a @triton.jit helper, fixed as compiled or interpreted when
    # triton is first imported, so it breaks the interpreter if triton came in before TRITON_INTERPRET
    # was set; the builtins used here follow the mode of the kernel that calls them.
    d = tl.full([BLOCK], 0.0, tl.float32)
    grad_beta = tl.full([BLOCK], 0.0, tl.float32)
    for _ in range(T):
        d_spk = tl.load(grad_spk_ptr + offs, mask=mask, other=0.0) * _surrogate_grad(SURROGATE, mem - threshold, surrogate_param)
        if HAS_GRAD_MEM:
            d = (tl.load(grad_mem_ptr + offs, mask=mask, other=0.0) + d_spk) + beta * d
        else:
            d = d_spk + beta * d
        tl.store(grad_x_ptr + offs, d, mask=mask)
        # The membrane before this step is the trace's previous row, or mem0 in row 0 (offs < N);
        # it is also the next (earlier) step's membrane, so each row is read once.
        mem = tl.load(mem_ptr + offs - N, mask=mask & (offs >= N), other=mem0)
        if BETA_GRAD:
            grad_beta += d * mem
        offs -= N
    tl.store(grad_mem0_ptr + neurons, beta * d, mask=mask)
    if BETA_GRAD:
        tl.store(grad_beta_ptr + neurons, grad_beta, mask=mask)


def lif_forward(
    x: torch.Tensor, mem0: torch.Tensor, beta: torch.Tensor, threshold: float, return_mem: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Runs the LIF layer over all time steps in one kernel.

    Args:
        x: ``(T, N)`` float32 synaptic input.
        mem0: ``(N,)`` float32 initial membrane.
        beta: float32 decay, shape ``(1,)`` (shared) or ``(N,)`` (per element), already in ``[0, 1]``.
        threshold: The firing threshold.
        return_mem: Return the membrane trace (the kernel writes it either way).

    Returns:
        Spikes ``(T, N)`` float32 in {0, 1} and the membrane trace ``(T, N)`` float32 or None.
    """
    x, mem0, beta = x.contiguous(), mem0.contiguous(), beta.contiguous()
    T, N = x.shape
    spk, mem = torch.empty_like(x), torch.empty_like(x)
    _lif_forward_kernel[(triton.cdiv(N, BLOCK),)](
        x, mem0, beta, spk, mem, threshold, T, N,
        PER_ELEMENT_BETA=beta.numel() != 1, BLOCK=BLOCK, enable_fp_fusion=False,
    )  # fmt: skip
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
    """Back-propagates through the LIF layer in one reverse pass over time, after rebuilding the
    membrane trace from the input with the forward kernel.

    The reset is detached (as in snnTorch), so ``dL/dmem[t-1]`` gets ``beta * dL/dmem[t]`` only.

    Args:
        grad_spk: ``(T, N)`` gradient of the loss w.r.t. the spikes.
        grad_mem: ``(T, N)`` gradient w.r.t. the membrane trace, or None where none reached it.
        x: The forward's ``(T, N)`` input.
        mem0: ``(N,)`` initial membrane.
        beta: The forward's decay, shape ``(1,)`` or ``(N,)``.
        threshold: The firing threshold.
        surrogate_code: ``Surrogate.code``, the spike's surrogate derivative.
        surrogate_param: ``Surrogate.param``: ATan's alpha or the sigmoids' slope.
        beta_grad: Whether to compute the beta gradient.

    Returns:
        ``grad_x`` ``(T, N)``, ``grad_mem0`` ``(N,)``, and the per-element beta gradient ``(N,)``
        when ``beta_grad`` (summing it is the caller's job for a shared beta), else None.
    """
    mem = lif_forward(x, mem0, beta, threshold)[1]
    grad_spk, mem0, beta = grad_spk.contiguous(), mem0.contiguous(), beta.contiguous()
    grad_mem = None if grad_mem is None else grad_mem.contiguous()
    T, N = mem.shape
    grad_x, grad_mem0 = torch.empty_like(mem), torch.empty_like(mem0)
    grad_beta = torch.empty_like(mem0) if beta_grad else None
    # Absent outputs/inputs still need a pointer argument; the constexpr flags keep the kernel off them.
    _lif_backward_kernel[(triton.cdiv(N, BLOCK),)](
        grad_spk, grad_spk if grad_mem is None else grad_mem, mem, mem0, beta,
        grad_x, grad_mem0, grad_mem0 if grad_beta is None else grad_beta,
        threshold, surrogate_param, T, N,
        SURROGATE=int(surrogate_code), HAS_GRAD_MEM=grad_mem is not None,
        PER_ELEMENT_BETA=beta.numel() != 1, BETA_GRAD=beta_grad, BLOCK=BLOCK, enable_fp_fusion=False,
    )  # fmt: skip
    return grad_x, grad_mem0, grad_beta
