"""No import circles: every module of the three packages imports alone, and none imports back.

A circle is two modules that import each other, directly or through others: one of them then
runs while the other is half-initialised (an ImportError or a missing name, depending on which
is imported first), or the circle is dodged by importing inside a function or under
``TYPE_CHECKING``, which hides it without removing it. Shared types live in their own modules
instead (``search_results.py``, ``analysis_results.py``, ``verdicts.py``). Two checks:

- the import graph read from the source (every import, inside functions and ``TYPE_CHECKING``
  blocks included) has no circle;
- each module imports alone in a fresh interpreter: one subprocess with the third-party
  libraries loaded, forked once per module, so each child starts without any module of the
  project (a fresh interpreter per module would pay torch's import 90 times).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snn_core", "bmi_decoder", "vision_bench")
# imported before the fork, so each child only imports the project's own modules
THIRD_PARTY = ("numpy", "torch", "optuna", "sqlalchemy", "scipy", "snntorch", "numba", "h5py", "pynwb", "matplotlib", "tonic")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__main__":  # runs the command line when imported
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports anywhere in its source, with the packages an
    import runs on the way (``a.b`` for ``a.b.c``), except the packages ``module`` is inside."""

    def known(name: str) -> str | None:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        return name or None

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
    edges = set()
    for name in names:
        target = known(name)
        while target:
            inside = module == target or module.startswith(f"{target}.")
            if not inside:
                edges.add(target)
            target = target.rpartition(".")[0] if "." in target else None
    return edges - {module}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_import_graph_has_no_circle():
    graph = {module: _imported(module, path) for module, path in MODULES.items()}
    circles = _circles(graph)
    described = [" <-> ".join(c) + ": " + "; ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c) for c in circles]
    assert not circles, "import circles:\n" + "\n".join(described)


def test_the_circle_check_finds_circles_hidden_from_a_plain_import(tmp_path):
    graph = {"p.a": {"p.b"}, "p.b": {"q"}, "q": {"q.c"}, "q.c": {"p.a"}, "r": {"p.a"}}
    assert _circles(graph) == [["p.a", "p.b", "q", "q.c"]]
    # a type imported back under TYPE_CHECKING, or inside a function, is an edge too; importing a
    # module inside another package runs that package's __init__ (an edge to it as well)
    source = tmp_path / "cost.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bmi_decoder.decoders._base import Decoder\n"
        "def later():\n    from vision_bench import models\n"
    )
    edges = _imported("bmi_decoder.cost", source)
    assert {"bmi_decoder.decoders._base", "bmi_decoder.decoders", "vision_bench.models", "vision_bench"} <= edges
    assert "bmi_decoder" not in edges  # the package the module is inside is already running


DRIVER = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    for name in sys.argv[2].split(","):
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional third-party library: the child reports what the project needs
    failures = []
    for module in sys.argv[1].split(","):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                importlib.import_module(module)
                status = 0
            except BaseException:
                os.write(write, traceback.format_exc(limit=-3).encode())
                status = 1
            os._exit(status)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            message = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failures.append(f"{module}: {message.strip().splitlines()[-1] if message else 'exit status ' + str(status)}")
    print("\\n".join(failures))
    sys.exit(1 if failures else 0)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="forks one child per module")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, ",".join(MODULES), ",".join(THIRD_PARTY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, f"modules that do not import alone:\n{result.stdout}{result.stderr[-2000:]}"
