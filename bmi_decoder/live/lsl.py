"""Lab Streaming Layer: a loopback-only liblsl configuration and the layout of the live streams.

liblsl finds streams by multicast and broadcast unless its configuration says otherwise.
:func:`import_pylsl` points ``LSLAPICFG`` at ``lsl_loopback.cfg`` (IPv6 off, resolution scoped to
the machine, every address and known peer 127.0.0.1) before liblsl is loaded, unless the
variable is already set: liblsl reads it once, when the library loads.

Streams (names are the defaults of ``bmi-decoder rig`` and ``stream``):

- spikes, type ``Spikes``: irregular rate, int32 samples ``(channel, unit, sequence)``, one per
  spike, stamped with the spike's time in the file. ``sequence`` counts events from 0, so a
  consumer can tell lost, repeated and reordered events apart; ``channel = -1`` marks the end of
  the session (its time stamp: the last behaviour sample). The description holds the behaviour
  clock (``clock/first``, ``clock/step``, ``clock/samples``, and ``clock/stop``, the sample after
  the last one played), the electrode count
  (``electrodes``) and the recording (``source_file``).
- binned spikes, type ``SpikeCounts``: the alternative, regular at one sample per behaviour step,
  float32 spike counts per channel, stamped with the sample's time; same description.
- kinematics, ``NAME-kinematics``: regular, float32 ``(vx, vy, x, y, target_x, target_y)`` per
  behaviour sample (mm/s, mm), the true cursor the decoded velocity is scored against.
- pace, ``NAME-pace``, type ``Pace``: irregular, double ``(file_time, speed)``, stamped with the
  rig's LSL clock at the moment its playback passed ``file_time``; sent when playback starts or
  resumes after an outage, and again every second. With it a consumer places a spike's time in
  the file on the LSL clock (:class:`bmi_decoder.live.connection.SourceClock`).
- velocity, type ``Velocity``: what ``bmi-decoder stream`` pushes, float32 ``(vx, vy)`` in mm/s,
  one sample per bin at ``1 / bin_width`` Hz, stamped with the bin's time (its last sample) on
  the spike stream's clock.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from bmi_decoder.live.events import Clock
from snn_core.errors import InputError

LOOPBACK_CONFIG = Path(__file__).with_name("lsl_loopback.cfg")
SPIKES = "Spikes"
SPIKE_COUNTS = "SpikeCounts"
KINEMATICS = "Kinematics"
VELOCITY = "Velocity"
PACE = "Pace"
KINEMATICS_CHANNELS = ("vx", "vy", "x", "y", "target_x", "target_y")
END_CHANNEL = -1


def kinematics_name(name: str) -> str:
    """The kinematics stream that goes with spike stream ``name``."""
    return f"{name}-kinematics"


def pace_name(name: str) -> str:
    """The pace stream that goes with spike stream ``name``."""
    return f"{name}-pace"


def import_pylsl() -> ModuleType:
    """pylsl, with liblsl configured for loopback only (see the module docstring)."""
    os.environ.setdefault("LSLAPICFG", str(LOOPBACK_CONFIG))
    import pylsl

    return pylsl


def describe(info, clock: Clock, electrodes: int, source_file: str, stop: int) -> None:
    """Write the session's clock, electrode count and file into a stream's description, and
    ``clock/stop``: the sample after the last one the playback sends."""
    desc = info.desc()
    node = desc.append_child("clock")
    node.append_child_value("first", repr(clock.first))
    node.append_child_value("step", repr(clock.step))
    node.append_child_value("samples", str(clock.n_samples))
    node.append_child_value("stop", str(stop))
    desc.append_child_value("electrodes", str(electrodes))
    desc.append_child_value("source_file", source_file)


def read_description(info, source: str) -> tuple[Clock, int, str, int] | None:
    """The clock, electrode count, file and stop sample a stream's description declares (see
    :func:`describe`); None for a stream whose description has no clock (one not published by
    ``bmi-decoder rig``).

    Raises:
        InputError: a clock or electrode count that is not a number.
    """
    desc = info.desc()
    clock_node = desc.child("clock")
    if clock_node.empty():
        return None
    try:
        clock = Clock(
            first=float(clock_node.child_value("first")),
            step=float(clock_node.child_value("step")),
            n_samples=int(clock_node.child_value("samples")),
        )
        electrodes = int(desc.child_value("electrodes"))
        stop = int(clock_node.child_value("stop") or clock.n_samples)
    except ValueError:
        raise InputError(
            source, "desc", "a stream description with clock/first, clock/step, clock/samples and electrodes"
        ) from None
    if not (clock.step > 0 and clock.n_samples > 0 and electrodes > 0):
        raise InputError(source, "desc", "a positive clock step, sample count and electrode count")
    return clock, electrodes, desc.child_value("source_file"), stop
