"""Speed of snn_core's fused LIF against snnTorch's ``Leaky`` (and SpikingJelly's ``LIFNode``), as ratios.

All run in the same process on the same input: a forward and backward pass over a whole sequence,
the inner loop of BPTT training, median of several repeats after a warm-up. snn_core and snnTorch
compute the same dynamics (tests/snn_core/test_lif_kernels.py checks spikes and gradients are
equal); SpikingJelly's multi-step ``LIFNode`` (soft reset, decay 0.9) does the same amount of work
with slightly different arithmetic. Two shapes (T, batch, neurons): a BMI training sequence and one
convolutional feature map of the vision model (64 x 48 x 48 at batch 32).

    python benchmarks/lif_vs_snntorch.py [--repeats 7] [--device cpu|cuda]

SpikingJelly is optional and never a dependency of the project: its wheel requires torchvision and
torchaudio, which would replace the pinned torch, so install it alone when wanted:
``pip install --no-deps spikingjelly==2.0.0 loguru``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import snntorch as snn
import torch

from snn_core.neurons import LIF

SHAPES = {"BMI sequence": (256, 32, 256), "conv map 64x48x48": (10, 32, 64 * 48 * 48)}


def leaky_sequence(leaky: snn.Leaky, current: torch.Tensor) -> torch.Tensor:
    mem = leaky.init_leaky()
    spikes = []
    for current_t in current:
        spk, mem = leaky(current_t, mem)
        spikes.append(spk)
    return torch.stack(spikes)


def spikingjelly_run(device: torch.device) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        from spikingjelly.activation_based import functional, neuron
    except ImportError:
        return None
    # tau 10 without input decay is beta 0.9; v_reset None is reset by subtraction
    node = neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None, detach_reset=True, step_mode="m").to(device)

    def run(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(x)

    return run


def seconds_per_pass(run: Callable[[torch.Tensor], torch.Tensor], current: torch.Tensor, repeats: int) -> float:
    times = []
    for i in range(repeats + 1):
        x = current.clone().requires_grad_()
        if current.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(x).sum().backward()
        if current.is_cuda:
            torch.cuda.synchronize()
        if i:  # the first pass warms up allocators, autograd and kernel compilation
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    sj = spikingjelly_run(device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, forward+backward ms (median of {args.repeats})")
    print(
        f"{'shape (T, batch, neurons)':32} {'snn_core':>9} {'snnTorch':>9} {'SpikingJelly':>13} {'vs snnTorch':>12} {'vs SpikingJelly':>16}"
    )
    for name, shape in SHAPES.items():
        current = (torch.randn(*shape) * 0.6 + 0.2).to(device)
        ours = seconds_per_pass(LIF(beta=0.9).to(device), current, args.repeats)
        leaky = seconds_per_pass(lambda x: leaky_sequence(snn.Leaky(beta=0.9).to(device), x), current, args.repeats)
        jelly = seconds_per_pass(sj, current, args.repeats) if sj is not None else None
        label = f"{name} {shape}"
        jelly_ms = f"{jelly * 1e3:13.1f}" if jelly else f"{'not installed':>13}"
        jelly_ratio = f"{jelly / ours:15.2f}x" if jelly else f"{'':>16}"
        print(f"{label:32} {ours * 1e3:9.1f} {leaky * 1e3:9.1f} {jelly_ms} {leaky / ours:11.1f}x {jelly_ratio}")


if __name__ == "__main__":
    main()
