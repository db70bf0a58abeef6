"""Training speed, side by side in one process: the SNN decoder vs the GRU, and the vision SNN vs its ANN twin.

BMI: the default SNN and GRU decoders (``configs/bmi_demo.toml``: no overrides) fit on the demo
session's training split (``bmi-decoder demo`` simulates and caches it) for a fixed number of
epochs (early stopping off); seconds per epoch include each epoch's validation decode, as in a
real fit. The SNN also runs once with its LIF layers on the eager per-step loop, the reference
the fused kernels replace.

Vision: the default CIFAR10-DVS model (``configs/vision_cifar10dvs.toml``: T = 10, 48 x 48
frames, ResNet-like, two blocks of four layers), ASC variant, training steps on random frames at
batch 32: samples per second of the SNN (fused and eager LIF) and of its ANN twin.

    python benchmarks/training_speed.py [--epochs 2] [--vision-batches 3] [--device cpu|cuda]
        [--json docs/results/training_speed.json]

The figures go to ``--json`` with the command and the machine's load when the run started;
``benchmarks/results_pages.py`` renders them into the page of the same name. Run it on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from results_json import add_json_argument, check_json, count, run_facts, write_json

from bmi_decoder.decoders import make_decoder
from bmi_decoder.demo_session import cached_session
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import prepare_session
from snn_core.neurons import LIF
from vision_bench.models import VisionModelConfig, build_vision_model

VISION = VisionModelConfig(stem_width=32, widths=(64, 128), depth=4)  # configs/vision_cifar10dvs.toml


@contextmanager
def lif_backend(backend: str) -> Iterator[None]:
    """Build every LIF layer made inside the block with ``backend`` (the networks take no option)."""
    original = LIF.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.backend = backend

    LIF.__init__ = init
    try:
        yield
    finally:
        LIF.__init__ = original


def bmi_seconds_per_epoch(name: str, epochs: int, session) -> tuple[float, int]:
    decoder = make_decoder(name, max_epochs=epochs, patience=epochs + 1, progress=False)
    start = time.perf_counter()
    decoder.fit(*session.split("train"), *session.split("val"))
    run = len(decoder.validation_r2_)
    return (time.perf_counter() - start) / run, run


def vision_samples_per_second(mode: str, batches: int, device: torch.device) -> float:
    model = build_vision_model(VISION, "asc", seed=0, mode=mode).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    frames = (torch.rand(10, 32, 2, 48, 48, device=device) < 0.05).float()  # (T, batch, C, H, W)
    labels = torch.randint(0, 10, (32,), device=device)
    times = []
    for i in range(batches + 1):
        start = time.perf_counter()
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            loss = F.cross_entropy(model(frames).float(), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first batch compiles kernels and warms the allocator
            times.append(time.perf_counter() - start)
    return 32 * len(times) / sum(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=count, default=2)
    parser.add_argument("--vision-batches", type=count, default=3)
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="device of the vision models (the BMI decoders use their own default)",
    )
    add_json_argument(parser, "training_speed")
    args = parser.parse_args(argv)
    if not check_json(args.json, "training_speed"):
        return 2
    facts = run_facts("training_speed.py", argv)
    print(f"torch threads {torch.get_num_threads()}")

    session = prepare_session(read_recording(cached_session(0)))
    gru, _ = bmi_seconds_per_epoch("gru", args.epochs, session)
    snn, _ = bmi_seconds_per_epoch("snn", args.epochs, session)
    with lif_backend("eager"):
        eager, _ = bmi_seconds_per_epoch("snn", args.epochs, session)
    print(f"\nBMI demo session, s per epoch ({args.epochs} epochs, validation decode included)")
    print(f"  gru {gru:7.1f}   snn {snn:7.1f} (fused LIF)   snn {eager:7.1f} (eager LIF)")
    print(f"  snn / gru = {snn / gru:.2f}; fused vs eager = {eager / snn:.1f}x faster")

    device = torch.device(args.device)
    ann = vision_samples_per_second("ann", args.vision_batches, device)
    fused = vision_samples_per_second("snn", args.vision_batches, device)
    with lif_backend("eager"):
        eager_v = vision_samples_per_second("snn", args.vision_batches, device)
    print(f"\nvision, default CIFAR10-DVS model (T=10, 48x48, batch 32) on {device}, training samples/s")
    print(f"  ANN twin {ann:7.1f}   SNN {fused:7.1f} (fused LIF)   SNN {eager_v:7.1f} (eager LIF)")
    report = {
        "torch_threads": torch.get_num_threads(),
        "bmi": {
            "session": cached_session(0).name,
            "epochs": args.epochs,
            "seconds_per_epoch": {"gru": gru, "snn": snn, "snn_eager": eager},
        },
        "vision": {
            "device": str(device),
            "model": "default CIFAR10-DVS model, ASC variant (T = 10, 48 x 48 frames, batch 32)",
            "batches": args.vision_batches,
            "samples_per_second": {"ann": ann, "snn": fused, "snn_eager": eager_v},
        },
    }
    write_json(args.json, facts, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
