"""Markdown for the BMI benchmarks' JSON: the demo, training speed, load and bin, replay latency,
recurrent training and the simulator's difficulty (``benchmarks/results_pages.py`` writes them)."""

from __future__ import annotations

import numpy as np
from page_table import table


def footer(report: dict, script: str) -> str:
    """The machine as it was when the run started (when recorded) and the command."""
    text = ""
    if "machine" in report:
        m = report["machine"]
        text += f"\nRun {report['date']} on {m['cpus']} CPUs ({m['cpus_allowed']} allowed to the benchmark), "
        text += f"1-minute load average {m['load_average_1min']:.2f} when it started.\n"
    return text + f"\nCommand: `{report.get('command', f'python benchmarks/{script}')}`\n"


def demo_table(report: dict) -> str:
    """The demo's table, one line per decoder, as ``bmi-decoder demo`` prints it."""
    rows = [
        [
            r["decoder"],
            f"{r['r2']:.3f}",
            f"{r['r2_x']:.3f}",
            f"{r['r2_y']:.3f}",
            f"{r['footprint_bytes'] / 1024:.1f}",
            f"{r['synops']['dense']:,.0f}",
            f"{r['synops']['effective_macs']:,.0f}",
            f"{r['synops']['effective_acs']:,.0f}",
            f"{r['activation_sparsity']:.3f}",
            f"{r['energy_pj_per_step']:,.0f}",
        ]
        for r in report["results"]
    ]
    header = ["decoder", "R2", "R2 x", "R2 y", "footprint (KB)", "dense ops", "eff. MACs", "eff. ACs", "act. sparsity"]
    return table([*header, "energy (pJ/step)"], rows)


def demo(report: dict) -> str:
    text = "# The main job: `bmi-decoder demo`\n\n"
    text += f"`{report['demo']}` on {', '.join(report['sessions'])}: every decoder at its default settings "
    text += "(`configs/bmi_demo.toml`), scored on the test split of the NeuroBench primate-reaching protocol; "
    text += "costs per step (one bin) on that split.\n\n"
    return text + demo_table(report) + f"\n{report['energy_note']}\n" + footer(report, "demo_table.py")


def training_speed(report: dict) -> str:
    bmi, vision = report["bmi"], report["vision"]
    per_epoch = bmi["seconds_per_epoch"]
    text = "# Training speed\n\nThe default SNN and GRU decoders fitted side by side on the training split of "
    text += f"`{bmi['session']}` for {bmi['epochs']} epochs (early stopping off; each epoch's validation decode "
    text += f"included), {report['torch_threads']} torch threads; the SNN once more with its LIF layers on the "
    text += "eager per-step loop that the fused kernels replace.\n\n"
    rows = [
        ["GRU", f"{per_epoch['gru']:.2f}", "1.00"],
        ["SNN, fused LIF", f"{per_epoch['snn']:.2f}", f"{per_epoch['snn'] / per_epoch['gru']:.2f}"],
        ["SNN, eager LIF loop", f"{per_epoch['snn_eager']:.2f}", f"{per_epoch['snn_eager'] / per_epoch['gru']:.2f}"],
    ]
    text += table(["decoder", "seconds per epoch", "against the GRU"], rows)
    rates = vision["samples_per_second"]
    text += f"\nVision: the {vision['model']}, training steps on {vision['device']} ({vision['batches']} timed batches):\n\n"
    rows = [["ANN twin", f"{rates['ann']:.1f}"], ["SNN, fused LIF", f"{rates['snn']:.1f}"]]
    rows.append(["SNN, eager LIF loop", f"{rates['snn_eager']:.1f}"])
    text += table(["model", "samples per second"], rows)
    return text + footer(report, "training_speed.py")


def load_and_bin(report: dict) -> str:
    text = "# Loading and binning a long session\n\n"
    text += f"A simulated {report['seconds']:.0f} s, {report['channels']}-channel session (seed {report['seed']}) "
    text += f"written as a Zenodo-layout MATLAB v7.3 file of {report['file_mb']:.0f} MB with {report['spikes_in_file']:,} "
    text += f"spikes, read (`read_recording`) and binned into {report['bins']:,} NeuroBench bins (`prepare_session`):\n\n"
    rows = [[f"{report['load_s']:.2f}", f"{report['bin_s']:.2f}", f"{report['spikes_per_s'] / 1e6:.2f}"]]
    text += table(["load (s)", "bin (s)", "million spikes per second, both steps"], rows)
    return text + footer(report, "load_and_bin.py")


def replay_latency(report: dict) -> str:
    text = "# Streaming step path against an snnTorch step loop\n\n"
    text += f"The default SNN decoder (topology `{report['topology']}`, {report['epochs']} training epochs: latency does "
    text += "not depend on training) replayed bin by bin as fast as it goes over "
    text += f"{report['bins']:,} test bins of {report['bin_width_ms']:g} ms ({report['channels']} channels) of "
    text += f"`{report['session']}`: its own `step` (`snn_core.streaming.DenseStepper`) against the same weights "
    text += "stepped with `snntorch.Leaky` neurons (the two outputs are asserted equal), "
    text += f"{report['torch_threads']} torch thread, the median over {report['repeats']} interleaved runs:\n\n"
    rows = [[name, *(f"{us[q]:,.1f}" for q in ("median", "p95", "p99"))] for name, us in report["loops_us"].items()]
    text += table(["loop", "median (us)", "p95 (us)", "p99 (us)"], rows)
    ratio = report["ratio"]
    text += f"\nsnnTorch loop over ours: {ratio['median']:.1f}x at the median, {ratio['p99']:.1f}x at p99.\n"
    return text + footer(report, "replay_latency.py")


def recurrent_training(report: dict) -> str:
    model = report["model"]
    text = "# Recurrent SNN training: full BPTT against `recurrent_grad = 0`\n\n"
    text += f"The recurrent small SNN decoder (hidden {model['hidden']}, topology `{model['topology']}`) fitted "
    text += "with its defaults on each simulated session, once with full BPTT through the recurrent spikes "
    text += "(`recurrent_grad = 1`) and once with the default `recurrent_grad = 0`. *Worst fall*: the largest drop "
    text += "of an epoch's validation R2 below the best of the epochs before it.\n\n"
    results = sorted(report["results"], key=lambda r: (r["session"], -r["recurrent_grad"]))
    rows = [
        [
            r["session"],
            f"{r['recurrent_grad']:g}",
            f"{r['best_validation_r2']:.3f}",
            f"{r['worst_fall']:.3f}",
            f"{r['test_r2']:.3f}",
            r["epochs"],
            f"{r['fit_seconds']:.0f}",
        ]
        for r in results
    ]
    text += table(["session", "recurrent_grad", "best validation R2", "worst fall", "test R2", "epochs", "fit (s)"], rows)
    grads = sorted({r["recurrent_grad"] for r in results}, reverse=True)
    means = [[f"{g:g}", f"{np.mean([r['test_r2'] for r in results if r['recurrent_grad'] == g]):.3f}"] for g in grads]
    text += "\n" + table(["recurrent_grad", "mean test R2"], means)
    text += "\n![validation R2 per epoch, full BPTT against recurrent_grad = 0](../img/recurrent_training.png)\n"
    return text + footer(report, "recurrent_training.py")


def simulator_difficulty(report: dict) -> str:
    text = "# How hard the simulated sessions are to decode\n\n"
    text += f"An independent {report['decoder']} (plain NumPy, none of the project's decoders) on "
    text += f"{report['seconds']:.0f} s sessions of simulator version {report['simulator_version']}, "
    text += "NeuroBench split:\n\n"
    rows = [[s["seed"], f"{s['test_r2']:.3f}", f"{s['train_r2']:.3f}"] for s in report["sessions"]]
    text += table(["seed", "test R2", "train R2"], rows)
    text += f"\nMean test R2 {report['mean_test_r2']:.3f}.\n"
    return text + footer(report, "simulator_difficulty.py")
