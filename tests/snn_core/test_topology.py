import numpy as np
import pytest

from snn_core.topology import ASC, DSC, NONE, SkipTopology, sample_topology, search_space_size


def test_text_form_round_trips_by_hand():
    topo = SkipTopology([[[0, 2, 1], [0, 0, 1], [0, 0, 0]], [[0, 1], [0, 0]]])
    assert str(topo) == "3-211_2-1"
    assert SkipTopology.from_string("3-211_2-1") == topo


@pytest.mark.parametrize("seed", range(20))
def test_text_form_round_trips_for_sampled_topologies(seed):
    topo = sample_topology([4, 3, 1, 5], seed=seed)
    assert SkipTopology.from_string(str(topo)) == topo
    assert SkipTopology(topo.matrices()) == topo


def test_single_layer_block_has_no_digits():
    assert str(SkipTopology.empty([1, 2])) == "1-_2-0"
    assert SkipTopology.from_string("1-_2-0").layers_per_block == (1, 2)


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([[[0, 1], [1, 0]]], r"not strictly upper-triangular, entry \(1, 0\)"),
        ([[[1, 0], [0, 0]]], r"not strictly upper-triangular, entry \(0, 0\)"),
        ([[[0, 3], [0, 0]]], r"entry \(0, 1\) is 3, outside 0..2"),
        ([[[0, -1], [0, 0]]], r"outside 0..2"),
        ([[[0, 1, 0], [0, 0, 0]]], r"square L x L matrix, got shape \(2, 3\)"),
        ([[0, 1]], r"square L x L matrix, got shape \(2,\)"),
        ([[[0, 0.5], [0, 0]]], r"integers"),
        ([], r"at least one block"),
    ],
)
def test_invalid_matrices_raise_value_error_naming_the_problem(blocks, message):
    with pytest.raises(ValueError, match=message):
        SkipTopology(blocks)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty topology"),
        ("3-21", r"3 layers need 3 digits"),
        ("3-2113", r"3 layers need 3 digits"),
        ("3-2a1", r"3 layers need 3 digits"),
        ("x-1", r"not of the form 'L-digits'"),
        ("0-", r"not of the form 'L-digits'"),
        ("2-3", r"outside 0..2"),
        ("3-211_2", r"block 1: '2' is not of the form"),
    ],
)
def test_invalid_text_raises_value_error_naming_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        SkipTopology.from_string(text)


def test_search_space_size_counts_three_choices_per_entry():
    assert search_space_size([1]) == 1
    assert search_space_size([3]) == 27
    assert search_space_size([4, 3]) == 3**6 * 3**3
    # brute force for a small space: every sample lies in it, and all of it is reachable
    seen = {str(sample_topology([3], seed=s)) for s in range(2000)}
    assert len(seen) == search_space_size([3])


def test_sampling_is_seeded():
    assert sample_topology([4, 4], seed=7) == sample_topology([4, 4], seed=7)
    assert len({str(sample_topology([4, 4], seed=s)) for s in range(10)}) > 1


def test_counts_and_sources():
    topo = SkipTopology.from_string("4-201102")
    assert topo.count() == 4 and topo.count(DSC) == 2 and topo.count(ASC) == 2 and topo.count(NONE) == 12
    assert topo.sources(0, 3) == [(0, DSC), (2, ASC)]
    assert topo.sources(0, 0) == []


def test_uniform_builds_densenet_and_resnet_patterns():
    dense = SkipTopology.uniform([4], DSC)
    assert np.array_equal(dense.matrices()[0], np.triu(np.ones((4, 4), dtype=int), 1))
    res = SkipTopology.uniform([4], ASC, span=2)
    assert str(res) == "4-020020"  # (0,2) and (1,3), row by row
