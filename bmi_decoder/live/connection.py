"""The live consumer's side of Lab Streaming Layer: finding the streams, opening inlets, and the
source's clock mapped to this machine's.

Latency from a bin's end needs the moment that end happened, on the local clock. A foreign rig
stamps its samples with its own LSL clock (``local_clock()`` where it runs): adding the inlet's
``time_correction`` maps a stamp to ours. ``bmi-decoder rig`` stamps spikes with their time in
the file, which the online bins must keep (the offline edges are built from it bit for bit), so
it publishes a pace stream (:data:`bmi_decoder.live.lsl.PACE`): each sample says "file time T
was played at this LSL time, at this speed". :class:`SourceClock` combines both.
"""

from __future__ import annotations

import bisect
import time

import numpy as np

from bmi_decoder.live import lsl
from bmi_decoder.live.events import Clock
from snn_core.errors import InputError

# liblsl's inlet buffer, in hundreds of samples for an irregular stream: 60,000 events, some 45 s
# of a 96-channel array, so a consumer held up (e.g. a slow start) loses nothing.
INLET_BUFFER = 600
# How often the consumer looks at what its resolver found while it waits for a stream.
RESOLVE_POLL_S = 0.05
# How long companions (kinematics, pace) may take to appear once the spike stream is found.
COMPANION_WAIT_S = 2.0
# Sample formats a spike stream may use: what acquisition systems send for indices and counts.
SPIKE_FORMATS = ("int16", "int32", "float32", "double64")


class SourceClock:
    """The spike stream's time stamps on the local LSL clock.

    Args:
        paced: stamps are times in a file, mapped by the rig's pace samples; False: stamps are
            the source's own LSL clock.
    """

    def __init__(self, paced: bool) -> None:
        self.paced = paced
        self.correction = 0.0  # the spike inlet's time_correction (the pace inlet's when paced)
        self.file_times: list[float] = []
        self.lsl_times: list[float] = []
        self.speeds: list[float] = []

    def add_pace(self, file_time: float, speed: float, lsl_time: float) -> None:
        """One pace sample; a repeated one (the rig sends its anchor again every second) is ignored."""
        if self.lsl_times and lsl_time <= self.lsl_times[-1]:
            return
        self.file_times.append(file_time)
        self.lsl_times.append(lsl_time)
        self.speeds.append(speed)

    def to_local(self, t: float) -> float | None:
        """Local LSL time of source time ``t``; None while a rig's pace is unknown."""
        if not self.paced:
            return t + self.correction
        i = bisect.bisect_right(self.file_times, t) - 1
        if i < 0:
            return None
        return self.lsl_times[i] + (t - self.file_times[i]) / self.speeds[i] + self.correction

    def to_local_array(self, t: np.ndarray) -> np.ndarray:
        """:meth:`to_local` of many times; NaN where unknown."""
        t = np.asarray(t, dtype=np.float64)
        if not self.paced:
            return t + self.correction
        if not self.file_times:
            return np.full(t.shape, np.nan)
        i = np.searchsorted(np.asarray(self.file_times), t, side="right") - 1
        known = i >= 0
        i = np.maximum(i, 0)
        out = np.asarray(self.lsl_times)[i] + (t - np.asarray(self.file_times)[i]) / np.asarray(self.speeds)[i] + self.correction
        return np.where(known, out, np.nan)


class Connection:
    """The spike inlet and its companions (kinematics, pace), and what the source declares.

    Args:
        pylsl: the module (:func:`bmi_decoder.live.lsl.import_pylsl`).
        name: the spike stream's name.
        n_features: the checkpoint's channel count.
        bin_width: seconds; the bin grid of a foreign event stream, which declares no clock.
        kinematics: a foreign 2-channel cursor stream's name; None: the rig's ``NAME-kinematics``.
    """

    def __init__(self, pylsl, name: str, n_features: int, bin_width: float, kinematics: str | None = None) -> None:
        self.pylsl, self.name, self.n_features, self.bin_width = pylsl, name, n_features, bin_width
        self.kinematics_name = kinematics
        self.inlet = self.kinematics = self.pace = None
        self.clock: Clock | None = None  # what a rig declares; None for a foreign stream
        self.source_file = ""
        self.stop_sample: int | None = None
        self.source_clock = SourceClock(paced=False)
        self.kinematics_correction = 0.0

    def resolve(self, name: str, timeout: float):
        """The stream info of ``name``, or None after ``timeout`` s."""
        # resolve_byprop blocks in C for its whole timeout, where Ctrl-C cannot reach Python (and
        # a call shorter than about 0.5 s never finds a stream): a resolver working in the
        # background is polled instead, so an interrupt ends the wait at once
        resolver = self.pylsl.ContinuousResolver(prop="name", value=name)
        deadline = time.monotonic() + timeout
        while not (found := resolver.results()) and time.monotonic() < deadline:
            time.sleep(RESOLVE_POLL_S)
        return found[0] if found else None

    def open(self, timeout: float) -> bool:
        """Resolve the spike stream and open an inlet; False when it did not appear in time.

        Raises:
            InputError: a channel count or sample format the checkpoint cannot decode.
        """
        info = self.resolve(self.name, timeout)
        if info is None:
            return False
        source = f"stream {self.name!r}"
        inlet = self.pylsl.StreamInlet(info, max_buflen=INLET_BUFFER, recover=False)
        full = inlet.info(timeout=max(timeout, 5.0))
        self.binned = full.nominal_srate() > 0
        declared = lsl.read_description(full, source)
        if declared is not None:
            clock, electrodes, self.source_file, self.stop_sample = declared
            if self.clock is None:
                self.clock = clock
        else:  # a foreign stream: bins from its first time stamp
            self.foreign_step = 1.0 / full.nominal_srate() if self.binned else self.bin_width
            electrodes = full.channel_count() if self.binned else self.n_features
        if electrodes != self.n_features:
            raise InputError(
                source, "electrodes", f"{self.n_features} channels as the checkpoint was trained on, got {electrodes}"
            )
        if self.binned and full.channel_count() != self.n_features:
            raise InputError(source, "channel_count", f"{self.n_features} spike-count channels, got {full.channel_count()}")
        if not self.binned and full.channel_count() not in (2, 3):
            raise InputError(source, "channel_count", f"2 (channel, unit) or 3 (and sequence), got {full.channel_count()}")
        formats = {getattr(self.pylsl, "cf_" + f): f for f in SPIKE_FORMATS}
        if full.channel_format() not in formats:
            raise InputError(
                source, "channel_format", f"one of {', '.join(SPIKE_FORMATS)}, got LSL format {full.channel_format()}"
            )
        self.whole = formats[full.channel_format()].startswith("int")
        self.has_sequence = full.channel_count() == 3 and not self.binned
        self.source_clock.paced = declared is not None
        inlet.open_stream(timeout=max(timeout, 5.0))
        if not self.source_clock.paced and self.inlet is None:
            # once, before streaming: the first estimate takes some 0.5 s of probes, during which
            # a returning source's events would wait (and a short stretch of them could be lost
            # with the source). A rig's stamps are mapped by its pace inlet's offset instead.
            self.source_clock.correction = self._correction(inlet)
        self.inlet = inlet
        return True

    def _correction(self, inlet) -> float:
        # the first estimate takes a few round trips; later calls return liblsl's background estimate
        try:
            return inlet.time_correction(timeout=2.0)
        except (self.pylsl.util.TimeoutError, self.pylsl.util.LostError):
            return self.source_clock.correction

    def open_companions(self) -> None:
        """The pace stream (a rig's; opened first, as the rig starts playing once the kinematics
        have a consumer) and the kinematics."""
        if self.source_clock.paced and self.pace is None:
            self.pace = self._companion(lsl.pace_name(self.name))
            if self.pace is not None:
                self.source_clock.correction = self._correction(self.pace)
        if self.kinematics is None:
            name = self.kinematics_name or lsl.kinematics_name(self.name)
            self.kinematics = self._companion(
                name, COMPANION_WAIT_S if self.kinematics_name is None else max(COMPANION_WAIT_S, 10.0)
            )
            if self.kinematics_name is not None:
                if self.kinematics is None:
                    raise InputError("command line", "--kinematics", f"an LSL stream named {name!r} (none appeared)")
                channels = self.kinematics.info().channel_count()
                if channels != 2:
                    raise InputError(f"stream {name!r}", "channel_count", f"2 (x, y) for --kinematics, got {channels}")
                self.kinematics_correction = self._correction(self.kinematics)

    def _companion(self, name: str, timeout: float = COMPANION_WAIT_S):
        info = self.resolve(name, timeout)
        if info is None:
            return None
        inlet = self.pylsl.StreamInlet(info, max_buflen=60, recover=True)
        inlet.open_stream(timeout=5.0)
        return inlet

    def pull_pace(self) -> None:
        """Read the rig's pace samples that arrived (a few per second)."""
        if self.pace is None:
            return
        rows, stamps = self.pace.pull_chunk(timeout=0.0)
        for (file_time, speed), stamp in zip(rows, stamps):
            self.source_clock.add_pace(file_time, speed, stamp)

    def refresh_correction(self) -> None:
        """liblsl's latest clock offset estimate. Not called while streaming: once its estimate is
        a few seconds old, liblsl probes the source again before answering."""
        inlet = self.pace if self.source_clock.paced else self.inlet
        if inlet is not None:
            self.source_clock.correction = self._correction(inlet)

    def close(self) -> None:
        """Close every inlet, companions first: an inlet left open while its outlet goes away logs
        liblsl's "transmission broke off" error."""
        for inlet in (self.kinematics, self.pace, self.inlet):
            if inlet is not None:
                inlet.close_stream()
        self.inlet = self.kinematics = self.pace = None
