"""Training-free scores of skip topologies at initialisation (zero-cost proxies).

A zero-cost proxy ranks untrained networks by how differently they respond to the samples of one
mini-batch: a network that maps different inputs to different activity patterns at
initialisation tends to train to a better score. Two proxies are offered, both on the binary
code of every layer's output (a spike, or a ReLU unit that is active):

- ``"hamming"``: SNASNet's sparsity-aware Hamming-distance score (Kim, Li, Park, Venkatesha and
  Panda, "Neural Architecture Search for Spiking Neural Networks", ECCV 2022). For a mini-batch
  of N inputs, each LIF layer l of N_A neurons and each time step t give every sample i its spike
  pattern c_i, and the N x N kernel is

      K_H[i, j] = sum over l and t of (N_A - d(c_i, c_j)),

  where d is the Hamming distance rescaled by the patterns' firing rates r_i and r_j (the
  "sparsity-aware" distance): d = d_H / (2 (r_i (1 - r_j) + (1 - r_i) r_j) + 2e-3), so that two
  independent patterns sit at N_A / 2 on average whatever their sparsity, as two dense random
  codes do (the published implementation's rescaling, ``0.5 / (norm + 1e-3)``). With
  ``sparsity_aware=False`` d is the plain Hamming distance d_H. The score is log |det K_H|.
- ``"naswot"``: the score of Mellor, Turner, Storkey and Crowley, "Neural Architecture Search
  without Training" (ICML 2021), on the network's ANN twin (:mod:`snn_core.network`: the same
  wiring and weights with ReLU neurons): the same kernel on the binary codes of the ReLU units
  (active or not), with the plain Hamming distance, summed over layers and time steps.

A kernel is singular when two samples have the same code in every layer and step (e.g. two
identical inputs, or a network silent on both); its score is then ``-inf``, the floor, which
ranks below every finite score.

Every function here is pure and deterministic: the scores depend on the weights and inputs only
(build the networks from a seed and draw the inputs from it, as :func:`score_topologies` does).
Many topologies are scored at once as one :class:`~snn_core.population.PopulationNetwork`:
every member reads the same mini-batch (one wide matmul, or one ungrouped convolution, per
layer), and its layers run one by one so that each layer's codes are folded into the members'
kernels as soon as they are computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from snn_core.names import PROXIES
from snn_core.network import SkipNetwork
from snn_core.population import PopulationNetwork

__all__ = [
    "PROXIES",
    "ann_twin",
    "hamming_kernel",
    "kendall_tau",
    "log_abs_det",
    "population_kernels",
    "proxy_scores",
    "score_topologies",
]

_RATE_EPS = 1e-3  # the published SNASNet implementation's guard on the rescaling


def hamming_kernel(codes: torch.Tensor, sparsity_aware: bool = True) -> torch.Tensor:
    """The Hamming kernel of one layer's binary codes, summed over time steps.

    Args:
        codes: (..., T, N, N_A) with entries 0 or 1: at each of T time steps, the pattern of each
            of N samples over the layer's N_A units; any leading dimensions (e.g. members) are
            kept. A (N, N_A) tensor is one time step.
        sparsity_aware: rescale each distance by the two patterns' firing rates (SNASNet, module
            docstring); False: the plain Hamming distance.

    Returns:
        (..., N, N) float64: the sum over steps of N_A - d(c_i, c_j).
    """
    x = codes.float()
    if x.ndim == 2:
        x = x.unsqueeze(0)
    steps, units = x.shape[-3], x.shape[-1]
    # d_H = |c_i| + |c_j| - 2 c_i.c_j; the counts and overlaps are exact integers in float32 below
    # 2**24, in float64 beyond
    exact = torch.float32 if steps * units < 2**24 else torch.float64
    if not sparsity_aware:  # the sum over steps is one overlap of the steps' codes side by side
        flat = x.transpose(-3, -2).flatten(-2).to(exact)  # (..., N, T * N_A)
        counts = flat.sum(dim=-1)
        distance = counts.unsqueeze(-1) + counts.unsqueeze(-2) - 2 * (flat @ flat.transpose(-1, -2))
        return steps * units - distance.double()
    x = x.to(exact)
    counts = x.sum(dim=-1)  # (..., T, N)
    distance = (counts.unsqueeze(-1) + counts.unsqueeze(-2) - 2 * (x @ x.transpose(-1, -2))).double()
    rate = counts.double() / units
    r_i, r_j = rate.unsqueeze(-1), rate.unsqueeze(-2)
    expected = r_i + r_j - 2 * r_i * r_j  # r_i (1 - r_j) + (1 - r_i) r_j
    return steps * units - (distance * (0.5 / (expected + _RATE_EPS))).sum(dim=-3)


def log_abs_det(kernel: torch.Tensor) -> np.ndarray:
    """log |det K| of each (N, N) kernel in ``kernel`` (..., N, N); ``-inf`` for a singular one."""
    sign, value = torch.linalg.slogdet(kernel.double())
    value = torch.where(sign == 0, torch.full_like(value, -np.inf), value)
    return value.cpu().numpy()


def ann_twin(population: PopulationNetwork) -> PopulationNetwork:
    """The ANN twin of a population: the same members, wiring and weights, ReLU instead of LIF."""
    twin = PopulationNetwork(population.spec, population.topologies, "ann")
    # the twin lacks only the neurons' state (their decay): every synapse and norm carries over
    twin.load_state_dict(population.state_dict(), strict=False)
    return twin.to(next(population.parameters()).device)


def population_kernels(population: PopulationNetwork, inputs: torch.Tensor, sparsity_aware: bool = True) -> torch.Tensor:
    """Every member's Hamming kernel over all its layers and time steps.

    Args:
        population: M members (SNN: spikes; ANN twin: active ReLU units).
        inputs: the mini-batch every member reads, time-major: (T, N, features) for dense
            networks, (T, N, C, H, W) for convolutional ones.
        sparsity_aware: see :func:`hamming_kernel`.

    Returns:
        (M, N, N) float64 kernels. Batch norm normalises with the mini-batch's statistics, as at
        the first training step; nothing is trained and the population is left as it was.
    """
    members, steps, batch = population.members, inputs.shape[0], inputs.shape[1]
    kernel = torch.zeros(members, batch, batch, dtype=torch.float64, device=inputs.device)

    def member_codes(out: torch.Tensor) -> torch.Tensor:
        """A layer's output as (M, T, N, units) codes, whichever of the population's layouts it has."""
        if out.ndim == 3 and out.shape[:2] == (steps * batch, members):  # dense, (T * N, M, O)
            return (out > 0).view(steps, batch, members, -1).permute(2, 0, 1, 3)
        if out.ndim == 3:  # dense, member-major (M, T * N, O)
            return (out > 0).view(members, steps, batch, -1)
        return (out > 0).permute(2, 0, 1, 3, 4, 5).reshape(members, steps, batch, -1)  # conv, (T, N, M, C, H, W)

    def recording(forward: Callable) -> Callable:
        def run(*args, **kwargs):
            out = forward(*args, **kwargs)
            kernel.add_(hamming_kernel(member_codes(out), sparsity_aware))
            return out

        return run

    # the population's own forward runs every layer; each layer's output is folded in as it comes
    name = "dense_forward" if population.spec.kind == "dense" else "conv_forward"
    layers = [layer for block in population.blocks for layer in block]
    was_training = population.training
    population.train()
    try:
        for layer in layers:
            setattr(layer, name, recording(getattr(layer, name)))
        with torch.no_grad():
            population(inputs.unsqueeze(2).expand(-1, -1, members, *inputs.shape[2:]))
    finally:
        for layer in layers:
            vars(layer).pop(name, None)
        population.train(was_training)
    return kernel


def proxy_scores(population: PopulationNetwork, inputs: torch.Tensor, proxies: Sequence[str] = PROXIES) -> dict[str, np.ndarray]:
    """Each proxy's score of every member of an SNN population (module docstring), shape (M,).

    Raises:
        ValueError: for a proxy not in :data:`PROXIES`, or a population that is not an SNN.
    """
    unknown = [p for p in proxies if p not in PROXIES]
    if unknown:
        raise ValueError(f"unknown proxy {unknown[0]!r}; expected one of {', '.join(PROXIES)}")
    if population.mode != "snn":
        raise ValueError("proxies score an SNN population (NASWOT runs on its ANN twin)")
    scores = {}
    if "hamming" in proxies:
        scores["hamming"] = log_abs_det(population_kernels(population, inputs, sparsity_aware=True))
    if "naswot" in proxies:
        scores["naswot"] = log_abs_det(population_kernels(ann_twin(population), inputs, sparsity_aware=False))
    return scores


def score_topologies(
    build: Callable[[str, int], SkipNetwork],
    topologies: Sequence[str],
    inputs: torch.Tensor,
    seed: int,
    proxies: Sequence[str] = PROXIES,
    group: int = 64,
) -> dict[str, np.ndarray]:
    """Score every topology at initialisation, ``group`` members per population.

    Args:
        build: the untrained SNN of a (topology, seed), e.g. a decoder's body or a vision trunk,
            with the initial weights training would start from; all of one shape but for the
            topology.
        topologies: their text forms.
        inputs: the mini-batch, as :func:`population_kernels` takes it.
        seed: passed to ``build``.
        proxies: from :data:`PROXIES`.
        group: members scored together (memory grows with it).

    Returns:
        Per proxy, one score per topology in the order given (``-inf``: a singular kernel).
    """
    out = {p: np.empty(len(topologies)) for p in proxies}
    for start in range(0, len(topologies), max(1, group)):
        chunk = topologies[start : start + max(1, group)]
        population = PopulationNetwork.from_networks([build(t, seed) for t in chunk]).to(inputs.device)
        for proxy, values in proxy_scores(population, inputs, proxies).items():
            out[proxy][start : start + len(chunk)] = values
    return out


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b between two scorings of the same topologies (``-inf`` ranks last); None
    with fewer than two finite pairs or when either scoring is constant."""
    from scipy.stats import kendalltau

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    x, y = np.where(np.isneginf(x), np.nanmin(np.where(np.isfinite(x), x, np.inf)) - 1, x), y
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return None
    return float(kendalltau(x[keep], y[keep]).statistic)
