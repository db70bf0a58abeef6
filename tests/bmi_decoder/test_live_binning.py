"""Online binning equals the offline preprocessing, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.live.binning import OnlineBinner, bin_events
from bmi_decoder.live.events import clock, spike_events
from bmi_decoder.preprocess import bin_spikes
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError


@pytest.fixture(scope="module")
def recording():
    return simulate_session(seconds=20.0, seed=11).recording


@pytest.mark.parametrize(("bin_width", "mode"), [(0.004, "or"), (0.004, "count"), (0.012, "or"), (0.02, "count")])
def test_online_bins_equal_offline(recording, bin_width, mode):
    online = bin_events(spike_events(recording), clock(recording), bin_width, mode, recording.n_channels)
    offline = bin_spikes(recording, bin_width, mode)
    assert online.shape == offline.shape
    np.testing.assert_array_equal(online, offline)


def test_spikes_on_edges_follow_offline(recording):
    # the 30 kHz spike clock puts some spikes exactly on a 4 ms tick: they must land where offline puts them
    c = clock(recording)
    on_tick = np.isin(recording.spike_times, recording.t)
    assert on_tick.sum() > 10
    binner = OnlineBinner(c, 0.004, "or", recording.n_channels)
    ticks = np.searchsorted(recording.t, recording.spike_times[on_tick])
    assert [binner.bin_of(x) for x in recording.spike_times[on_tick]] == ticks.tolist()


def test_sorted_mode_and_odd_widths_are_refused(recording):
    with pytest.raises(InputError, match="mode"):
        OnlineBinner(clock(recording), 0.004, "sorted", recording.n_channels)
    with pytest.raises(InputError, match="bin_width"):
        OnlineBinner(clock(recording), 0.005, "or", recording.n_channels)
