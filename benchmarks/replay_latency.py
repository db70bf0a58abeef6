"""Per-bin latency of the default SNN decoder's step path against an snnTorch step loop.

Fits the default SNN decoder (fewer epochs: latency does not depend on training) on the demo
session, then streams the start of its test split through :func:`bmi_decoder.replay.replay` at
``speed=0`` twice, in the same process and with one torch thread: (a) the decoder itself,
whose ``step`` runs :class:`snn_core.streaming.DenseStepper`, and (b) the same weights stepped
the snnTorch way: ``snntorch.Leaky`` neurons (reset by subtraction, as our LIF) behind the same
``nn.Linear`` synapses, skip wiring and leaky readout, one bin at a time under
``torch.no_grad()``. The two must decode the same velocities (asserted), so the ratio compares
equal work. Pin it to one core for stable figures:

    taskset -c 0 python benchmarks/replay_latency.py [--file FILE] [--epochs 2] [--seconds 30] [--repeats 5]
        [--json docs/results/replay_latency.json]

The figures go to ``--json`` with the command, the CPUs it was pinned to and the machine's load
when the run started; ``benchmarks/results_pages.py`` renders them into its page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from results_json import add_json_argument, check_json, count, run_facts, write_json

from bmi_decoder.decoders.snn import SNNDecoder
from bmi_decoder.demo_session import cached_session
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.replay import replay


class SnnTorchLoop:
    """A fitted SNN decoder's network stepped with snnTorch; ``reset``/``step`` like a decoder."""

    def __init__(self, decoder: SNNDecoder) -> None:
        network = decoder.network_
        self.blocks = network.body.blocks
        self.leakies = [
            [
                snn.Leaky(beta=float(layer.neuron.beta), threshold=layer.neuron.threshold, reset_mechanism="subtract")
                for layer in block.layers
            ]
            for block in self.blocks
        ]
        self.readout = network.readout
        self.scaler = decoder.label_scaler_

    def reset(self) -> None:
        self.mems = [[leaky.init_leaky() for leaky in block] for block in self.leakies]
        self.spikes = [[None] * len(block) for block in self.leakies]
        self.velocity = None

    def step(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = torch.from_numpy(x)[None]
            for b, block in enumerate(self.blocks):
                nodes = [out]
                for k, layer in enumerate(block.layers):
                    # SkipBlock's wiring: ASC sums (projected when widths differ), then DSC concatenation
                    inputs = nodes[k]
                    for i in block.asc_sources[k]:
                        key = f"{i}_{k}"
                        inputs = inputs + (block.projections[key](nodes[i]) if key in block.projections else nodes[i])
                    if block.dsc_sources[k]:
                        inputs = torch.cat([inputs, *(nodes[i] for i in block.dsc_sources[k])], dim=1)
                    current = layer.synapse(inputs)
                    if layer.recurrence is not None and self.spikes[b][k] is not None:
                        current = current + layer.recurrence(self.spikes[b][k])
                    spikes, self.mems[b][k] = self.leakies[b][k](current, self.mems[b][k])
                    self.spikes[b][k] = spikes
                    nodes.append(spikes)
                out = nodes[-1]
            current = self.readout.linear(out)
            self.velocity = current if self.velocity is None else self.readout.beta * self.velocity + current
        return self.scaler.decode(self.velocity[0].numpy())


def percentiles_us(latencies_s: np.ndarray) -> tuple[float, float, float]:
    median, p95, p99 = np.percentile(latencies_s * 1e6, [50, 95, 99])
    return float(median), float(p95), float(p99)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="session to fit and replay (default: the cached demo session)")
    parser.add_argument("--epochs", type=count, default=2, help="training epochs (default 2)")
    parser.add_argument("--seconds", type=float, default=30.0, help="test data streamed per run (default 30 s)")
    parser.add_argument("--repeats", type=count, default=5, help="runs of each loop, interleaved (default 5)")
    add_json_argument(parser, "replay_latency")
    args = parser.parse_args(argv)
    if not check_json(args.json, "replay_latency"):
        return 2
    facts = run_facts("replay_latency.py", argv)
    torch.set_num_threads(1)

    session = prepare_session(read_recording(args.file or cached_session(0)))
    X_train, y_train = session.split("train")
    X_val, y_val = session.split("val")
    X, _ = session.split("test")
    X = X[: int(round(args.seconds / session.bin_width))]
    # one network: the snnTorch loop steps one (the default ensemble's members each step so)
    decoder = SNNDecoder(ensemble=1, max_epochs=args.epochs, progress=False).fit(X_train, y_train, X_val, y_val)
    loops = {"ours (DenseStepper)": decoder, "snnTorch step loop": SnnTorchLoop(decoder)}

    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in loops}
    outputs = {}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            result = replay(loop, X, session.bin_width, speed=0)
            runs[name].append(percentiles_us(result.latencies_s))
            outputs[name] = result.predictions
    ours, reference = outputs.values()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5 * float(np.std(y_train)))
    np.testing.assert_allclose(ours, decoder.predict(X), rtol=0, atol=1e-6 * float(np.std(y_train)))

    print(
        f"{len(X)} bins of {session.bin_width * 1e3:g} ms, {X.shape[1]} channels, topology {decoder.topology}, "
        f"torch threads {torch.get_num_threads()}, median over {args.repeats} runs"
    )
    print(f"{'loop':22s} {'median us':>10s} {'p95 us':>10s} {'p99 us':>10s}")
    summary = {name: [statistics.median(values) for values in zip(*stats)] for name, stats in runs.items()}
    for name, (median, p95, p99) in summary.items():
        print(f"{name:22s} {median:10.1f} {p95:10.1f} {p99:10.1f}")
    (ours_median, _, ours_p99), (ref_median, _, ref_p99) = summary.values()
    print(f"speed ratio (snnTorch / ours): median {ref_median / ours_median:.1f}x, p99 {ref_p99 / ours_p99:.1f}x")
    report = {
        "session": (args.file or cached_session(0)).name,
        "bins": len(X),
        "bin_width_ms": session.bin_width * 1e3,
        "channels": X.shape[1],
        "topology": decoder.topology,
        "epochs": args.epochs,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "loops_us": {name: dict(zip(("median", "p95", "p99"), values)) for name, values in summary.items()},
        "ratio": {"median": ref_median / ours_median, "p99": ref_p99 / ours_p99},
    }
    write_json(args.json, facts, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
