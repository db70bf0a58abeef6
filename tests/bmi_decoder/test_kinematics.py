from __future__ import annotations

import numpy as np

from bmi_decoder.kinematics import reach_index, reach_starts, velocity


def test_velocity_of_uniform_motion_is_constant_in_mm_per_s() -> None:
    t = 148.98 + 0.004 * np.arange(50)
    pos = np.column_stack([10.0 + 120.0 * (t - t[0]), -5.0 - 40.0 * (t - t[0])])
    np.testing.assert_allclose(velocity(pos, t), np.tile([120.0, -40.0], (50, 1)), atol=1e-6)


def test_velocity_uses_central_differences_and_the_actual_sample_times() -> None:
    t = np.array([0.0, 1.0, 3.0, 4.0])
    pos = np.column_stack([t**2, np.zeros(4)])
    v = velocity(pos, t)
    # Interior samples: second-order central difference on a non-uniform grid is exact for t**2.
    np.testing.assert_allclose(v[1:3, 0], [2.0, 6.0])
    # Ends: one-sided first differences.
    np.testing.assert_allclose(v[[0, 3], 0], [1.0, 7.0])


def test_reach_starts_at_zero_and_at_every_target_change() -> None:
    target = np.array([[0, 0], [0, 0], [10, 0], [10, 0], [10, 20], [0, 0], [0, 0]], dtype=float)
    np.testing.assert_array_equal(reach_starts(target), [0, 2, 4, 5])
    np.testing.assert_array_equal(reach_index(target), [0, 0, 1, 1, 2, 3, 3])


def test_a_single_target_is_one_reach() -> None:
    target = np.ones((5, 2))
    np.testing.assert_array_equal(reach_starts(target), [0])
    assert reach_starts(target).dtype == np.int64
