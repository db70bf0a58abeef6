"""Fixtures shared by the bmi_decoder tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for a module whose results are compared across processes and graphs
    (NIR export, NeuroBench's counts): fewer threads, fewer orders of float32 sums."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
