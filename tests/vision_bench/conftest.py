import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions gain nothing from a second thread, and stall when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
