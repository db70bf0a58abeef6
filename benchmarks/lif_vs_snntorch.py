"""Speed of snn_core's fused LIF against snnTorch's ``Leaky`` (and SpikingJelly's ``LIFNode``), as ratios.

All run in the same process on the same input: a forward and backward pass over a whole sequence,
the inner loop of BPTT training, median of several repeats after a second of warm-up passes.
snn_core and snnTorch compute the same dynamics (tests/snn_core/test_lif_kernels.py checks spikes
and gradients are equal); SpikingJelly's multi-step ``LIFNode`` (soft reset, decay 0.9) does the
same amount of work with slightly different arithmetic. Two shapes (T, batch, neurons): a BMI
training sequence and one convolutional feature map of the vision model (64 x 48 x 48 at batch 32).

    python benchmarks/lif_vs_snntorch.py [--busy] [--repeats 7] [--warmup 1.0] [--device cpu|cuda]
        [--json docs/results/lif_vs_snntorch.json]

``--busy`` times every shape twice: on the machine as it is ("idle"), then while a child process
spins a pure-Python loop that keeps one core fully loaded ("busy"), as data loading or another
job does on a user's machine. On a 2-core machine a parallel region whose threads are split evenly
waits for the thread that shares its core with that process; the CPU kernel's thread choice
(``snn_core.kernels.cpu.SERIAL_BELOW`` and its block claiming) is made for both conditions.

The results also go, atomically, to ``--json``: one row per condition and shape with the times in
ms, the ratios, the load of the busy child (CPU seconds per second, about 1 when it kept its core)
and the share of the machine's CPU time that other processes used during the row's timings (on
Linux; above a few percent, the row was measured beside someone else's work and is noisy).

Two things outside the kernels move snn_core's figures from run to run on a 2-core machine. glibc
returns freed 8 MB blocks to the system, so about half the BMI passes fault their outputs in
afresh (7-8 ms instead of 4-5; ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` of
256 MB keep them). And beside a busy core, OpenMP's spin-wait after each parallel region (torch's
and numba's) gives a heavy tail; ``GOMP_SPINCOUNT=10000`` set before Python starts removes it.

SpikingJelly is optional and never a dependency of the project: its wheel requires torchvision and
torchaudio, which would replace the pinned torch, so install it alone when wanted:
``pip install --no-deps spikingjelly==2.0.0 loguru``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import numba
import snntorch as snn
import torch
from results_json import count

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.kernels import cpu
from snn_core.neurons import LIF
from snn_core.outputs import JSON, check_output

SHAPES = {"BMI sequence": (256, 32, 256), "conv map 64x48x48": (10, 32, 64 * 48 * 48)}
DEFAULT_JSON = Path(__file__).resolve().parents[1] / "docs" / "results" / "lif_vs_snntorch.json"


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


def seconds_per_pass(
    run: Callable[[torch.Tensor], torch.Tensor], current: torch.Tensor, repeats: int, warmup_s: float = 1.0
) -> float:
    """Median seconds of ``repeats`` passes, after passes for at least ``warmup_s`` (one at least).

    The warm-up covers kernel compilation, the allocator and autograd, and, beside a busy core,
    the scheduler's placement of the threads: the first passes after the busy process starts ran
    3-10x slower than the ones after them, and a training loop lives in that later steady state.
    """

    def one_pass() -> float:
        x = current.clone().requires_grad_()
        if current.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(x).sum().backward()
        if current.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    warm_until = time.perf_counter() + warmup_s
    one_pass()
    while time.perf_counter() < warm_until:
        one_pass()
    return statistics.median([one_pass() for _ in range(repeats)])


@contextmanager
def busy_core() -> Iterator[int]:
    """Yield the pid of a child process that keeps one core at 100% until the block ends.

    A separate interpreter running only ``while True: pass``: it holds its own GIL, imports
    nothing and shares no threads or memory with the timings.
    """
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start, and the scheduler settle it on a core
        yield child.pid
    finally:
        child.kill()
        child.wait()


def _ticks(pids: list[int]) -> tuple[int, int, list[int]] | None:
    """Clock ticks since boot from /proc: the machine's total and busy ones, and each pid's."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        used = []
        for pid in pids:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used.append(int(stat[11]) + int(stat[12]))  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return None  # not Linux
    total = sum(fields)
    return total, total - fields[3] - fields[4], used


@contextmanager
def cpu_use(child: int | None) -> Iterator[dict]:
    """Fill a dict with the load of the ``child`` process (CPU seconds per second) and the share
    of the machine's CPU time used by processes other than this one and the child."""
    pids = [os.getpid()] + ([child] if child else [])
    out: dict = {"busy_child_load": None, "other_cpu_share": None}
    start, wall = _ticks(pids), time.perf_counter()
    yield out
    end, wall = _ticks(pids), time.perf_counter() - wall
    if start is None or end is None or end[0] == start[0]:
        return
    used = [b - a for a, b in zip(start[2], end[2])]
    out["other_cpu_share"] = round(max(0, (end[1] - start[1]) - sum(used)) / (end[0] - start[0]), 3)
    if child:
        out["busy_child_load"] = round(used[1] / os.sysconf("SC_CLK_TCK") / wall, 2)


def time_shape(
    name: str, shape: tuple[int, int, int], device: torch.device, args: argparse.Namespace, child: int | None, sj
) -> dict:
    """One row: ours, snnTorch's and (when installed) SpikingJelly's ms per pass, and the ratios."""
    current = (torch.randn(*shape) * 0.6 + 0.2).to(device)
    with cpu_use(child) as load:
        timing = {"current": current, "repeats": args.repeats, "warmup_s": args.warmup}
        ours = seconds_per_pass(LIF(beta=0.9).to(device), **timing)
        leaky = seconds_per_pass(lambda x: leaky_sequence(snn.Leaky(beta=0.9).to(device), x), **timing)
        jelly = seconds_per_pass(sj, **timing) if sj is not None else None
    return {
        "condition": "busy" if child else "idle",
        "shape": name,
        "steps": shape[0],
        "batch": shape[1],
        "neurons": shape[2],
        "snn_core_ms": round(ours * 1e3, 3),
        "snntorch_ms": round(leaky * 1e3, 3),
        "spikingjelly_ms": round(jelly * 1e3, 3) if jelly else None,
        "vs_snntorch": round(leaky / ours, 2),
        "vs_spikingjelly": round(jelly / ours, 2) if jelly else None,
        **load,
    }


def print_row(row: dict) -> None:
    label = f"{row['shape']} ({row['steps']}, {row['batch']}, {row['neurons']})"
    jelly = f"{row['spikingjelly_ms']:13.1f}" if row["spikingjelly_ms"] else f"{'not installed':>13}"
    jelly_ratio = f"{row['vs_spikingjelly']:15.2f}x" if row["vs_spikingjelly"] else f"{'':>16}"
    other = "" if row["other_cpu_share"] is None else f"{row['other_cpu_share']:10.0%}"
    print(
        f"{row['condition']:5} {label:36} {row['snn_core_ms']:9.1f} {row['snntorch_ms']:9.1f} {jelly} "
        f"{row['vs_snntorch']:11.1f}x {jelly_ratio}{other}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=count, default=7)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of untimed passes before each timing (default 1)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--busy", action="store_true", help="also time every shape while another process keeps one core busy")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    try:
        check_output(args.json, "--json", kind=JSON)
    except InputError as err:
        print(f"lif_vs_snntorch: error: {err}", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    torch.manual_seed(0)
    sj = spikingjelly_run(device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, forward+backward ms (median of {args.repeats})")
    print(
        f"{'':5} {'shape (T, batch, neurons)':36} {'snn_core':>9} {'snnTorch':>9} {'SpikingJelly':>13} {'vs snnTorch':>12} "
        f"{'vs SpikingJelly':>16}{'other CPU':>10}"
    )
    rows = []
    for busy in [False, True] if args.busy else [False]:
        with busy_core() if busy else nullcontext(None) as child:
            for name, shape in SHAPES.items():
                rows.append(time_shape(name, shape, device, args, child, sj))
                print_row(rows[-1])
    if args.busy:
        for name in SHAPES:
            idle, busy = (r["vs_snntorch"] for r in rows if r["shape"] == name)
            print(f"{name}: {idle:.1f}x snnTorch idle, {busy:.1f}x with a busy core")
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region ran (e.g. --device cuda)
        layer = None
    report = {
        "command": " ".join(["python", "benchmarks/lif_vs_snntorch.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": str(device),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(), "system": platform.system()},
        "torch_threads": torch.get_num_threads(),
        "numba_threading_layer": layer,
        "serial_below_neuron_steps": cpu.SERIAL_BELOW,
        "versions": {"torch": torch.__version__, "snntorch": snn.__version__, "numba": numba.__version__},
        "repeats": args.repeats,
        "warmup_s": args.warmup,
        "rows": rows,
    }
    write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
