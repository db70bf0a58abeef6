"""Real-time mode of the live decode loop: a core of its own, polling without sleeping.

Closed-loop BMI platforms pin their decoder processes: BRAND (Ali et al., J. Neural Eng. 2024)
gives every node of its graph a CPU affinity. On an ordinary schedule the loop sleeps between
events, its core idles or runs something else, and the first ``step`` after waking runs cold,
several times slower than steps called back to back. The consumer in this mode pins its loop
here, polls its inlet without blocking and keeps the step path warm
(:data:`bmi_decoder.live.stream.WARM_PERIOD_S`); its latency is measured end to end by
``benchmarks/live_latency.py`` (docs/results/live_latency.md).

:func:`enter` pins the *calling thread* (Linux schedules threads, not processes) to its core and
moves the process's other threads (liblsl's, a view's) to the remaining cores, as BRAND reserves
a node's core: a thread of liblsl that woke on the loop's core would wait for the spinning loop's
time slice (milliseconds) before it could send a velocity. Threads created while pinned would
inherit the pin, so the consumer calls :func:`leave` around anything that opens a new inlet (a
reconnect) and at the end. The other processes of a closed loop (the rig, the next stage) belong
on the remaining cores too: ``benchmarks/live_latency.py`` runs them under ``taskset``.

SCHED_FIFO is left out on purpose: a real-time thread that never sleeps meets Linux's real-time
throttling (``/proc/sys/kernel/sched_rt_runtime_us``, 950 ms of every second by default), which
stalls such a loop for the rest of each second: a dozen late bins at once.
"""

from __future__ import annotations

import os
import threading

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
    """Pin the calling thread to ``cpu`` and the process's other threads to the CPUs it may use
    besides; returns those CPUs before, for :func:`leave`."""
    previous = os.sched_getaffinity(0)
    _pin_others(previous - {cpu})
    os.sched_setaffinity(0, {cpu})
    return previous


def leave(previous: set[int]) -> None:
    """Give every thread of the process back its earlier CPUs."""
    _pin_others(previous)
    os.sched_setaffinity(0, previous)


def _pin_others(cpus: set[int]) -> None:
    """Set the CPUs of every thread of this process but the calling one."""
    me = threading.get_native_id()
    for task in os.listdir("/proc/self/task"):
        if int(task) != me:
            try:
                os.sched_setaffinity(int(task), cpus)
            except ProcessLookupError:  # the thread ended meanwhile
                pass
