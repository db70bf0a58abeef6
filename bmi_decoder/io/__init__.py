"""Recording files: Zenodo MATLAB v7.3 ``.mat`` and NWB, read into and written from `Recording`.

The format is chosen by the file suffix; both readers give the same `Recording` for the same
session, and both writers store the out-of-window spikes they are given so that nothing of a
file is lost on conversion.
"""

from __future__ import annotations

from pathlib import Path

from bmi_decoder.io._assemble import RecordingFile
from bmi_decoder.io.mat import read_mat, read_mat_file, write_mat
from bmi_decoder.io.nwb import read_nwb, read_nwb_file, write_nwb
from bmi_decoder.recording import Recording, SpikeEvents
from snn_core.errors import InputError
from snn_core.inputs import check_input_file
from snn_core.outputs import MAT, NWB, OutputKind

__all__ = [
    "RecordingFile",
    "read_mat",
    "read_mat_file",
    "read_nwb",
    "read_nwb_file",
    "read_recording",
    "read_recording_file",
    "recording_format",
    "recording_kind",
    "write_mat",
    "write_nwb",
    "write_recording",
]

SUFFIXES = (".mat", ".nwb")


def read_recording(path: str | Path) -> Recording:
    """Read a ``.mat`` (Zenodo v7.3) or ``.nwb`` session into a `Recording`."""
    return read_recording_file(path).recording


def read_recording_file(path: str | Path) -> RecordingFile:
    """Read a ``.mat`` or ``.nwb`` session, keeping the spikes outside the behaviour window."""
    reader = read_mat_file if recording_format(path) == ".mat" else read_nwb_file
    check_input_file(path, "recording file")
    return reader(path)


def write_recording(recording: Recording, path: str | Path, *, outside_spikes: SpikeEvents | None = None) -> None:
    """Write ``recording`` (plus any out-of-window spikes) as ``.mat`` or ``.nwb``, atomically."""
    writer = write_mat if recording_format(path) == ".mat" else write_nwb
    writer(recording, path, outside_spikes=outside_spikes)


def recording_kind(path: str | Path) -> OutputKind:
    """What a recording file written to ``path`` is, for :func:`snn_core.outputs.check_output`.

    Raises:
        InputError: a suffix other than ``.mat`` and ``.nwb``.
    """
    return MAT if recording_format(path) == ".mat" else NWB


def recording_format(path: str | Path) -> str:
    """The format a path names by its suffix (``".mat"`` or ``".nwb"``).

    Raises:
        InputError: any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(path, "suffix", f"one of {', '.join(SUFFIXES)} (the suffix chooses the format)")
    return suffix
