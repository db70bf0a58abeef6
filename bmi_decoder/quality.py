"""Can a recording be decoded honestly? Checks of its behaviour record, before any fit.

A reader accepts any well-formed file, but some well-formed files cannot give a meaningful score:
a cursor that never moves has zero velocity variance, so the test R2 is undefined (and printed as
0.000); a hole in the behaviour clock makes one 4 ms bin span seconds of missing data; an
irregular clock means the file is not the 250 Hz record the binning assumes (docs/data.md).
Each check returns :class:`Finding` records; ``bmi-decoder info`` prints them as warnings, and the
commands that fit a decoder refuse a recording with any (:func:`require_decodable`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmi_decoder.kinematics import velocity
from bmi_decoder.names import DEFAULT_MAX_GAP_S
from bmi_decoder.recording import Recording
from snn_core.errors import InputError

# Real reaching velocities are hundreds of mm/s (standard deviations of about 100 mm/s per axis),
# while a cursor that sits still gives exactly 0 and one that only carries rounding or sensor noise
# of a few micrometres per 4 ms sample gives well under 1 mm/s. 1 mm/s is two orders of magnitude
# below any real movement and far above floating-point noise.
MIN_VELOCITY_SD_MM_S = 1.0
# A step of t may differ from the median step by 1% of it: the real clock is regular to far
# better than that, and float64 time stamps of a 2,500 s session are exact to about 1e-12 s.
STEP_TOLERANCE = 0.01
# Up to 0.1% of the steps may be off (a few isolated glitches, or the tolerated holes, which the
# gap check judges); beyond that the clock is jittered and the fixed-step binning is wrong.
MAX_JITTERED_SHARE = 0.001


@dataclass(frozen=True)
class Finding:
    """Why a recording cannot be decoded honestly.

    Attributes:
        source: the file (or the recording's source) at fault.
        field: the field of the recording, e.g. ``"cursor_pos"`` or ``"t"``.
        expected: what was expected there, and what was found, in words.
    """

    source: str
    field: str
    expected: str

    def __str__(self) -> str:
        return f"{self.source}: {self.field}: expected {self.expected}"

    def error(self) -> InputError:
        """The finding as the project's bad-input error (exit status 2, one line)."""
        return InputError(self.source, self.field, self.expected)


def _source(rec: Recording) -> str:
    return rec.provenance.get("source", "recording")


def check_velocity(rec: Recording) -> list[Finding]:
    """A finding if the cursor velocity's standard deviation is below 1 mm/s on either axis."""
    steps = np.diff(rec.t)
    if not np.all(steps > 0):
        return []  # the velocity is undefined; check_timing reports the clock
    sd = velocity(rec.cursor_pos, rec.t).std(axis=0)
    if np.all(sd >= MIN_VELOCITY_SD_MM_S):
        return []
    found = ", ".join(f"{axis} {value:.3g} mm/s" for axis, value in zip("xy", sd))
    return [
        Finding(
            _source(rec),
            "cursor_pos",
            f"a moving cursor (velocity standard deviation of at least {MIN_VELOCITY_SD_MM_S:g} mm/s per axis; "
            f"R2 is undefined without velocity variance), got {found}",
        )
    ]


def check_gaps(rec: Recording, max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[Finding]:
    """A finding if two consecutive samples of ``t`` lie more than ``max_gap_s`` apart."""
    steps = np.diff(rec.t)
    holes = np.flatnonzero(steps > max_gap_s)
    if holes.size == 0:
        return []
    first = int(holes[0])
    return [
        Finding(
            _source(rec),
            "t",
            f"no hole longer than max_gap_s = {max_gap_s:g} s, got {holes.size} "
            f"(the first {steps[first]:.3f} s long, after t = {rec.t[first]:.3f} s)",
        )
    ]


def check_timing(rec: Recording, max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[Finding]:
    """A finding if ``t`` is not increasing, or if too many steps stray from the median step.

    Holes longer than ``max_gap_s`` are left to :func:`check_gaps`, so one hole is one finding.
    """
    steps = np.diff(rec.t)
    if not np.all(steps > 0):
        first = int(np.argmax(steps <= 0))
        return [Finding(_source(rec), "t", f"strictly increasing times, but t[{first + 1}] <= t[{first}]")]
    dt = float(np.median(steps))
    off = (np.abs(steps - dt) > STEP_TOLERANCE * dt) & (steps <= max_gap_s)
    share = np.count_nonzero(off) / steps.size
    if share <= MAX_JITTERED_SHARE:
        return []
    return [
        Finding(
            _source(rec),
            "t",
            f"a regular clock (steps within {STEP_TOLERANCE:.0%} of the median {dt * 1e3:.3g} ms in all but "
            f"{MAX_JITTERED_SHARE:.1%} of the samples), got {share:.1%} of the steps off",
        )
    ]


def check_recording(rec: Recording, max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[Finding]:
    """Every finding on a recording: its clock first, then its velocity.

    Args:
        rec: the recording.
        max_gap_s: the longest tolerated hole in ``t``, seconds.

    Returns:
        The findings, empty when the recording can be decoded honestly.
    """
    return [*check_timing(rec, max_gap_s), *check_gaps(rec, max_gap_s), *check_velocity(rec)]


def require_decodable(rec: Recording, max_gap_s: float = DEFAULT_MAX_GAP_S) -> Recording:
    """``rec`` itself if it passes :func:`check_recording`.

    Raises:
        InputError: the first finding, naming the file, the field and what was expected.
    """
    findings = check_recording(rec, max_gap_s)
    if findings:
        raise findings[0].error()
    return rec
