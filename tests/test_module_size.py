"""No module of the three packages grows past 400 lines: a longer one holds two concerns, which
then live in two modules (as the search package, the live stream and the training loop were split)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snn_core", "bmi_decoder", "vision_bench")
MAX_LINES = 400


def test_no_module_is_longer_than_400_lines() -> None:
    modules = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(modules) > 50  # the walk found the packages
    sizes = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines()) for path in modules}
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
