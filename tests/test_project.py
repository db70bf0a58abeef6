"""Checks on the repository as a whole: lint and format, the documentation build, and citations.

Each runs the real tool on the checkout, as `.ci/run` does through this suite.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("snn_core", "bmi_decoder", "vision_bench", "benchmarks", "tests", "configs", "datasets")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_passes():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_nothing_to_change():
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_documentation_builds_strictly(tmp_path):
    result = _run("mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_every_cited_document_is_in_the_repository():
    # comments and docstrings cite the docs by path, e.g. "(docs/data.md)"; report.md, search.md
    # and days.md are files the tools write, README.md is the root's
    written = {"report.md", "search.md", "days.md", "README.md"}
    missing = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".toml") or ".venv" in path.parts:
                continue
            for cited in re.findall(r"[\w./-]+\.md\b", path.read_text(encoding="utf-8")):
                if Path(cited).name not in written and not (ROOT / cited).exists():
                    missing.append(f"{path.relative_to(ROOT)}: {cited}")
    assert not missing, missing
