"""The simulated session of ``bmi-decoder demo``, which the benchmarks decode too: one file per
simulator version and seed under the download root, simulated on first use and reused after."""

from __future__ import annotations

import sys
from pathlib import Path

from bmi_decoder.io import write_recording
from bmi_decoder.names import DEMO_SECONDS
from bmi_decoder.registry import default_download_root
from bmi_decoder.simulate import SIMULATOR_VERSION, simulate_session
from snn_core.outputs import MAT, check_output


def cached_session(seed: int) -> Path:
    """The simulated demo session, written once (atomically) and reused."""
    path = default_download_root() / "simulated" / f"demo_sim{SIMULATOR_VERSION}_{DEMO_SECONDS:.0f}s_seed{seed}.mat"
    if not path.exists():
        check_output(path, "demo session", kind=MAT)
        print(f"simulating {path} ...", file=sys.stderr)
        session = simulate_session(seconds=DEMO_SECONDS, seed=seed)
        write_recording(session.recording, path, outside_spikes=session.outside_spikes)
    return path
