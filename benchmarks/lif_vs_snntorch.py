"""Speed of snn_core's LIF against snnTorch's ``Leaky`` in the same process, as a ratio.

Both run the same dynamics (tests/snn_core/test_neurons.py checks spikes, membrane and
gradients are equal); this times a forward and backward pass over a whole sequence, the inner
loop of BPTT training, taking the median of several repeats after a warm-up.

    python benchmarks/lif_vs_snntorch.py [--steps 256] [--batch 32] [--neurons 256] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import snntorch as snn
import torch

from snn_core.neurons import LIF


def leaky_sequence(leaky: snn.Leaky, current: torch.Tensor) -> torch.Tensor:
    mem = leaky.init_leaky()
    spikes = []
    for current_t in current:
        spk, mem = leaky(current_t, mem)
        spikes.append(spk)
    return torch.stack(spikes)


def seconds_per_pass(run, current: torch.Tensor, repeats: int) -> float:
    times = []
    for i in range(repeats + 1):
        x = current.clone().requires_grad_()
        start = time.perf_counter()
        run(x).sum().backward()
        if i:  # the first pass warms up allocators and autograd
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--neurons", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    current = torch.randn(args.steps, args.batch, args.neurons) * 0.6 + 0.2
    ours = seconds_per_pass(LIF(beta=0.9), current, args.repeats)
    reference = seconds_per_pass(lambda x: leaky_sequence(snn.Leaky(beta=0.9), x), current, args.repeats)
    print(f"T={args.steps}, batch={args.batch}, neurons={args.neurons}, torch threads={torch.get_num_threads()}")
    print(f"snn_core LIF     {ours * 1e3:8.1f} ms per forward+backward")
    print(f"snntorch Leaky   {reference * 1e3:8.1f} ms per forward+backward")
    print(f"speed ratio (Leaky time / LIF time): {reference / ours:.2f}")


if __name__ == "__main__":
    main()
