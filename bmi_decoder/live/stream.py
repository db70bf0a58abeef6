"""The live consumer: spike events in over LSL, online bins, one decoder step per bin, velocity out.

Each bin is binned exactly as offline (:mod:`bmi_decoder.live.binning`), closed by the rules of
:mod:`bmi_decoder.live.rules` (a later event, or the clock) and decoded through the decoder's
``step``. Two latencies are kept per bin, both ending at the push of its velocity:

- from the bin's end: the time of its last sample on the source's clock, mapped to the local
  clock (:class:`bmi_decoder.live.connection.SourceClock`). This is what a closed loop sees: it
  includes the time events spend in transit and in liblsl's queue, and the wait for the event
  (or the clock) that closes the bin.
- from the moment the loop saw the bin complete (the pull that returned the closing event, or the
  clock passing the deadline): the consumer's own work, binning, ``step`` and push.

Garbage collection is paused while streaming, as in :func:`bmi_decoder.replay.replay`: a full
collection takes milliseconds. Streams of binned counts (regular rate) are decoded one bin per
``bin_width`` of samples.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from array import array
from pathlib import Path

import numpy as np

from bmi_decoder.decoders import Decoder
from bmi_decoder.live import lsl, realtime, results
from bmi_decoder.live.binning import LIVE_MODES, OnlineBinner
from bmi_decoder.live.bookkeeping import Counts
from bmi_decoder.live.connection import Connection
from bmi_decoder.live.events import Clock
from bmi_decoder.live.rules import EventRules
from bmi_decoder.live.truth import ForeignKinematics, RigKinematics
from bmi_decoder.names import VELOCITY_STREAM
from bmi_decoder.preprocess import Preprocessing
from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError

STATS_PERIOD_S = 1.0
# The true kinematics (for r2_online and the view) and the rig's pace are read this often, between bins.
KINEMATICS_PERIOD_S = 0.05
# Stand-in for "no end" in the clock of a stream that declares none.
ENDLESS = 2**62
# Without --realtime the loop sleeps in its pull at most this long between looks at the clock.
PULL_TIMEOUT_S = 0.05


class LiveDecoder:
    """Consume a spike stream, decode it bin by bin, push velocity, keep stream.json current.

    Args:
        decoder: a fitted decoder (its ``step`` is the per-bin path).
        preprocessing: the checkpoint's (its ``bin_width``, ``mode`` and ``lag`` are the live ones).
        name: the spike stream's name.
        out: where stream.json goes.
        wait_s: how long to wait for the stream to appear, or to come back after it vanished.
        max_gap_s: silence longer than this between consecutive events is a gap.
        reference: the recording to decode offline for r2_offline (None: the file the stream's
            description names, if it exists here).
        velocity_name: the velocity outlet's name.
        realtime_cpu: pin the loop to this CPU, poll without blocking and, whenever the inlet is
            empty, step a twin of the decoder (:meth:`Decoder.twin`: its own state, the SNN's
            weights shared) on the last bin, which keeps the step path and the weights warm;
            the decoded velocities are untouched (:mod:`bmi_decoder.live.realtime`). None: the
            loop sleeps in its pull.
        close_after_s: close a bin when the local clock passes its end plus this margin
            (:mod:`bmi_decoder.live.rules`); None: only a later event closes it.
        kinematics: a foreign 2-channel cursor stream to score against (None: the rig's own).
        kinematics_kind: what that stream holds, ``"position"`` or ``"velocity"``.
    """

    def __init__(
        self,
        decoder: Decoder,
        preprocessing: Preprocessing,
        name: str,
        out: Path,
        wait_s: float = 30.0,
        max_gap_s: float = 0.1,
        reference: Path | None = None,
        velocity_name: str = VELOCITY_STREAM,
        realtime_cpu: int | None = None,
        close_after_s: float | None = None,
        kinematics: str | None = None,
        kinematics_kind: str = "position",
    ) -> None:
        self.decoder, self.name, self.out = decoder, name, out
        self.bin_width, self.mode = preprocessing.bin_width, preprocessing.mode
        if self.mode not in LIVE_MODES:  # refused before anything connects
            raise InputError(
                "checkpoint", "meta.preprocessing.mode", f"one of {', '.join(LIVE_MODES)} for live binning, got {self.mode!r}"
            )
        self.pylsl = lsl.import_pylsl()
        self.shift = int(round(preprocessing.lag / self.bin_width))
        self.n_features = int(decoder.n_features_in_)
        self.wait_s, self.max_gap_s, self.reference = wait_s, max_gap_s, reference
        self.velocity_name, self.realtime_cpu, self.close_after_s = velocity_name, realtime_cpu, close_after_s
        self.kinematics_kind = kinematics_kind
        self.twin = decoder.twin() if realtime_cpu is not None else None
        self.last_x = np.zeros(self.n_features)
        self.counts = Counts()
        self.link = Connection(self.pylsl, name, self.n_features, self.bin_width, kinematics)
        self.now = self.pylsl.local_clock  # LSL's clock: the one the source's stamps map to
        # per decoded bin, append-only (the view thread reads them); typed arrays, so that the
        # figures of a long run are copied out as memory, not converted number by number
        self.bins = array("q")
        self.predictions = array("d")  # two per bin: the velocity pushed
        self.latencies, self.decode_times, self.pushed = array("d"), array("d"), array("d")
        self.closed_by_clock = 0
        # per event: its time stamp and arrival (local), for the delay of events in transit
        self.stamps, self.arrivals = array("d"), array("d")
        self.busy_s = 0.0
        self.truth: RigKinematics | ForeignKinematics | None = None
        self.binner: OnlineBinner | None = None
        self.rules: EventRules | None = None
        self.r2_offline: float | None = None
        self.started = time.perf_counter()  # again when streaming starts; the view may ask earlier
        self.finished = False
        self.note = ""

    # -- connecting ----------------------------------------------------------------------------
    def _set_clock(self, clock: Clock) -> None:
        self.clock = clock
        self.binner = OnlineBinner(clock, self.bin_width, self.mode, self.n_features)
        self.rules = EventRules(
            self.binner,
            self.counts,
            self._decode,
            self.n_features,
            self.max_gap_s,
            f"stream {self.name!r}",
            close_after_s=None if self.link.binned else self.close_after_s,
            to_local=self.link.source_clock.to_local,
            stop_bin=None if self.link.stop_sample is None else self.link.stop_sample // self.binner.k,
        )
        if self.link.kinematics_name is not None:
            self.truth = ForeignKinematics(self.kinematics_kind, self._label_times, self.link.kinematics_correction)
        elif clock.n_samples < ENDLESS:
            self.truth = RigKinematics(clock, self.binner.k, self.shift)

    def _label_times(self, bins: np.ndarray) -> np.ndarray:
        """Local time of the end of bin ``j + lag``: a foreign cursor stream is sampled there."""
        return self.link.source_clock.to_local_array(self._edges(np.asarray(bins) + self.shift))

    def _edges(self, bins: np.ndarray) -> np.ndarray:
        """Source time of each bin's end: its last sample, the expression of ``upper_edge``."""
        c, k = self.clock, self.binner.k
        return c.first + c.step * ((np.asarray(bins, dtype=np.int64) + 1) * k - 1)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, view=None) -> dict:
        """Stream until the source sends its end (or vanishes for good); returns stream.json's content."""
        self.view = view
        self.decoder.reset()  # builds (and compiles) the step path before any event can queue up
        if self.twin is not None:
            self.twin.reset()
        # the velocity outlet first: a consumer of it can connect before the first bin is pushed
        pylsl = self.pylsl
        info = pylsl.StreamInfo(
            self.velocity_name, lsl.VELOCITY, 2, 1.0 / self.bin_width, pylsl.cf_float32, f"{self.velocity_name}:{self.name}"
        )
        self.velocity = pylsl.StreamOutlet(info)
        if not self.link.open(self.wait_s):
            raise InputError(f"stream {self.name!r}", "name", f"an LSL stream of that name within {self.wait_s:g} s")
        self.link.open_companions()
        if self.link.clock is not None:
            self._set_clock(self.link.clock)
        self.started = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        self._enter_realtime()
        try:
            self._loop()
            # the source sent its end; a source that did not return cut the run short
            self.finished = not self.note
        except KeyboardInterrupt:
            self.note = "interrupted (Ctrl-C) before the source's end"
            raise
        except Exception as err:  # e.g. the source came back declaring another channel count
            self.note = f"ended early: {err}"
            raise
        finally:
            self._leave_realtime()
            if collecting:
                gc.enable()
            self._pull_companions()
            self.link.refresh_correction()
            self.link.close()
            self.r2_offline = results.offline_r2(self)
            self.write()
        return self.stats()

    def _enter_realtime(self) -> None:
        self._previous = None
        if self.realtime_cpu is not None:
            self._previous = realtime.enter(self.realtime_cpu)

    def _leave_realtime(self) -> None:
        if self._previous is not None:
            realtime.leave(self._previous)
            self._previous = None

    def _loop(self) -> None:
        now = self.now
        next_write = now() + STATS_PERIOD_S
        next_kinematics = now()
        process = self._binned_sample if self.link.binned else self._event
        # real-time mode spins on the inlet (the core stays ours); otherwise the loop sleeps in it
        spin = self.twin is not None
        while True:
            pushed = len(self.pushed)
            timeout = 0.0 if spin else PULL_TIMEOUT_S
            if not spin and self.rules is not None:  # wake for the open bin's deadline
                timeout = min(timeout, max(self.rules.deadline() - now(), 0.0))
            try:
                sample, stamp = self.link.inlet.pull_sample(timeout=timeout)
            except self.pylsl.util.LostError:
                if not self._reconnect():
                    return
                continue
            if sample is not None:
                if process(sample, stamp, now()):
                    return
            elif spin:
                # Code left idle for a few hundred microseconds runs cold, even on a core that
                # spins: the first step after a bin's wait is several times slower than steps
                # back to back. The twin's steps keep the path (and, shared, the weights) warm;
                # an event waits at most one twin step to be pulled (docs/results/live_latency.md).
                self.twin.step(self.last_x)
            t = now()
            if self.rules is not None:
                self.rules.tick(t)
            if t >= next_kinematics:
                self._pull_companions()
                next_kinematics = t + KINEMATICS_PERIOD_S
            # Right after a push the next bin's deadline is about a bin away, so the write (a
            # millisecond or two) delays no bin; a source gone quiet is written a period late.
            if t >= next_write and (len(self.pushed) > pushed or t >= next_write + STATS_PERIOD_S):
                self.write(window_s=results.WINDOW_S)
                next_write = t + STATS_PERIOD_S

    def _reconnect(self) -> bool:
        print(f"stream: source {self.name!r} lost; waiting up to {self.wait_s:g} s for it to return", file=sys.stderr)
        self._leave_realtime()  # the new inlet's liblsl threads must not inherit the loop's core
        deadline = time.monotonic() + self.wait_s
        returned = False
        while not returned and (remaining := deadline - time.monotonic()) > 0:
            try:
                returned = self.link.open(remaining)
            except self.pylsl.util.LostError:
                # resolved an outlet on its way out (the vanished source, still announced for
                # a moment): resolve again until one answers or the wait is over
                time.sleep(0.05)
        self._enter_realtime()
        if not returned:
            self.note = f"the source did not return within {self.wait_s:g} s"
            return False
        self.counts.reconnects += 1
        if self.rules is not None:
            self.rules.resync = True
        return True

    def _event(self, sample: list, stamp: float, arrival: float) -> bool:
        """One spike event; True once the session's end arrived."""
        channel = sample[0]
        if not self.link.whole:  # a float stream: indices must still be whole numbers
            if channel != int(channel):
                raise InputError(f"stream {self.name!r}", "channel", f"whole channel indices, got {channel}")
            channel = int(channel)
        if self.binner is None:  # a foreign stream's bins start at its first time stamp
            self._set_clock(Clock(stamp, self.link.foreign_step, ENDLESS))
        if channel == lsl.END_CHANNEL:
            self.rules.end(stamp, arrival)
            return True
        self.stamps.append(stamp)
        self.arrivals.append(arrival)
        self.rules.event(channel, int(sample[2]) if self.link.has_sequence else None, stamp, arrival)
        return False

    def _binned_sample(self, sample: list, stamp: float, arrival: float) -> bool:
        """One sample of spike counts per channel (one behaviour step); True after the last bin
        the playback declared (its ``clock/stop``)."""
        if self.binner is None:
            self._set_clock(Clock(stamp, self.link.foreign_step, ENDLESS))
        binner, rules = self.binner, self.rules
        i = binner.sample_of(stamp)
        j = i // binner.k
        if i < 0 or j >= binner.n_bins:
            return False
        if not rules.started:
            binner.skip_to(j)
            rules.started = True
        if j < binner.open:
            self.counts.stale_events += 1
            return False
        while binner.open < j:
            self._decode(arrival)
        for channel, n in enumerate(sample):
            for _ in range(int(n)):
                binner.add(channel)
        if i % binner.k == binner.k - 1:
            self._decode(arrival)
        stop = self.link.stop_sample if self.link.stop_sample is not None else ENDLESS
        return binner.open >= min(binner.n_bins, stop // binner.k)

    def _decode(self, complete: float, by_clock: bool = False) -> None:
        """Decode and push the open bin, complete (its closing event pulled, or its deadline seen) at ``complete``."""
        now = self.now
        j = self.binner.open
        x = self.binner.close()
        begin = now()
        velocity = self.decoder.step(x)
        decoded = now()
        self.last_x = x
        self.velocity.push_sample(velocity, self.binner.upper_edge(j))
        pushed = now()
        self.bins.append(j)
        self.predictions.extend(velocity)
        self.latencies.append(pushed - complete)
        self.pushed.append(pushed)
        self.decode_times.append(decoded - begin)
        self.closed_by_clock += by_clock
        self.busy_s += pushed - begin
        if pushed - complete > self.bin_width:
            self.counts.late_bins += 1

    def _pull_companions(self) -> None:
        self.link.pull_pace()
        if self.link.kinematics is not None and self.truth is not None:
            self.truth.pull(self.link.kinematics)

    # -- results (bmi_decoder.live.results) ------------------------------------------------------
    def stats(self, window_s: float | None = None) -> dict:
        """stream.json's content (docs/live.md: every field); figures over the last ``window_s``."""
        return results.stats(self, window_s)

    def rows_since(self, start: int) -> list[dict]:
        """The decoded bins from position ``start`` on, for the view."""
        return results.rows_since(self, start)

    def write(self, window_s: float | None = None) -> None:
        write_text_atomic(self.out, json.dumps(self.stats(window_s), indent=2) + "\n")
