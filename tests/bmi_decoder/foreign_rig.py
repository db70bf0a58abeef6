"""A rig that is not ``bmi-decoder rig``: a recording published with plain pylsl, as an acquisition
system written by someone else would publish it.

``python foreign_rig.py FILE SECONDS FORMAT SPEED``: spike events as 2 channels ``[channel, unit]``
in FORMAT (int16, int32, float32 or double64), no description, no sequence numbers, no end
marker; and a separate 2-channel cursor position stream (``foreign-cursor``, 250 Hz). Every
sample is stamped with this process's LSL clock: the moment its file time is due at SPEED (1:
real time), the file's first behaviour sample being due when the first consumer has connected.
At the end both outlets are closed, the only end such a rig announces. Prints one JSON line:
the first and last behaviour samples played.

Run it inside the same loopback-only network namespace as the consumer (LSLAPICFG set).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pylsl

from bmi_decoder.io import read_recording

SPIKES, CURSOR = "foreign-spikes", "foreign-cursor"


def main(path: str, seconds: float, fmt: str, speed: float) -> int:
    rec = read_recording(path)
    stop = int(round(seconds / (rec.t[1] - rec.t[0])))
    t0, t_end = float(rec.t[0]), float(rec.t[stop - 1])
    order = np.argsort(rec.spike_times, kind="stable")
    times = rec.spike_times[order]
    keep = (times > t0) & (times <= t_end)
    times, rows = times[keep], np.column_stack([rec.spike_channels[order], rec.spike_units[order]])[keep]
    spikes = pylsl.StreamOutlet(pylsl.StreamInfo(SPIKES, "Markers", 2, pylsl.IRREGULAR_RATE, fmt, "foreign-rig-1"))
    cursor = pylsl.StreamOutlet(pylsl.StreamInfo(CURSOR, "Position", 2, 250.0, "float32", "foreign-rig-2"))
    while not (spikes.have_consumers() and cursor.have_consumers()):
        time.sleep(0.05)
    time.sleep(0.5)  # the consumer opens its inlets one after another
    anchor = pylsl.local_clock()
    # file time t is stamped (and due, at speed 1) at anchor + (t - t0)
    kin_times, kin_rows = rec.t[:stop], rec.cursor_pos[:stop].astype(np.float32)
    i = k = 0
    while i < len(times) or k < stop:
        file_now = t0 + (pylsl.local_clock() - anchor) * speed
        j = int(np.searchsorted(times, file_now, side="right"))
        if j > i:
            spikes.push_chunk(rows[i:j].tolist(), (anchor + (times[i:j] - t0)).tolist())
            i = j
        m = int(np.searchsorted(kin_times, file_now, side="right"))
        if m > k:
            cursor.push_chunk(kin_rows[k:m].tolist(), (anchor + (kin_times[k:m] - t0)).tolist())
            k = m
        time.sleep(0.0005)
    time.sleep(0.5)  # what was pushed reaches the consumer before the outlets go
    del spikes, cursor
    print(json.dumps({"first_sample": 0, "stop_sample": stop}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
