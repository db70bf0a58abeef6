import pytest
import torch

from vision_bench.data import write_synthetic_cifar10dvs

# a search config small enough for the tests: 8 x 8 frames, T = 2, one 3-layer block of 4 channels
TINY_SEARCH_CONFIG = """\
[data]
time_bins = 2
size = 8

[model]
stem_width = 4
widths = [4]
depth = 3

[train]
epochs = 1
batch_size = 64
lr = 1e-2

[analysis]
variants = ["asc", "none"]
"""


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions gain nothing from a second thread, and stall when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    # 11 per class: the fewest that leave a 9:1 test split (10 train + 1 test per class)
    return write_synthetic_cifar10dvs(tmp_path_factory.mktemp("sim"), per_class=11, seed=3, progress=False).root


@pytest.fixture
def config(tmp_path):
    """The tiny search config, written to a file of the test's own."""
    path = tmp_path / "search.toml"
    path.write_text(TINY_SEARCH_CONFIG)
    return path
