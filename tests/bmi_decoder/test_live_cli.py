"""`bmi-decoder rig` and `stream` refuse bad input with exit status 2 and one line, before any
Lab Streaming Layer code is loaded (so these run outside a network namespace)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from bmi_decoder.checkpoint import save_decoder
from bmi_decoder.cli import main
from bmi_decoder.decoders import WienerDecoder
from bmi_decoder.io import write_recording
from bmi_decoder.live.lsl import LOOPBACK_CONFIG
from bmi_decoder.preprocess import Preprocessing
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live_cli")
    sim = simulate_session(seconds=5.0, seed=1)
    path = folder / "sim.mat"
    write_recording(sim.recording, path)
    rng = np.random.default_rng(0)
    decoder = WienerDecoder().fit(rng.random((400, 96)), rng.normal(size=(400, 2)))
    sorted_ckpt = folder / "sorted.pt"
    save_decoder(decoder, sorted_ckpt, preprocessing=Preprocessing(mode="sorted"))
    return path, sorted_ckpt


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["rig", "{file}", "--speed", "0"], "--speed"),
        (["rig", "{file}", "--gap", "nan"], "--gap"),
        (["rig", "{file}", "--start", "99"], "--start/--seconds"),
        (["rig", "{file}", "--binned", "--duplicates"], "--binned"),
        (["rig", "{missing}"], "file"),
        (["stream", "{missing}"], "file"),
        (["stream", "{sorted}", "--out", "{out}"], "preprocessing.mode"),
        (["stream", "{sorted}", "--wait", "-1"], "--wait"),
        (["stream", "{sorted}", "--port", "70000"], "--port"),
        (["stream", "{sorted}", "--cpu", "0"], "--cpu"),
        (["stream", "{sorted}", "--realtime", "--cpu", "4096"], "--cpu"),
    ],
)
def test_bad_input_is_one_line_and_status_2(files, tmp_path, capsys, args, field):
    path, sorted_ckpt = files
    names = {"file": path, "missing": tmp_path / "missing.mat", "sorted": sorted_ckpt, "out": tmp_path / "s.json"}
    argv = [a.format(**{k: str(v) for k, v in names.items()}) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0], err
    assert "pylsl" not in sys.modules


def test_realtime_gives_the_calling_thread_a_core_of_its_own_and_gives_the_cpus_back():
    import os
    import threading

    from bmi_decoder.live import realtime

    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        with pytest.raises(InputError, match="--realtime"):
            realtime.pick_cpu(None)
        return
    cpu = realtime.pick_cpu(None)
    assert cpu == max(allowed)
    seen = {}

    def pinned():  # in a thread of its own: it gets the core, the main thread the others
        previous = realtime.enter(cpu)
        seen["inside"] = os.sched_getaffinity(0)
        seen["main"] = os.sched_getaffinity(os.getpid())  # the main thread's, whose id is the pid
        realtime.leave(previous)
        seen["after"] = os.sched_getaffinity(0)
        seen["main after"] = os.sched_getaffinity(os.getpid())

    thread = threading.Thread(target=pinned)
    thread.start()
    thread.join()
    assert seen["inside"] == {cpu} and seen["after"] == allowed
    assert seen["main"] == allowed - {cpu} and seen["main after"] == allowed


# In the child: say "ready" once the consumer starts looking for its stream (which never comes).
WAITING = """
import sys
from bmi_decoder.live import connection
resolve = connection.Connection.resolve
def announced(self, name, timeout):
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    return resolve(self, name, timeout)
connection.Connection.resolve = announced
sys.argv[1:] = {args!r}
from bmi_decoder.cli import main
sys.exit(main())
"""


def test_ctrl_c_ends_the_wait_for_a_stream_at_once(tmp_path):
    """liblsl waits in C for the whole --wait; Ctrl-C must not wait with it."""
    rng = np.random.default_rng(0)
    checkpoint = tmp_path / "or.pt"
    decoder = WienerDecoder().fit(rng.random((400, 96)), rng.normal(size=(400, 2)))
    save_decoder(decoder, checkpoint, preprocessing=Preprocessing())
    code = WAITING.format(args=["stream", str(checkpoint), "--out", str(tmp_path / "stream.json"), "--wait", "120"])
    # a private loopback-only network namespace: nothing is sent anywhere while it looks
    script = f"ip link set lo up || exit 90\nexec {shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    proc = subprocess.Popen(
        ["unshare", "--net", "bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LSLAPICFG": str(LOOPBACK_CONFIG)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        time.sleep(1.0)  # well inside liblsl's resolve
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    ours = [line for line in err.splitlines() if not line[:2].isdigit()]  # liblsl logs its config first
    assert proc.returncode == 130 and ours == ["bmi-decoder: interrupted; rerun to resume"], err
    # far inside --wait: on a loaded machine the exit itself can take seconds
    assert elapsed < 60.0
