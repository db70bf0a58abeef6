"""The live consumer: spike events in over LSL, online bins, one decoder step per bin, velocity out.

Each bin is binned exactly as offline (:mod:`bmi_decoder.live.binning`) and decoded through the
decoder's ``step``. Latency is measured per bin from the arrival of the event that closes it
(the moment the consumer's pull returns it) to the push of its velocity; decode-only latency is
the ``step`` call alone. Garbage collection is paused while streaming, as in
:func:`bmi_decoder.replay.replay`: a full collection takes milliseconds.

Fault rules (docs/live.md):

- duplicate: an event whose sequence number was already received is discarded.
- out of order: an event whose sequence number is below the highest received fills a hole; it
  is binned if its bin is still open, otherwise discarded as stale.
- stale: an event whose time stamp falls in a bin already decoded is discarded and counted.
- dropped chunk: sequence numbers that never arrive; each run of them counts as one chunk.
- gap: two consecutive events more than ``max_gap_s`` apart. The bin before the gap is decoded;
  the bins inside it are dropped (not decoded, no velocity pushed, decoder state kept).
- late bin: a bin whose latency exceeds the bin width (a missed deadline).
- source lost: the consumer resolves the stream again by name for up to ``wait_s`` seconds and
  carries on with the same bins and decoder state; a stream that comes back declaring a channel
  count other than the checkpoint's ends the run with exit status 2.

Streams without sequence numbers (two channels: channel, unit) get out-of-order counts from
their time stamps and no duplicate or loss counts. Streams of binned counts (regular rate) are
decoded one bin per ``bin_width`` of samples.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bmi_decoder.decoders import Decoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.live import lsl, realtime
from bmi_decoder.live.binning import LIVE_MODES, OnlineBinner
from bmi_decoder.live.events import Clock
from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError

STATS_PERIOD_S = 1.0
# liblsl's inlet buffer, in hundreds of samples for an irregular stream: 60,000 events, some 45 s
# of a 96-channel array, so a consumer held up (e.g. a slow start) loses nothing.
INLET_BUFFER = 600
# The true kinematics are read this often (for r2_online and the view), between bins.
KINEMATICS_PERIOD_S = 0.05
# How many bins the view waits for a bin's true kinematics before drawing it without them.
VIEW_WAIT_BINS = 100
# A jump in sequence numbers this large is a restarted source, not lost events.
MAX_SEQUENCE_JUMP = 1_000_000
# How often the consumer looks at what its resolver found while it waits for a stream.
RESOLVE_POLL_S = 0.05
# Stand-in for "no end" in the clock of a stream that declares none.
ENDLESS = 2**62


class SequenceTracker:
    """Classifies events by sequence number: new, out of order (filling a hole) or duplicate."""

    NEW, OUT_OF_ORDER, DUPLICATE = range(3)

    def __init__(self) -> None:
        self.top = -1
        self.missing: set[int] = set()

    def see(self, seq: int) -> int:
        if seq > self.top:
            if seq - self.top > MAX_SEQUENCE_JUMP:
                self.missing.clear()
            elif seq > self.top + 1:
                self.missing.update(range(self.top + 1, seq))
            self.top = seq
            return self.NEW
        if seq in self.missing:
            self.missing.discard(seq)
            return self.OUT_OF_ORDER
        return self.DUPLICATE

    def lost(self) -> tuple[int, int]:
        """(runs of missing sequence numbers, missing numbers): dropped chunks and lost events."""
        missing = self.missing.copy()  # one C call: the view thread may ask while events arrive
        gaps = np.diff(np.sort(np.fromiter(missing, dtype=np.int64, count=len(missing))))
        return (int(np.count_nonzero(gaps != 1)) + 1 if missing else 0), len(missing)


@dataclass
class Counts:
    """What went wrong, counted (module docstring: the rule for each)."""

    late_bins: int = 0
    dropped_bins: int = 0
    gaps: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    dropped_chunks: int = 0
    lost_events: int = 0
    stale_events: int = 0
    reconnects: int = 0


def percentiles_us(seconds: list[float]) -> dict[str, float | None]:
    """median, p95, p99 and max of durations in seconds, as microseconds."""
    if not seconds:
        return {"median": None, "p95": None, "p99": None, "max": None}
    us = np.asarray(seconds) * 1e6
    p50, p95, p99 = np.percentile(us, [50, 95, 99])
    return {"median": float(p50), "p95": float(p95), "p99": float(p99), "max": float(us.max())}


class LiveDecoder:
    """Consume a spike stream, decode it bin by bin, push velocity, keep stream.json current.

    Args:
        decoder: a fitted decoder (its ``step`` is the per-bin path).
        data: the checkpoint's preprocessing (``bin_width``, ``mode``, ``lag``).
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
    """

    def __init__(
        self,
        decoder: Decoder,
        data: dict,
        name: str,
        out: Path,
        wait_s: float = 30.0,
        max_gap_s: float = 0.1,
        reference: Path | None = None,
        velocity_name: str = lsl.VELOCITY_NAME,
        realtime_cpu: int | None = None,
    ) -> None:
        self.decoder, self.name, self.out = decoder, name, out
        self.bin_width = float(data.get("bin_width", 0.004))
        self.mode = data.get("mode", "or")
        if self.mode not in LIVE_MODES:  # refused before anything connects
            raise InputError("checkpoint", "data.mode", f"one of {', '.join(LIVE_MODES)} for live binning, got {self.mode!r}")
        self.pylsl = lsl.import_pylsl()
        self.shift = int(round(float(data.get("lag", 0.0)) / self.bin_width))
        self.n_features = int(decoder.n_features_in_)
        self.wait_s, self.max_gap_s, self.reference = wait_s, max_gap_s, reference
        self.velocity_name = velocity_name
        self.realtime_cpu = realtime_cpu
        self.twin = decoder.twin() if realtime_cpu is not None else None
        self.last_x = np.zeros(self.n_features)
        self.counts = Counts()
        self.sequence = SequenceTracker()
        # per decoded bin, append-only (the view thread reads them)
        self.bins: list[int] = []
        self.predictions: list[np.ndarray] = []
        self.latencies: list[float] = []
        self.decode_times: list[float] = []
        self.busy_s = 0.0
        self.kin: np.ndarray | None = None
        self.clock: Clock | None = None
        self.binner: OnlineBinner | None = None
        self.source_file = ""
        self.stop_sample = ENDLESS
        self.r2_offline: float | None = None
        self.started = time.perf_counter()  # again when streaming starts; the view may ask earlier
        self.finished = False
        self.note = ""

    # -- connecting ----------------------------------------------------------------------------
    def _resolve(self, name: str, timeout: float):
        # resolve_byprop blocks in C for its whole timeout, where Ctrl-C cannot reach Python (and
        # a call shorter than about 0.5 s never finds a stream): a resolver working in the
        # background is polled instead, so an interrupt ends the wait at once
        resolver = self.pylsl.ContinuousResolver(prop="name", value=name)
        deadline = time.monotonic() + timeout
        while not (found := resolver.results()) and time.monotonic() < deadline:
            time.sleep(RESOLVE_POLL_S)
        return found[0] if found else None

    def _open(self, timeout: float) -> bool:
        """Resolve the spike stream and open an inlet; False when it did not appear in time."""
        info = self._resolve(self.name, timeout)
        if info is None:
            return False
        inlet = self.pylsl.StreamInlet(info, max_buflen=INLET_BUFFER, recover=False)
        full = inlet.info(timeout=max(timeout, 5.0))
        self.binned = full.nominal_srate() > 0
        declared = lsl.read_description(full, f"stream {self.name!r}")
        if declared is not None:
            clock, electrodes, self.source_file, self.stop_sample = declared
        else:  # a foreign stream: bins from its first time stamp (set on the first event)
            step = 1.0 / full.nominal_srate() if self.binned else self.bin_width
            clock, electrodes = None, full.channel_count() if self.binned else self.n_features
            self._foreign_step = step
        if electrodes != self.n_features:
            raise InputError(
                f"stream {self.name!r}",
                "electrodes",
                f"{self.n_features} channels as the checkpoint was trained on, got {electrodes}",
            )
        if self.binned and full.channel_count() != self.n_features:
            raise InputError(
                f"stream {self.name!r}", "channel_count", f"{self.n_features} spike-count channels, got {full.channel_count()}"
            )
        if not self.binned and full.channel_count() not in (2, 3):
            raise InputError(
                f"stream {self.name!r}", "channel_count", f"2 (channel, unit) or 3 (and sequence), got {full.channel_count()}"
            )
        self.has_sequence = full.channel_count() == 3 and not self.binned
        if clock is not None and self.clock is None:
            self._set_clock(clock)
        inlet.open_stream(timeout=max(timeout, 5.0))
        self.inlet = inlet
        return True

    def _set_clock(self, clock: Clock) -> None:
        self.clock = clock
        self.binner = OnlineBinner(clock, self.bin_width, self.mode, self.n_features)
        self.kin = np.full((clock.n_samples if clock.n_samples < ENDLESS else 0, 6), np.nan)

    def _open_kinematics(self):
        info = self._resolve(lsl.kinematics_name(self.name), 2.0)
        if info is None:
            return None
        inlet = self.pylsl.StreamInlet(info, max_buflen=60, recover=True)
        inlet.open_stream(timeout=5.0)
        return inlet

    # -- the loop ------------------------------------------------------------------------------
    def run(self, view=None) -> dict:
        """Stream until the source sends its end (or vanishes for good); returns stream.json's content."""
        self.view = view
        self.decoder.reset()  # builds (and compiles) the step path before any event can queue up
        if self.twin is not None:
            self.twin.reset()
        if not self._open(self.wait_s):
            raise InputError(f"stream {self.name!r}", "name", f"an LSL stream of that name within {self.wait_s:g} s")
        self.kinematics = self._open_kinematics()
        pylsl = self.pylsl
        info = pylsl.StreamInfo(
            self.velocity_name, lsl.VELOCITY, 2, 1.0 / self.bin_width, pylsl.cf_float32, f"{self.velocity_name}:{self.name}"
        )
        self.velocity = pylsl.StreamOutlet(info)
        self.started = time.perf_counter()
        self._first = True
        self._resync = False
        self.last_time = -math.inf
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
            self.inlet = None
            self._offline()
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
        clock_now = time.perf_counter
        next_write = clock_now() + STATS_PERIOD_S
        next_kinematics = clock_now()
        process = self._binned_sample if self.binned else self._event
        # real-time mode spins on the inlet (the core stays ours); otherwise the loop sleeps in it
        timeout = 0.0 if self.twin is not None else 0.05
        while True:
            try:
                sample, stamp = self.inlet.pull_sample(timeout=timeout)
            except self.pylsl.util.LostError:
                if not self._reconnect():
                    return
                continue
            if sample is not None:
                if process(sample, stamp, clock_now()):
                    return
            elif self.twin is not None:
                # Code left idle for a few hundred microseconds runs cold, even on a core that
                # spins: on the 2-core KVM build machine the first step after 4 ms of spinning
                # took 35 us (median) against 6 us back to back, and a trivial NumPy call 21 us
                # against 2. The twin's steps keep the path (and, shared, the weights) warm; an
                # event waits at most one twin step (about 6 us) to be pulled.
                self.twin.step(self.last_x)
            now = clock_now()
            if now >= next_kinematics:
                self._pull_kinematics()
                next_kinematics = now + KINEMATICS_PERIOD_S
            if now >= next_write:
                self.write()
                next_write = now + STATS_PERIOD_S

    def _reconnect(self) -> bool:
        print(f"stream: source {self.name!r} lost; waiting up to {self.wait_s:g} s for it to return", file=sys.stderr)
        self._leave_realtime()  # the new inlet's liblsl threads must not inherit the loop's core
        deadline = time.monotonic() + self.wait_s
        returned = False
        while not returned and (remaining := deadline - time.monotonic()) > 0:
            try:
                returned = self._open(remaining)
            except self.pylsl.util.LostError:
                # resolved an outlet on its way out (the vanished source, still announced for
                # a moment): resolve again until one answers or the wait is over
                time.sleep(0.05)
        self._enter_realtime()
        if not returned:
            self.note = f"the source did not return within {self.wait_s:g} s"
            return False
        self.counts.reconnects += 1
        self._resync = True
        return True

    def _event(self, sample: list, stamp: float, arrival: float) -> bool:
        """One spike event; True once the session's end arrived."""
        channel = sample[0]
        if self.binner is None:  # a foreign stream's bins start at its first time stamp
            self._set_clock(Clock(stamp, self._foreign_step, ENDLESS))
        binner, counts = self.binner, self.counts
        if channel == lsl.END_CHANNEL:
            while binner.open < binner.n_bins and binner.upper_edge(binner.open) <= stamp:
                self._decode(arrival)
            return True
        if self.has_sequence:
            if self._resync:  # a source that restarted its numbering on return starts a new sequence
                self._resync = False
                if sample[2] <= self.sequence.top and sample[2] not in self.sequence.missing:
                    self.sequence = SequenceTracker()
            kind = self.sequence.see(sample[2])
            if kind == SequenceTracker.DUPLICATE:
                counts.duplicates += 1
                return False
            if kind == SequenceTracker.OUT_OF_ORDER:
                counts.out_of_order += 1
        elif stamp < self.last_time:
            counts.out_of_order += 1
        j = binner.bin_of(stamp)
        if j < 0 or j >= binner.n_bins:
            return False
        if self._first:
            binner.skip_to(j)
            self._first = False
        if j < binner.open:
            counts.stale_events += 1
            return False
        if not 0 <= channel < self.n_features:
            raise InputError(f"stream {self.name!r}", "channel", f"channel indices 0 to {self.n_features - 1}, got {channel}")
        if j > binner.open:
            if stamp - self.last_time > self.max_gap_s:
                self._decode(arrival)
                counts.gaps += 1
                counts.dropped_bins += j - binner.open
                binner.skip_to(j)
            else:
                while binner.open < j:
                    self._decode(arrival)
        binner.add(channel)
        self.last_time = max(self.last_time, stamp)
        return False

    def _binned_sample(self, sample: list, stamp: float, arrival: float) -> bool:
        """One sample of spike counts per channel (one behaviour step); True after the last bin
        the playback declared (its ``clock/stop``)."""
        if self.binner is None:
            self._set_clock(Clock(stamp, self._foreign_step, ENDLESS))
        binner = self.binner
        i = binner.sample_of(stamp)
        j = i // binner.k
        if i < 0 or j >= binner.n_bins:
            return False
        if self._first:
            binner.skip_to(j)
            self._first = False
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
        return binner.open >= min(binner.n_bins, self.stop_sample // binner.k)

    def _decode(self, arrival: float) -> None:
        """Decode and push the open bin; its latency counts from ``arrival``."""
        clock_now = time.perf_counter
        j = self.binner.open
        x = self.binner.close()
        begin = clock_now()
        velocity = self.decoder.step(x)
        decoded = clock_now()
        self.last_x = x
        self.velocity.push_sample(velocity, self.binner.upper_edge(j))
        pushed = clock_now()
        self.bins.append(j)
        self.predictions.append(velocity)
        self.latencies.append(pushed - arrival)
        self.decode_times.append(decoded - begin)
        self.busy_s += pushed - begin
        if pushed - arrival > self.bin_width:
            self.counts.late_bins += 1

    def _pull_kinematics(self) -> None:
        if self.kinematics is None or self.kin is None or not len(self.kin):
            return
        rows, stamps = self.kinematics.pull_chunk(timeout=0.0)
        if stamps:
            index = np.rint((np.asarray(stamps) - self.clock.first) / self.clock.step).astype(np.int64)
            ok = (index >= 0) & (index < len(self.kin))
            self.kin[index[ok]] = np.asarray(rows, dtype=np.float64)[ok]

    # -- results -------------------------------------------------------------------------------
    def label_rows(self, bins: np.ndarray) -> np.ndarray:
        """Kinematics sample of each bin's label: the last sample of bin ``j + lag``."""
        return (bins + self.shift) * self.binner.k + self.binner.k - 1

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions among decoded bins, true velocity) for the decoded bins with a label so far."""
        if self.kin is None or not len(self.kin) or not self.bins:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
        rows = self.label_rows(np.asarray(self.bins))
        inside = np.flatnonzero((rows >= 0) & (rows < len(self.kin)))
        true = self.kin[rows[inside], :2]
        known = ~np.isnan(true).any(axis=1)
        return inside[known], true[known]

    def _offline(self) -> None:
        """r2_offline: the same bins, binned offline from the recording and decoded from reset."""
        from bmi_decoder.io import read_recording
        from bmi_decoder.preprocess import bin_spikes

        self._pull_kinematics()
        path = self.reference or (Path(self.source_file) if self.source_file else None)
        if path is None or not path.exists() or not self.bins:
            return
        rec = read_recording(path)
        if self.clock is None or float(rec.t[0]) != self.clock.first or rec.t.size != self.clock.n_samples:
            self.note = f"r2_offline not computed: {path} is not the recording this stream played"
            return
        features = bin_spikes(rec, self.bin_width, self.mode)
        bins = np.asarray(self.bins)
        self.decoder.reset()
        offline = {}
        for j in range(bins.min(), bins.max() + 1):
            offline[j] = self.decoder.step(features[j])
        where, true = self.labels()
        if len(where) > 1:
            self.r2_offline = r2_score(true, np.stack([offline[j] for j in bins[where]]))

    def stats(self) -> dict:
        """stream.json's content (docs/live.md: every field)."""
        counts = self.counts
        counts.dropped_chunks, counts.lost_events = self.sequence.lost()
        where, true = self.labels()
        r2_online = r2_score(true, np.stack([self.predictions[i] for i in where])) if len(where) > 1 else None
        stream_s = len(self.bins) * self.bin_width
        return {
            "stream": self.name,
            "decoder": self.decoder.name,
            "bins": len(self.bins),
            "bin_s": self.bin_width,
            "latency_us": percentiles_us(self.latencies),
            "decode_us": percentiles_us(self.decode_times),
            "real_time_factor": self.busy_s / stream_s if stream_s else None,
            "realtime_cpu": self.realtime_cpu,
            **asdict(counts),
            "r2_online": r2_online,
            "r2_offline": self.r2_offline,
            "wall_s": time.perf_counter() - self.started,
            "finished": self.finished,
            "note": self.note,
        }

    def rows_since(self, start: int) -> list[dict]:
        """The decoded bins from position ``start`` on, with the true kinematics of their label
        sample once it has arrived (the view waits up to :data:`VIEW_WAIT_BINS` bins for it)."""
        stop = len(self.bins)
        rows = []
        for i in range(start, stop):
            j = self.bins[i]
            r = int(self.label_rows(np.asarray([j]))[0]) if self.kin is not None else -1
            kin = self.kin[r] if 0 <= r < len(self.kin) else None
            if (kin is None or np.isnan(kin[0])) and stop - i < VIEW_WAIT_BINS:
                break
            known = kin is not None and not np.isnan(kin[0])
            rows.append(
                {
                    "t": round(j * self.bin_width, 4),
                    "decoded": [round(float(v), 2) for v in self.predictions[i]],
                    "true": [round(float(v), 2) for v in kin[:2]] if known else None,
                    "cursor": [round(float(v), 2) for v in kin[2:4]] if known else None,
                    "target": [round(float(v), 2) for v in kin[4:6]] if known else None,
                }
            )
        return rows

    def write(self) -> None:
        write_text_atomic(self.out, json.dumps(self.stats(), indent=2) + "\n")
