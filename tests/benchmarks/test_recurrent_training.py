"""The stability measure of benchmarks/recurrent_training.py."""

import pytest
from recurrent_training import worst_fall


@pytest.mark.parametrize(
    ("curve", "fall"),
    [
        ([0.1, 0.3, 0.5, 0.6], 0.0),  # rising: nothing undone
        ([0.1, 0.5, 0.2, 0.6, 0.55], 0.3),  # 0.2 after a best of 0.5; the later dip is smaller
        ([0.17, -0.28, -2.06], 2.23),  # measured from the best so far, not the previous epoch
        ([0.4], 0.0),
    ],
)
def test_worst_fall_is_the_largest_drop_below_the_best_so_far(curve, fall):
    assert worst_fall(curve) == pytest.approx(fall)
