"""`bmi-decoder rig` and `bmi-decoder stream` end to end: two processes over Lab Streaming Layer.

Every run happens inside a private network namespace holding only loopback (``unshare --net``,
then ``ip link set lo up``) with LSLAPICFG pointing at the loopback-only configuration, so no
packet can leave the machine; pylsl is never imported by this test process itself. The rig plays
12 s of a simulated session four times faster than real time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bmi_decoder.checkpoint import load_decoder, save_decoder
from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.io import read_recording, write_recording
from bmi_decoder.kinematics import velocity
from bmi_decoder.live.events import clock, spike_events
from bmi_decoder.live.faults import Faults, plan
from bmi_decoder.live.lsl import LOOPBACK_CONFIG
from bmi_decoder.live.rig import stretch
from bmi_decoder.preprocess import NEUROBENCH, bin_spikes, prepare_session
from bmi_decoder.simulate import simulate_session

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("live_view_driver.py")
FOREIGN_RIG = Path(__file__).with_name("foreign_rig.py")
FOREIGN_SPIKES, FOREIGN_CURSOR = "foreign-spikes", "foreign-cursor"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, which the driver launches (.ci/run installs it)
SECONDS, SPEED = 12.0, 4.0


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, Path]:
    """A 30 s simulated session and a small SNN trained on it, saved as `bmi-decoder train` does."""
    folder = tmp_path_factory.mktemp("live")
    sim = simulate_session(seconds=30.0, seed=5)
    path = folder / "sim.mat"
    write_recording(sim.recording, path, outside_spikes=sim.outside_spikes)
    prepared = prepare_session(sim.recording, NEUROBENCH)
    # short chunks and a few more epochs: 30 s give few steps, and a decoder that decodes (validation
    # R2 above 0) keeps the online-against-offline comparisons away from R2 far below 0
    decoder = SNNDecoder(
        hidden=[32],
        topology="1-",
        max_epochs=12,
        lr=3e-3,
        chunk_bins=64,
        burn_in_bins=8,
        ensemble=1,
        progress=False,
        seed=0,
        device="cpu",
    )
    decoder.fit(*prepared.split("train"), *prepared.split("val"))
    checkpoint = folder / "snn.pt"
    save_decoder(decoder, checkpoint, {"session": str(path), "seed": 0}, preprocessing=NEUROBENCH)
    return path, checkpoint


def start_live(
    folder: Path,
    path: Path,
    checkpoint: Path,
    rig_args: list[str],
    view: bool = False,
    stream_args: str = "",
    foreign: tuple[str, float] | None = None,
    consumer: bool = False,
) -> subprocess.Popen:
    """Start rig and stream as two processes inside one fresh loopback-only network namespace;
    with ``view``, the stream serves its view and headless chromium watches it before the rig starts;
    ``foreign`` (sample format, speed): the rig is :mod:`foreign_rig` instead of ``bmi-decoder rig``;
    ``consumer``: an independent process records the velocity stream's latencies (consumer.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    python, q = shlex.quote(sys.executable), shlex.quote
    # the decoder runs at raised priority, as a closed-loop decoder would: the clean run's deadline
    # (no bin late) is about the decoder, not about whatever else the machine is doing
    wait = 120 if foreign is None else 10  # a foreign rig's end is its stream going away for good
    stream = f"nice -n -10 {python} -m bmi_decoder stream {q(str(checkpoint))} --out {q(str(folder / 'stream.json'))} --wait {wait} {stream_args}"
    rig = f"{python} -m bmi_decoder rig {q(str(path))} --seconds {SECONDS} --speed {SPEED} --wait 120 {shlex.join(rig_args)}"
    if foreign is not None:
        rig = f"{python} {q(str(FOREIGN_RIG))} {q(str(path))} {SECONDS} {foreign[0]} {foreign[1]}"
        stream += f" --name {FOREIGN_SPIKES} --kinematics {FOREIGN_CURSOR}"
    if consumer:  # the rig starts once the consumer has the velocity stream: it sees every bin
        ready = q(str(folder / "consumer.ready"))
        rig = (
            f"{python} -m bmi_decoder.live.consumer {q(str(folder / 'consumer.json'))} --ready {ready} "
            f"2> {q(str(folder / 'consumer.err'))} &\n"
            f"for i in $(seq 1500); do [ -e {ready} ] && break; sleep 0.2; done\n{rig}"
        )
    browser = browser_done = ""
    if view:
        stream += " --view --port 8765"  # the namespace is private: the port is free
        ready = q(str(folder / "ready"))
        browser = f"""{python} {q(str(DRIVER))} http://127.0.0.1:8765/ {q(str(folder / "view.png"))} {ready} \
  > {q(str(folder / "view.out"))} 2> {q(str(folder / "view.err"))} &
browser=$!
for i in $(seq 900); do [ -e {ready} ] && break; kill -0 $browser 2> /dev/null || break; sleep 0.2; done
# as docs/live.md's recipe says: chromium inside the namespace, with a profile of its own
timeout 120 {CHROMIUM} --headless --no-sandbox --user-data-dir="$(mktemp -d)" --dump-dom http://127.0.0.1:8765/ \
  > {q(str(folder / "dom.html"))} 2> /dev/null
"""
        browser_done = f"wait $browser\necho $? > {q(str(folder / 'view.rc'))}\n"
    script = f"""
ip link set lo up || exit 90
cd {q(str(ROOT))}
{stream} > {q(str(folder / "stream.out"))} 2> {q(str(folder / "stream.err"))} &
stream=$!
{browser}{rig} > {q(str(folder / "rig.out"))} 2> {q(str(folder / "rig.err"))} &
rig=$!
wait $stream
echo $? > {q(str(folder / "stream.rc"))}
# the rig ends once its consumer has left; one still waiting for a consumer that quit is stopped
for i in $(seq 50); do kill -0 $rig 2> /dev/null || break; sleep 0.2; done
kill $rig 2> /dev/null
wait $rig
echo $? > {q(str(folder / "rig.rc"))}
{browser_done}wait"""
    env = {**os.environ, "LSLAPICFG": str(LOOPBACK_CONFIG), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(["unshare", "--net", "bash", "-c", script], env=env)


def results(folder: Path) -> dict:
    """What a finished run left: exit statuses, the rig's summary, stream.json, stream's stderr."""
    if not (folder / "stream.json").exists():  # say why, from both processes' own words
        logs = {name: (folder / name).read_text()[-2000:] for name in ("stream.err", "rig.err") if (folder / name).exists()}
        pytest.fail(f"{folder.name}: the stream wrote no stream.json; {logs}")
    out = {
        "rig_rc": int((folder / "rig.rc").read_text()),
        "stream_rc": int((folder / "stream.rc").read_text()),
        "stream_err": [line for line in (folder / "stream.err").read_text().splitlines() if not line[:2].isdigit()],
        "liblsl_errors": [line for line in (folder / "stream.err").read_text().splitlines() if "ERR|" in line],
        "stats": json.loads((folder / "stream.json").read_text()),
    }
    rig_out = (folder / "rig.out").read_text().strip()
    out["rig"] = json.loads(rig_out) if rig_out else None
    return out


# Fault runs side by side; the channel-count change comes last, after every other fault.
SCENARIOS = {
    "faults": [
        "--gap",
        "200",
        "--drop-chunks",
        "--duplicates",
        "--reorder",
        "--vanish",
        "300",
        "--channel-change",
        "--faults",
        "2",
    ],
    "jitter": ["--jitter", "300", "--seed", "4"],
}


CLEAN_STREAM = "--realtime --close-after-ms 200 --max-gap-ms 3000"
QUIET_S = (4.0, 6.0)  # after the first sample: 2 s of stream time, 0.5 s at 4x


def quiet_session(path: Path) -> Path:
    """``path`` without any spike in :data:`QUIET_S`, written beside it (the clean run plays it)."""
    rec = read_recording(path)
    keep = (rec.spike_times <= rec.t[0] + QUIET_S[0]) | (rec.spike_times > rec.t[0] + QUIET_S[1])
    quiet = dataclasses.replace(
        rec, spike_times=rec.spike_times[keep], spike_channels=rec.spike_channels[keep], spike_units=rec.spike_units[keep]
    )
    out = path.with_name("quiet.mat")
    write_recording(quiet, out)
    return out


# foreign rigs: 2-channel int32 events at real-time pace (as the rig), and double samples
# sent four times faster than their stamps advance
FOREIGN = {"foreign": ("int32", 1.0), "foreign_double": ("double64", SPEED)}


@pytest.fixture(scope="module")
def runs(session, tmp_path_factory) -> dict[str, dict]:
    """The clean run alone, in real-time mode (its latency is asserted), then the fault runs and
    a stream of binned counts side by side; no browser takes part."""
    path, checkpoint = session
    base = tmp_path_factory.mktemp("runs")
    done = {}
    # the same session with a quiet stretch (no spike at all), short of a gap for this run, that
    # the clock closes; its margin is above the delays of a busy machine, so that no event comes
    # late and the bins stay offline's
    start_live(base / "clean", quiet_session(path), checkpoint, [], stream_args=CLEAN_STREAM, consumer=True).wait(timeout=240)
    done["clean"] = results(base / "clean")
    done["clean"]["consumer"] = json.loads((base / "clean" / "consumer.json").read_text())
    procs = {name: start_live(base / name, path, checkpoint, args) for name, args in SCENARIOS.items()}
    procs["binned"] = start_live(base / "binned", path, checkpoint, ["--binned"])
    for name, (fmt, speed) in FOREIGN.items():
        procs[name] = start_live(base / name, path, checkpoint, [], foreign=(fmt, speed))
    for name, proc in procs.items():
        proc.wait(timeout=300)
        done[name] = results(base / name)
    return done


@pytest.fixture(scope="module")
def view_run(session, tmp_path_factory) -> dict:
    """A stream of binned counts served to headless chromium, which watches it."""
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (.ci/run installs it, so CI runs this test)")
    path, checkpoint = session
    folder = tmp_path_factory.mktemp("view") / "binned"
    start_live(folder, path, checkpoint, ["--binned"], view=True).wait(timeout=300)
    return {**results(folder), "folder": folder}


def offline_bins(rec, times: np.ndarray) -> np.ndarray:
    """The 4 ms bin of each time stamp by the offline edges (sample i owns (t[i-1], t[i]])."""
    return np.searchsorted(rec.t, times, side="left")


def test_clean_stream_equals_offline(runs, session):
    run = runs["clean"]
    assert run["rig_rc"] == 0 and run["stream_rc"] == 0, run["stream_err"]
    stats = run["stats"]
    rec = read_recording(session[0])
    # every bin from the first event's to the end of the stretch played
    first = offline_bins(rec, spike_events(rec).times[:1])[0]
    assert stats["bins"] == int(SECONDS / 0.004) - first
    assert stats["r2_online"] is not None and stats["r2_offline"] is not None
    assert abs(stats["r2_online"] - stats["r2_offline"]) <= 1e-6
    assert stats["late_bins"] == 0 and stats["dropped_bins"] == 0
    for key in ("gaps", "out_of_order", "duplicates", "dropped_chunks", "lost_events", "stale_events", "reconnects"):
        assert stats[key] == 0, key
    assert stats["finished"] and stats["latency_us"]["p99"] >= stats["decode_us"]["median"] > 0
    assert stats["realtime_cpu"] in os.sched_getaffinity(0)  # the twin stepped beside it changed nothing above
    # the quiet stretch's bins were closed by the clock, none of its events came late (stale_events 0 above)
    assert stats["closed_by_clock"] > 0 and stats["close_after_ms"] == 200
    assert run["liblsl_errors"] == []  # a normal end is quiet


def test_latency_from_the_bins_end_agrees_with_an_independent_consumer(runs):
    run = runs["clean"]
    stats, seen = run["stats"], run["consumer"]
    ours, theirs = stats["latency_from_end_us"], seen["latency_from_end_us"]
    assert seen["bins"] == stats["bins"]
    # from the bin's end, the push comes after the bin's last event has arrived
    assert ours["median"] >= stats["event_delay_us"]["median"] > 0
    # each velocity arrives after its push: every percentile is later at the consumer, by no more
    # than what a sample costs in transit here (the events' delay over the same loopback), give or
    # take LSL's clock-offset estimates (+-0.2 ms)
    slack = 200.0
    for q in ("median", "p95"):
        assert theirs[q] >= ours[q] - slack, q
        assert theirs[q] - ours[q] <= stats["event_delay_us"]["p99"] + slack, q


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_rig_gets_r2_online(runs, session, name):
    run = runs[name]
    assert run["stream_rc"] == 0, run["stream_err"]
    stats = run["stats"]
    # no description, no sequence numbers, no end marker: the run ends when the rig goes away
    assert not stats["finished"] and "did not return" in stats["note"]
    assert stats["dropped_bins"] == 0 and stats["duplicates"] == 0 and stats["lost_events"] == 0
    # the same stretch decoded offline from reset: bins of the behaviour clock, labels as offline
    rec = read_recording(session[0])
    decoder, _ = load_decoder(session[1], device="cpu")
    features = bin_spikes(rec, 0.004, "or")
    first = int(offline_bins(rec, spike_events(rec).times[:1])[0])
    stop = int(round(SECONDS / 0.004))
    decoder.reset()
    predicted = np.stack([decoder.step(features[j]) for j in range(first, stop)])
    r2_offline = r2_score(velocity(rec.cursor_pos, rec.t)[first:stop], predicted)
    assert stats["bins"] >= stop - first - 2  # the grid starts at the first event's time stamp
    assert abs(stats["r2_online"] - r2_offline) <= 0.02, (stats["r2_online"], r2_offline)
    # a normal end of a foreign rig (its stream goes away) logs no liblsl error
    assert run["liblsl_errors"] == [] and [line for line in run["stream_err"] if "Traceback" in line] == []


def test_binned_counts_stream_equals_offline(runs):
    run = runs["binned"]
    assert run["rig_rc"] == 0 and run["stream_rc"] == 0, run["stream_err"]
    stats = run["stats"]
    assert stats["bins"] == int(SECONDS / 0.004)
    assert abs(stats["r2_online"] - stats["r2_offline"]) <= 1e-6
    assert stats["dropped_bins"] == 0 and stats["stale_events"] == 0


def test_injected_faults_are_counted(runs, session):
    run = runs["faults"]
    # the last fault, a channel-count change, ends the run with one line and exit status 2
    assert run["stream_rc"] == 2
    (line,) = run["stream_err"][-1:]
    assert "electrodes" in line and "96" in line and "97" in line
    assert [x for x in run["stream_err"] if "Traceback" in x] == []
    stats = run["stats"]
    # the rig's own account of what it injected (it was stopped waiting for a new consumer)
    rec = read_recording(session[0])
    c = clock(rec)
    faults = Faults(gap_ms=200, drop_chunks=True, duplicates=True, reorder=True, vanish_ms=300, channel_change=True, count=2)
    injected = plan(spike_events(rec), *stretch(c, 0.0, SECONDS).bounds(c), rec.n_channels, faults).injected
    assert injected["gaps"] == injected["outages"] == injected["dropped_chunks"] == 2
    assert injected["duplicates"] == injected["out_of_order"] == 2
    for key in ("dropped_chunks", "lost_events", "duplicates", "out_of_order"):
        assert stats[key] == injected[key], key
    # the source came back after each outage, and each outage is a silence longer than a gap
    assert stats["reconnects"] == injected["outages"]
    assert stats["gaps"] == injected["gaps"] + injected["outages"]
    # dropped: the bins strictly between the last event before a silence and the first after it
    rec = read_recording(session[0])
    spans = offline_bins(rec, np.asarray(injected["silences"]).ravel()).reshape(-1, 2)
    assert stats["dropped_bins"] == int(np.sum(spans[:, 1] - spans[:, 0] - 1)) > 0
    # a reordered event arrives 10 ms late, after its 4 ms bin was decoded
    assert stats["stale_events"] == 2
    # stream.json says the run was cut short, and why
    assert not stats["finished"] and "electrodes" in stats["note"]
    assert stats["r2_online"] is not None and stats["bins"] > 0


def test_jittered_time_stamps(runs, session):
    run = runs["jitter"]
    assert run["rig_rc"] == 0 and run["stream_rc"] == 0, run["stream_err"]
    stats = run["stats"]
    # the same plan the rig made: an event is stale when an earlier-sent one lies in a later bin
    rec = read_recording(session[0])
    c = clock(rec)
    sends = plan(spike_events(rec), *stretch(c, 0.0, SECONDS).bounds(c), rec.n_channels, Faults(jitter_us=300.0), seed=4)
    bins = offline_bins(rec, sends.times)
    stale = int(np.count_nonzero(bins < np.maximum.accumulate(bins)))
    assert stats["stale_events"] == stale > 0
    for key in ("gaps", "out_of_order", "duplicates", "lost_events", "dropped_bins"):
        assert stats[key] == 0, key
    assert stats["finished"] and stats["r2_online"] is not None


def test_live_view_in_headless_chromium(view_run):
    run = view_run
    folder = run["folder"]
    assert run["stream_rc"] == 0, run["stream_err"]
    assert (folder / "view.rc").read_text().strip() == "0", (folder / "view.err").read_text()[-2000:]
    seen = json.loads((folder / "view.out").read_text())
    # the page loaded, bins arrived by Server-Sent Events and the traces moved on by 2 s of stream time
    assert seen["title"] == "bmi-decoder live"
    assert seen["bins"] > 2.0 / 0.004 and seen["t"] > seen["first_t"] + 2.0
    assert "latency" in seen["stats"]
    png = (folder / "view.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_the_namespace_recipe_loads_the_view(view_run):
    # the recipe (docs/live.md) starts the browser inside the namespace, as the user,
    # with a profile of its own; the run above did the same, headless, and got the page
    recipe = (ROOT / "docs" / "live").with_suffix(".md").read_text()
    for part in ('sudo ip netns exec bmi sudo -u "$USER"', 'chromium --user-data-dir="$(mktemp -d)" http://127.0.0.1:8765/'):
        assert part in recipe, part
    dom = (view_run["folder"] / "dom.html").read_text()
    assert "<title>bmi-decoder live</title>" in dom and 'id="stats"' in dom
