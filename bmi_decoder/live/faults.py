"""Fault injection for the simulated rig: what a flaky acquisition chain does to a spike stream.

:func:`plan` turns a session's time-ordered events into the sends of a playback, with the faults
of a :class:`Faults` applied, and counts what it injected. Everything is decided up front from a
seed, so a test can replay the same plan and know exactly what a consumer should count.

Fault times: the ``count`` instances of each requested kind are spread evenly over the played
stretch, the kinds staggered so that no two faults overlap. A channel-count change, which ends a
consumer's run, happens once, after all the others (at 95% of the stretch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bmi_decoder.recording import SpikeEvents
from snn_core.errors import InputError

KINDS = ("gap", "drop", "duplicate", "reorder", "vanish", "channel_change")


@dataclass(frozen=True)
class Faults:
    """The faults to inject (all off by default).

    Attributes:
        gap_ms: the acquisition stalls for this long: no event of that stretch exists (no
            sequence number is used), as when a headstage drops out.
        jitter_us: every time stamp moves by a uniform offset in +-jitter_us; events are still
            sent in their true order.
        drop_chunks: chunks of ``chunk_ms`` of events that are numbered but never arrive, as when
            a network packet is lost.
        duplicates: events sent twice (same sequence number and time stamp).
        reorder: events sent ``reorder_ms`` later than their turn.
        vanish_ms: the source disappears (its outlet is closed) for this long and comes back
            under the same name and source id; events of that stretch are never produced.
        channel_change: the source comes back declaring one electrode more, then carries on
            (once, after every other fault).
        count: instances of each kind above but the channel change (jitter applies to every event).
        chunk_ms, reorder_ms: sizes of a dropped chunk and of a reordering delay.
    """

    gap_ms: float = 0.0
    jitter_us: float = 0.0
    drop_chunks: bool = False
    duplicates: bool = False
    reorder: bool = False
    vanish_ms: float = 0.0
    channel_change: bool = False
    count: int = 1
    chunk_ms: float = 1.0
    reorder_ms: float = 10.0

    def kinds(self) -> list[str]:
        """The kinds requested, in :data:`KINDS` order."""
        on = {
            "gap": self.gap_ms > 0,
            "drop": self.drop_chunks,
            "duplicate": self.duplicates,
            "reorder": self.reorder,
            "vanish": self.vanish_ms > 0,
            "channel_change": self.channel_change,
        }
        return [kind for kind in KINDS if on[kind]]


@dataclass(frozen=True)
class Outage:
    """The source goes away at stream time ``at`` for ``seconds``; ``electrodes`` it declares
    when it comes back (None: unchanged)."""

    at: float
    seconds: float
    electrodes: int | None = None


@dataclass(frozen=True)
class Plan:
    """The sends of a playback, in send order.

    Attributes:
        due: (S,) stream time at which each send is due (the event's true time, plus the delay
            of a reordered event).
        times: (S,) the time stamp sent (jittered when asked).
        channels, units, sequence: (S,) the sample sent.
        outages: source disappearances, in time order.
        injected: what was injected, by name: ``gaps``, ``outages``, ``silences`` (for each gap
            and outage, the time stamps of the last event before it and the first after it),
            ``dropped_chunks``, ``lost_events``, ``duplicates``, ``out_of_order``,
            ``channel_changes``.
    """

    due: np.ndarray
    times: np.ndarray
    channels: np.ndarray
    units: np.ndarray
    sequence: np.ndarray
    outages: list[Outage] = field(default_factory=list)
    injected: dict = field(default_factory=dict)


MIN_FAULT_SPACING_S = 0.1
"""The closest two instances of one fault may follow each other: a reordered event arrives 10 ms
late, and a consumer needs a few 4 ms bins between faults to tell one from the next."""


def fault_times(start: float, stop: float, faults: Faults) -> dict[str, list[float]]:
    """Stream times of every fault instance (module docstring: spread evenly, kinds staggered)."""
    kinds = [kind for kind in faults.kinds() if kind != "channel_change"]
    span = (stop - start) / faults.count
    times = {kind: [start + span * (i + (m + 1) / (len(kinds) + 1)) for i in range(faults.count)] for m, kind in enumerate(kinds)}
    if faults.channel_change:
        times["channel_change"] = [start + 0.95 * (stop - start)]
    return times


def plan(events: SpikeEvents, start: float, stop: float, electrodes: int, faults: Faults, seed: int = 0) -> Plan:
    """The sends of the events with ``start < time <= stop``, with ``faults`` applied.

    Args:
        events: time-ordered spike events of the session.
        start, stop: the stretch to play, in the file's seconds.
        electrodes: the electrode count the source declares.
        faults: what to inject.
        seed: seeds the jitter.

    Returns:
        The :class:`Plan`.
    """
    if faults.count < 1:
        raise InputError("command line", "--faults", f"at least 1 instance of each fault, got {faults.count}")
    most = int((stop - start) / MIN_FAULT_SPACING_S)
    if faults.count > max(most, 1):
        raise InputError(
            "command line",
            "--faults",
            f"at most {max(most, 1)} instances in the {stop - start:g} s played (one per {MIN_FAULT_SPACING_S:g} s)",
        )
    keep = (events.times > start) & (events.times <= stop)
    times, channels, units = events.times[keep], events.channels[keep], events.units[keep]
    at = fault_times(start, stop, faults)
    injected: dict = {"gaps": 0, "outages": 0, "silences": [], "channel_changes": 0}

    # Stretches with no events at all come first: they use no sequence numbers.
    outages = []
    removed = np.zeros(times.size, dtype=bool)
    for kind, width in (("gap", faults.gap_ms * 1e-3), ("vanish", faults.vanish_ms * 1e-3)):
        for t in at.get(kind, []):
            inside = (times >= t) & (times < t + width)
            removed |= inside
            before, after = times[times < t], times[times >= t + width]
            injected["silences"].append([float(before[-1]), float(after[0])])
            if kind == "gap":
                injected["gaps"] += 1
            else:
                outages.append(Outage(t, width))
                injected["outages"] += 1
    for t in at.get("channel_change", []):
        outages.append(Outage(t, 0.0, electrodes + 1))
        injected["channel_changes"] += 1
    times, channels, units = times[~removed], channels[~removed], units[~removed]
    sequence = np.arange(times.size, dtype=np.int64)
    due = times.copy()

    # Then what happens to numbered events on the way: loss, repetition, delay.
    sent = np.ones(times.size, dtype=bool)
    for t in at.get("drop", []):
        first = int(np.searchsorted(times, t))
        sent &= ~((times >= times[first]) & (times < times[first] + faults.chunk_ms * 1e-3))
    repeat = np.zeros(times.size, dtype=bool)
    for t in at.get("duplicate", []):
        repeat[int(np.searchsorted(times, t))] = True
    for t in at.get("reorder", []):
        due[int(np.searchsorted(times, t))] += faults.reorder_ms * 1e-3
    stamped = times
    if faults.jitter_us > 0:
        rng = np.random.default_rng(seed)
        stamped = times + rng.uniform(-faults.jitter_us, faults.jitter_us, times.size) * 1e-6

    rows = np.flatnonzero(sent)
    rows = np.concatenate([rows, np.flatnonzero(repeat & sent)])
    order = rows[np.argsort(due[rows], kind="stable")]
    seq = sequence[order]
    running_max = np.maximum.accumulate(np.concatenate([[-1], seq[:-1]]))
    lost = np.flatnonzero(~sent)
    injected.update(
        dropped_chunks=int(np.count_nonzero(np.diff(lost) != 1) + 1) if lost.size else 0,
        lost_events=int(lost.size),
        duplicates=int(order.size - np.unique(order).size),
        out_of_order=int(np.count_nonzero((seq < running_max) & ~_repeated(seq))),
        jitter_us=faults.jitter_us,
    )
    return Plan(due[order], stamped[order], channels[order], units[order], seq, sorted(outages, key=lambda o: o.at), injected)


def _repeated(seq: np.ndarray) -> np.ndarray:
    """Whether each entry repeats an earlier one."""
    _, first = np.unique(seq, return_index=True)
    out = np.ones(seq.size, dtype=bool)
    out[first] = False
    return out
