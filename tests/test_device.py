"""Devices: the config names one, CPU runs are what they were before devices existed, a GPU (if any) learns."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from s4lib.device import resolve_device
from s4lib.errors import S4Error
from s4lib.train import TrainConfig, predict, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SMALL = TrainConfig(num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000, data_root=DATA)


def test_auto_is_cuda_when_there_is_one_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "", "cuda:0 "])
def test_unknown_device_is_a_clear_error(name):
    with pytest.raises(S4Error, match="device"):
        TrainConfig(device=name)
    with pytest.raises(S4Error, match="unknown device"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(S4Error, match="'cuda' is not available"):
        resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_cpu_run_is_the_same_run_whether_the_device_is_named_or_found():
    # the device support must not change one random draw or one operation on the CPU: naming the CPU and letting
    # "auto" find it give the same numbers to the last bit (exact numbers differ between CPU models, so none are
    # hard-coded here)
    config = replace(SMALL, model="s4-v1", channels_last=False, dropout=0.05)
    named, found = train(replace(config, device="cpu"), verbose=False), train(replace(config, device="auto"),
                                                                            verbose=False)
    assert named.device.startswith("cpu") and named.to_dict()["device"] == named.device
    assert [e.test_acc for e in named.history] == [e.test_acc for e in found.history]
    assert [e.train_loss for e in named.history] == [e.train_loss for e in found.history]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_one_short_epoch_on_the_gpu_learns():
    result = train(replace(SMALL, num_epochs=1, device="cuda"), verbose=False)
    assert result.device.startswith("cuda")
    assert next(result.model.parameters()).is_cuda
    assert result.final.test_acc > 0.5  # chance is 0.1
    X = torch.zeros(3, 1, 28, 28)
    assert predict(result.model, X).device.type == "cpu"
