"""Ctrl-C in either console script: one stderr line, exit status 130, no partial output.

Each script runs in a child process, interrupted while its CLI imports its subcommand modules
(start-up), while the command imports the libraries it needs (numpy, torch: seconds on a loaded
machine; a ``sys.meta_path`` hook in the child signals readiness and waits inside that import),
or during a long command, once the child says the command's work has started.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Announces readiness on stdout, then sleeps inside the import of {module} until interrupted.
STALL_IMPORT = """
import sys, time
class Stall:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.stdout.write("ready\\n"); sys.stdout.flush(); time.sleep(120)
        return None
sys.meta_path.insert(0, Stall())
"""
# Announces readiness once the command's long-running function has started.
STARTED = """
import sys, importlib
module = importlib.import_module({module!r})
work = getattr(module, {function!r})
def started(*args, **kwargs):
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    return work(*args, **kwargs)
setattr(module, {function!r}, started)
"""
SCRIPTS = {
    "bmi-decoder": (
        "bmi_decoder.cli",
        "bmi_decoder.cli.synth",
        ("bmi_decoder.simulate", "simulate_session"),
        ["synth", "{out}/session.mat", "--seconds", "3000"],
        "session.mat",
    ),
    "vision-bench": (
        "vision_bench.cli",
        "vision_bench.cli.synth",
        ("vision_bench.data.synthetic", "write_synthetic_cifar10dvs"),
        ["synth", "{out}/set", "--per-class", "500"],
        "set",
    ),
}


def _interrupt(prelude: str, package: str, args: list[str]) -> subprocess.CompletedProcess:
    code = f"{prelude}\nimport sys\nsys.argv[1:] = {args!r}\nfrom {package} import main\nsys.exit(main())\n"
    # A shell's background job starts with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: the child gets the default disposition back, as a terminal has.
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout.readline() == "ready\n"  # generous: imports take seconds on a loaded machine
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("prog", sorted(SCRIPTS))
@pytest.mark.parametrize("when", ["start-up", "import", "command"])
def test_ctrl_c_prints_one_line_and_exits_130(prog: str, when: str, tmp_path: Path) -> None:
    package, command, (module, function), args, output = SCRIPTS[prog]
    preludes = {
        "start-up": STALL_IMPORT.format(module=command),  # the subcommand module, imported by the console script
        "import": STALL_IMPORT.format(module="numpy"),  # the first library the command imports
        "command": STARTED.format(module=module, function=function),
    }
    prelude = preludes[when]
    result = _interrupt(prelude, package, [a.format(out=tmp_path) for a in args])
    assert result.returncode == 130, result.stderr
    assert result.stderr == f"{prog}: interrupted; rerun to resume\n"
    if prog == "bmi-decoder":
        # written atomically: no partial file and no temporary file left beside it
        assert not (tmp_path / output).exists()
        assert list(tmp_path.iterdir()) == []
    else:
        # the set's files are each written atomically: complete ones may stay, temporary ones not
        assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
