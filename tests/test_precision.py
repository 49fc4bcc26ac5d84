"""Precision: fp32 by default, bf16 trains on the CPU with a finite loss, fp16 only on CUDA, a bad value is one line."""
from pathlib import Path

import pytest
import torch

from s4lib.cli import main
from s4lib.device import native_bf16, resolve_precision
from s4lib.errors import S4Error
from s4lib.train import TrainConfig, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SHORT = TrainConfig(num_epochs=1, batch_size=64, train_subset=1500, test_subset=500, data_root=DATA)


def test_a_short_bf16_run_on_the_cpu_trains_and_its_loss_stays_finite(capsys):
    result = train(TrainConfig(**{**SHORT.__dict__, "precision": "bf16", "device": "cpu"}))
    e = result.final
    assert result.precision == "bf16" and result.to_dict()["precision"] == "bf16"
    assert torch.isfinite(torch.tensor([e.train_loss, e.test_loss])).all() and e.test_acc > 0.3
    assert ", bf16" in capsys.readouterr().out  # the log line names the precision
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # weights stay float32


def test_fp32_is_the_default():
    assert TrainConfig().precision == "fp32"


def test_auto_takes_bf16_only_where_the_hardware_computes_it():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"


def test_fp16_needs_a_gpu_and_a_bad_value_is_one_line(capsys):
    with pytest.raises(S4Error, match="fp16 needs a GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(S4Error, match="tf32 needs a CUDA GPU"):
        resolve_precision("tf32", torch.device("cpu"))
    with pytest.raises(S4Error, match="precision must be one of fp32, tf32, bf16, fp16, auto, got 'half'"):
        TrainConfig(precision="half")
    assert main(["train", "--precision", "fp16", "--device", "cpu", "--data-root", DATA]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fp16 needs a GPU" in err
