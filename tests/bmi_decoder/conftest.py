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


@pytest.fixture(scope="session")
def drifted_days(tmp_path_factory: pytest.TempPathFactory):
    """Two days of one simulated monkey, 20 days apart, as .mat files: (paths, SimulatedDay list).

    Short (150 s) sessions with the default rotation of preferred directions and faster baseline
    drift and channel loss (what label-free alignment can undo): the fixed decoder of day 0 loses
    most of its R2 on day 20, which recalibration must bring back.
    """
    from bmi_decoder.io import write_mat
    from bmi_decoder.simulate_days import NOTE, DriftRates, simulate_days

    folder = tmp_path_factory.mktemp("days")
    rates = DriftRates(baseline_sd=0.1, channel_death=0.005)
    days = list(simulate_days([0, 20], seconds=150.0, seed=1, rates=rates))
    paths = []
    for day in days:
        path = folder / f"{day.name}.mat"
        write_mat(day.session.recording, path, outside_spikes=day.session.outside_spikes, notes={NOTE: day.note()})
        paths.append(path)
    return paths, days
