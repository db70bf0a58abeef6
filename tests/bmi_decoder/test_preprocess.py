from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.kinematics import velocity
from bmi_decoder.preprocess import Preprocessing, bin_spikes, prepare_session
from bmi_decoder.recording import Recording
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

T0 = 148.98
DT = 0.004


def _recording(times, channels, units, n_samples: int = 10, target_pos=None, n_channels: int = 3) -> Recording:
    t = T0 + DT * np.arange(n_samples)
    cursor = np.column_stack([np.arange(n_samples) ** 2, -3.0 * np.arange(n_samples)]).astype(float)
    return Recording(
        spike_times=np.asarray(times, dtype=float),
        spike_channels=np.asarray(channels, dtype=np.int64),
        spike_units=np.asarray(units, dtype=np.int64),
        t=t,
        cursor_pos=cursor,
        target_pos=np.zeros((n_samples, 2)) if target_pos is None else target_pos,
        finger_pos=np.zeros((n_samples, 3)),
        chan_names=tuple(f"M1 {c + 1:03d}" for c in range(n_channels)),
        units_per_channel=3,
    )


@pytest.fixture
def hand_case() -> Recording:
    t = T0 + DT * np.arange(10)
    # (time, channel, unit): sample i owns (t[i] - 4 ms, t[i]].
    spikes = [
        (t[0] - 0.005, 0, 0),  # before the first bin: dropped
        (t[0] - 0.002, 0, 0),  # inside bin 0's 4 ms
        (t[0], 0, 1),  # exactly on t[0]: bin 0
        (t[3], 1, 0),  # exactly on t[3]: bin 3 (right-closed)
        (t[3] + 1e-6, 1, 1),  # just after: bin 4
        (t[4] - 1e-3, 1, 2),  # also bin 4, another unit of channel 1
        (t[9], 2, 2),  # the last sample
        (t[9] + 1e-4, 2, 0),  # after the last sample: dropped
    ]
    times, channels, units = zip(*spikes)
    return _recording(times, channels, units)


def test_or_binning_equals_the_hand_computed_case(hand_case: Recording) -> None:
    expected = np.zeros((10, 3), dtype=np.float32)
    expected[0, 0] = expected[3, 1] = expected[4, 1] = expected[9, 2] = 1.0
    out = bin_spikes(hand_case)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_count_mode_sums_units_where_or_mode_saturates(hand_case: Recording) -> None:
    counts = bin_spikes(hand_case, mode="count")
    assert counts[0, 0] == 2 and counts[4, 1] == 2 and counts.sum() == 6
    np.testing.assert_array_equal(bin_spikes(hand_case, mode="or"), (counts > 0).astype(np.float32))


def test_wider_bins_group_whole_samples_and_drop_the_tail(hand_case: Recording) -> None:
    counts = bin_spikes(hand_case, bin_width=0.012, mode="count")  # 3 samples per bin, 10 // 3 bins
    np.testing.assert_array_equal(counts, [[2, 0, 0], [0, 3, 0], [0, 0, 0]])


def test_sorted_mode_has_one_column_per_sorted_unit_with_spikes(hand_case: Recording) -> None:
    out = bin_spikes(hand_case, mode="sorted")
    # Sorted units with spikes, in (channel, unit) order: (0,1), (1,1), (1,2), (2,2).
    expected = np.zeros((10, 4), dtype=np.float32)
    expected[0, 0] = expected[4, 1] = expected[4, 2] = expected[9, 3] = 1.0
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kwargs", [{"bin_width": 0.006}, {"bin_width": 0.0}, {"mode": "max"}])
def test_bad_binning_arguments_are_input_errors(hand_case: Recording, kwargs: dict) -> None:
    with pytest.raises(InputError):
        bin_spikes(hand_case, **kwargs)


@pytest.fixture(scope="module")
def session() -> Recording:
    return simulate_session(60.0, seed=5).recording


def test_count_bins_hold_every_in_window_spike(session: Recording) -> None:
    counts = bin_spikes(session, bin_width=0.02, mode="count")
    # 60 s at 20 ms: 3000 bins, all in-window spikes counted (none in a dropped tail here).
    assert counts.shape == (3000, 96)
    np.testing.assert_array_equal(counts.sum(axis=0), np.bincount(session.spike_channels, minlength=96))


def test_prepared_session_split_is_chronological_disjoint_and_by_reach(session: Recording) -> None:
    prep = prepare_session(session)
    n = prep.features.shape[0]
    assert prep.features.dtype == np.float32 and prep.velocity.dtype == np.float32
    assert (prep.train.start, prep.train.stop, prep.val.stop, prep.test.stop) == (0, prep.val.start, prep.test.start, n)
    reaches = [np.unique(prep.reach_index[s]) for s in (prep.train, prep.val, prep.test)]
    assert reaches[0].max() < reaches[1].min() and reaches[1].max() < reaches[2].min()
    total = prep.reach_index[-1] + 1
    np.testing.assert_array_equal([r.size for r in reaches], np.diff(np.rint([0, 0.5 * total, 0.75 * total, total])))
    np.testing.assert_allclose(prep.velocity, velocity(session.cursor_pos, session.t), rtol=1e-6, atol=1e-3)
    X, y = prep.split("val")
    np.testing.assert_array_equal(X, prep.features[prep.val])
    np.testing.assert_array_equal(y, prep.velocity[prep.val])
    with pytest.raises(InputError):
        prep.split("validation")


@pytest.mark.parametrize("lag_bins", [3, -2])
def test_lag_pairs_features_at_t_with_velocity_at_t_plus_lag(session: Recording, lag_bins: int) -> None:
    base = prepare_session(session, Preprocessing(bin_width=0.008))
    lagged = prepare_session(session, Preprocessing(bin_width=0.008, lag=lag_bins * 0.008))
    n = base.features.shape[0] - abs(lag_bins)
    feat, vel = (slice(0, n), slice(lag_bins, None)) if lag_bins > 0 else (slice(-lag_bins, None), slice(0, n))
    np.testing.assert_array_equal(lagged.features, base.features[feat])
    np.testing.assert_array_equal(lagged.bin_t, base.bin_t[feat])
    np.testing.assert_array_equal(lagged.velocity, base.velocity[vel])
    np.testing.assert_array_equal(lagged.reach_index, base.reach_index[vel])
    assert lagged.lag == pytest.approx(lag_bins * 0.008)


@pytest.mark.parametrize(
    "kwargs", [{"lag": 0.006}, {"fractions": (0.5, 0.3, 0.3)}, {"fractions": (1.0, 0.0, 0.0)}, {"bin_width": 0.01}]
)
def test_bad_preparation_arguments_are_input_errors(session: Recording, kwargs: dict) -> None:
    with pytest.raises(InputError):
        prepare_session(session, Preprocessing(**kwargs))


def test_too_few_reaches_is_an_input_error() -> None:
    target = np.zeros((10, 2))
    target[5:] = 10.0
    with pytest.raises(InputError, match="reaches"):
        prepare_session(_recording([T0], [0], [0], target_pos=target))
