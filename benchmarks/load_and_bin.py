"""Load + bin speed on a simulated session as long as indy_20160622_01 (2,450 s, 96 channels).

Simulates the session, writes it as a Zenodo-layout MATLAB v7.3 file (out-of-window spikes
included, as in the real files), then times the two steps every decoder run starts with:
``read_recording`` and ``prepare_session`` (NeuroBench 4 ms OR bins, velocity, split by reach).

    python benchmarks/load_and_bin.py [--seconds 2450] [--seed 0] [--keep FILE.mat] [--json docs/results/load_and_bin.json]

The figures go to ``--json`` with the command and the machine's load when the run started;
``benchmarks/results_pages.py`` renders them into the page of the same name.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from results_json import add_json_argument, check_json, run_facts, write_json

from bmi_decoder.io import read_recording, write_recording
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.cli import seed as seed_argument


def _timed(step, *args, **kwargs):
    start = time.perf_counter()
    result = step(*args, **kwargs)
    return result, time.perf_counter() - start


def benchmark(seconds: float, seed: int, path: Path) -> dict[str, float]:
    """Simulate and write one session to ``path``, then time reading and preparing it."""
    sim, simulate_s = _timed(simulate_session, seconds, seed=seed)
    _, write_s = _timed(write_recording, sim.recording, path, outside_spikes=sim.outside_spikes)
    rec, load_s = _timed(read_recording, path)
    prep, bin_s = _timed(prepare_session, rec)
    spikes = rec.spike_times.size + rec.spikes_outside_window
    return {
        "seconds": seconds,
        "channels": rec.n_channels,
        "spikes_in_file": spikes,
        "bins": prep.features.shape[0],
        "file_mb": path.stat().st_size / 1e6,
        "simulate_s": simulate_s,
        "write_s": write_s,
        "load_s": load_s,
        "bin_s": bin_s,
        "spikes_per_s": spikes / (load_s + bin_s),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2450.0, help="session length (default: 2450, indy_20160622_01)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="simulator seed (default: 0)")
    parser.add_argument("--keep", type=Path, help="write the .mat here and keep it (default: a temporary folder)")
    add_json_argument(parser, "load_and_bin")
    args = parser.parse_args(argv)
    if not check_json(args.json, "load_and_bin"):
        return 2
    facts = run_facts("load_and_bin.py", argv)
    with tempfile.TemporaryDirectory() as tmp:
        r = benchmark(args.seconds, args.seed, args.keep or Path(tmp) / "session.mat")
    print(
        f"{r['seconds']:.0f} s, {r['channels']} channels, {r['spikes_in_file']:,} spikes, "
        f"{r['file_mb']:.0f} MB .mat, {r['bins']:,} bins of 4 ms\n"
        f"simulate {r['simulate_s']:.2f} s, write {r['write_s']:.2f} s\n"
        f"load {r['load_s']:.2f} s, bin {r['bin_s']:.2f} s: {r['spikes_per_s'] / 1e6:.2f} M spikes/s loaded and binned"
    )
    write_json(args.json, facts, {"seed": args.seed, **r})
    return 0


if __name__ == "__main__":
    sys.exit(main())
