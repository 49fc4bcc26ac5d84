"""Devices: the config names one, CPU runs are what they were before devices existed, a GPU (if any) learns."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from s4lib.device import resolve_device
from s4lib.errors import S4Error
from s4lib.evaluate import predict
from s4lib.train import TrainConfig, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SMALL = TrainConfig(num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000, data_root=DATA)


def test_auto_is_the_cpu_where_there_is_no_gpu():
    # the tests pin every device to the CPU (tests/conftest.py); tests/test_gpu.py checks auto on a GPU
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "", "cuda:0 "])
def test_unknown_device_is_a_clear_error(name):
    with pytest.raises(S4Error, match="device"):
        TrainConfig(device=name)
    with pytest.raises(S4Error, match="unknown device"):
        resolve_device(name)


def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(S4Error, match="'cuda' is not available"):
        resolve_device("cuda")


def test_a_cpu_run_is_the_same_run_whether_the_device_is_named_or_found():
    # the device support must not change one random draw or one operation on the CPU: naming the CPU and letting
    # "auto" find it give the same numbers to the last bit (exact numbers differ between CPU models, so none are
    # hard-coded here)
    config = TrainConfig.preset("tiny", num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000,
                                data_root=DATA, memory_format="nchw")
    named, found = train(replace(config, device="cpu"), verbose=False), train(replace(config, device="auto"),
                                                                            verbose=False)
    assert named.device.startswith("cpu") and named.to_dict()["device"] == named.device
    assert [e.test_acc for e in named.history] == [e.test_acc for e in found.history]
    assert [e.train_loss for e in named.history] == [e.train_loss for e in found.history]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_one_short_epoch_on_the_gpu_learns():
    result = train(replace(SMALL, num_epochs=1, device="cuda"), verbose=False)
    assert result.device.startswith("cuda")
    assert next(result.model.parameters()).is_cuda
    assert result.final.test_acc > 0.5  # chance is 0.1
    X = torch.zeros(3, 1, 28, 28)
    assert predict(result.model, X).device.type == "cpu"


def test_a_preset_starts_from_the_weights_its_seed_gives_and_nothing_draws_before_them(monkeypatch):
    # the committed records need a preset's first weights to be what seeding, loading the data and building give,
    # whatever train() checks or sets up besides (CPU-model independent: weight init is exact arithmetic on the RNG)
    import s4lib.train as train_module
    from s4lib.data import load_data
    from s4lib.model import build_model

    first = {}

    def recording(*args, **kwargs):
        model = build_model(*args, **kwargs)
        first.update({k: v.clone() for k, v in model.state_dict().items()})
        return model

    monkeypatch.setattr(train_module, "build_model", recording)
    config = replace(SMALL, num_epochs=1, device="cpu")
    train(config, verbose=False)
    torch.manual_seed(config.seed)
    load_data(config, torch.device("cpu"), verbose=False)
    by_hand = build_model(config.architecture, config.dropout).state_dict()
    assert first.keys() == by_hand.keys() and all(torch.equal(first[k], by_hand[k]) for k in by_hand)
