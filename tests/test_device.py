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


def test_cpu_run_repeats_the_numbers_measured_before_devices_existed():
    # measured with this exact config on the code before TrainConfig.device (commit da3460f): the device
    # support must not change one random draw or one operation on the CPU
    # the main model of that time is the preset s4-v1 in the NCHW layout, with dropout 0.05
    result = train(replace(SMALL, model="s4-v1", channels_last=False, device="cpu", dropout=0.05),
                   verbose=False)
    assert result.device.startswith("cpu")
    assert [e.test_acc for e in result.history] == [0.798, 0.928]
    assert [e.train_acc for e in result.history] == [0.48, 0.862]
    assert result.to_dict()["device"] == result.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_one_short_epoch_on_the_gpu_learns():
    result = train(replace(SMALL, num_epochs=1, device="cuda"), verbose=False)
    assert result.device.startswith("cuda")
    assert next(result.model.parameters()).is_cuda
    assert result.final.test_acc > 0.5  # chance is 0.1
    X = torch.zeros(3, 1, 28, 28)
    assert predict(result.model, X).device.type == "cpu"
