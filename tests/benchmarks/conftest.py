import sys
from pathlib import Path

import pytest
import torch

# the benchmarks are scripts, not a package: their folder goes on the path to import them
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and stall when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
