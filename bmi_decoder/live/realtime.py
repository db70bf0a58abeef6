"""Real-time mode of the live decode loop: a core of its own, polling without sleeping.

Closed-loop BMI platforms pin their decoder processes: BRAND (Ali et al., J. Neural Eng. 2024)
gives every node of its graph a CPU affinity. On an ordinary schedule the loop sleeps between
events, its core idles or runs something else, and the first ``step`` after waking runs cold,
several times slower than steps called back to back. The consumer in this mode pins its loop
here, polls its inlet without blocking and keeps the step path warm
(:data:`bmi_decoder.live.stream.WARM_PERIOD_S`); its latency is measured end to end by
``benchmarks/live_latency.py`` (docs/results/live_latency.md).

:func:`enter` pins the *calling thread* (Linux schedules threads, not processes); liblsl's own
threads were created earlier and keep every CPU, so they run beside the loop, not under it.
Threads created while pinned would inherit the pin, so the consumer calls :func:`leave` around
anything that opens a new inlet (a reconnect) and at the end.

SCHED_FIFO is left out on purpose: a real-time thread that never sleeps meets Linux's real-time
throttling (``/proc/sys/kernel/sched_rt_runtime_us``, 950 ms of every second by default), which
stalls such a loop for the rest of each second: a dozen late bins at once.
"""

from __future__ import annotations

import os

from snn_core.errors import InputError


def pick_cpu(cpu: int | None) -> int:
    """The CPU to pin to: ``cpu`` if this process may run there, else the last one it may use.

    Raises:
        InputError: ``cpu`` is not among the allowed CPUs, or only one CPU is allowed (a loop
            that never sleeps there would leave liblsl's threads only what the scheduler takes
            from it).
    """
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise InputError("command line", "--realtime", f"at least 2 CPUs to run on (one for the decode loop), got {allowed}")
    if cpu is None:
        return allowed[-1]
    if cpu not in allowed:
        raise InputError("command line", "--cpu", f"one of the CPUs this process may use ({allowed}), got {cpu}")
    return cpu


def enter(cpu: int) -> set[int]:
    """Pin the calling thread to ``cpu``; returns its earlier CPUs, for :func:`leave`."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return previous


def leave(previous: set[int]) -> None:
    """Give the calling thread back its earlier CPUs."""
    os.sched_setaffinity(0, previous)
