"""A full disk: every writing command exits 2 with "<path>: no space left on device", one line,
and leaves no temporary file; none crashes (HDF5 and torch used to SIGSEGV or trace back).

The commands run in a child process in a private mount namespace (``unshare -m``) on a 1 MiB
tmpfs, so nothing outside the test sees the mount; where namespaces are not allowed (no root, a
container without CAP_SYS_ADMIN) the test is skipped with that reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bmi_decoder.cli import main

# Runs in the namespace: mounts the tmpfs, then each command in this one process (torch is
# imported once), nearly filling the tmpfs first where the output is small.
CHILD = r"""
import contextlib, io, json, os, shutil, subprocess, sys
from pathlib import Path
fs, cases = Path(sys.argv[1]), json.loads(sys.argv[2])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(fs)], check=True)
from bmi_decoder.cli import main
from vision_bench.cli import main as vision_main
results = []
for entry, argv, fill in cases:
    filler = fs / "filler"
    if fill:
        filler.write_bytes(b"\0" * max(shutil.disk_usage(fs).free - 8192, 0))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = (main if entry == "bmi" else vision_main)(argv)
        except SystemExit as exit_:
            code = exit_.code
    left = sorted(str(p.relative_to(fs)) for p in fs.rglob("*") if p != filler and p.is_file())
    results.append({"argv": argv, "code": code, "err": err.getvalue(), "left": left})
    filler.unlink(missing_ok=True)
    for p in fs.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
print(json.dumps(results))
"""


def _namespaces_allowed() -> str | None:
    """Why a private mount namespace with a tmpfs cannot be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/mnt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"a private mount namespace with a tmpfs is not allowed here ({probe.stderr.strip()})"
    return None


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("disk_full_inputs")
    session, snn = root / "s.mat", root / "snn.pt"
    assert main(["synth", str(session), "--seconds", "60", "--seed", "4"]) == 0
    config = root / "tiny.toml"
    config.write_text('[decoders.snn]\nhidden = [8]\ntopology = "1-"\nmax_epochs = 1\nprogress = false\n')
    assert main(["train", str(session), "--decoder", "snn", "--config", str(config), "--out", str(snn)]) == 0
    return {"session": str(session), "snn": str(snn)}


def test_a_full_disk_is_one_line_exit_2_and_no_temporary(inputs, tmp_path):
    reason = _namespaces_allowed()
    if reason is not None:
        pytest.skip(reason)
    fs = tmp_path / "fs"
    fs.mkdir()
    session = inputs["session"]
    cases = [
        ("bmi", ["synth", f"{fs}/a.mat", "--seconds", "120"], False),  # HDF5: SIGSEGV before
        ("bmi", ["synth", f"{fs}/a.nwb", "--seconds", "120"], False),  # pynwb: SIGSEGV before
        ("bmi", ["convert", session, f"{fs}/b.nwb"], True),
        ("bmi", ["export", inputs["snn"], f"{fs}/snn.nir"], True),  # NIR (HDF5)
        ("bmi", ["train", session, "--decoder", "wiener", "--out", f"{fs}/w.pt"], True),  # torch: "unexpected pos"
        ("bmi", ["evaluate", session, "--decoders", "kalman", "--out", f"{fs}/report"], True),
        ("vision", ["synth", f"{fs}/dvs", "--per-class", "2"], True),  # dv_processing: SIGABRT before
    ]
    child = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", CHILD, str(fs), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])
    for result in results:
        lines = result["err"].strip().splitlines()  # evaluate's progress lines come first
        assert result["code"] == 2, result
        assert "Traceback" not in result["err"] and "Error" not in result["err"], result
        assert lines[-1].endswith(": no space left on device") and str(fs) in lines[-1], result
        assert not [name for name in result["left"] if ".tmp" in name], result
    assert not list(fs.iterdir())  # the tmpfs was private: nothing of it is seen here
    assert Path(session).stat().st_size > 0
