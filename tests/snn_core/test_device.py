"""The one device choice both frontends use: names, auto, and CUDA that is not there."""

from __future__ import annotations

import pytest
import torch

from snn_core.device import choose_device, is_device_name, loading_device
from snn_core.errors import InputError

CUDA = torch.cuda.is_available()


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names(name):
    assert is_device_name(name)


@pytest.mark.parametrize("name", ["", "gpu", "CUDA", "cuda:", "cuda:-1", "cpu:0", "tpu", None, 0])
def test_bad_device_names_are_input_errors_naming_the_field(name):
    assert not is_device_name(name)
    with pytest.raises(InputError, match="^cfg.toml: train.device: expected auto, cpu, cuda or cuda:N"):
        choose_device(name, "cfg.toml", "train.device")
    with pytest.raises(InputError, match="train.device"):
        loading_device(name, "cfg.toml", "train.device")


def test_auto_takes_cuda_when_visible():
    assert choose_device("cpu").type == "cpu"
    assert choose_device("auto").type == ("cuda" if CUDA else "cpu")
    assert loading_device("auto").type == ("cuda" if CUDA else "cpu")


def test_cuda_only_where_there_is_one():
    if CUDA:
        assert choose_device("cuda").type == "cuda"
    else:
        with pytest.raises(InputError, match="CUDA") as err:
            choose_device("cuda")
        assert "\n" not in str(err.value)
    # a device index past the last GPU is refused for training either way
    with pytest.raises(InputError, match="CUDA"):
        choose_device(f"cuda:{torch.cuda.device_count()}")


def test_loading_falls_back_to_what_this_machine_has():
    assert loading_device("cpu").type == "cpu"
    assert loading_device("cuda").type == ("cuda" if CUDA else "cpu")
    assert loading_device(f"cuda:{torch.cuda.device_count()}") == choose_device("auto")
