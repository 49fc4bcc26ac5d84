"""On a CUDA GPU (skipped without one; `python -m s4lib gpucheck` runs them): the same weights score the same on the
GPU and the CPU, a run starts from the same first weights, every precision stays finite and near fp32, a resume under
the deterministic setting is the uninterrupted run, a GPU checkpoint evaluates on the CPU, the torchvision loader feeds
the GPU, and notebook 02 passes under nbval."""
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from s4lib.checkpoint import load_checkpoint, model_from_checkpoint, save_atomic
from s4lib.data import load_mnist
from s4lib.device import native_bf16
from s4lib.evaluate import evaluate
from s4lib.project import MAIN_WEIGHTS
from s4lib.train import TrainConfig, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")]
ROOT = Path(__file__).resolve().parents[1]
DATA = str(ROOT / "data")
SHORT = TrainConfig(num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000, data_root=DATA,
                    device="cuda")
NOISE = 0.03  # accuracy on 1,000 test images after 2 short epochs moves by about this much between runs


@pytest.fixture(scope="module")
def test_set():
    _, _, X, y = load_mnist(DATA, verbose=False)
    return X, y


def test_auto_takes_the_gpu():
    from s4lib.device import resolve_device

    assert resolve_device("auto").type == "cuda"


def test_the_committed_weights_score_the_same_on_the_gpu_and_the_cpu_within_two_images(test_set):
    X, y = test_set
    model = model_from_checkpoint(load_checkpoint(MAIN_WEIGHTS), MAIN_WEIGHTS)
    _, on_cpu = evaluate(model, X, y)
    _, on_gpu = evaluate(model.to("cuda"), X, y)
    assert abs(on_cpu - on_gpu) * len(y) <= 2


def test_a_short_run_starts_from_the_same_weights_on_both_and_lands_within_noise(monkeypatch):
    import s4lib.train as train_module
    from s4lib.model import build_model

    first = []

    def recording(*args, **kwargs):
        model = build_model(*args, **kwargs)
        first.append({k: v.clone() for k, v in model.state_dict().items()})
        return model
    monkeypatch.setattr(train_module, "build_model", recording)
    gpu, cpu = train(SHORT, verbose=False), train(replace(SHORT, device="cpu"), verbose=False)
    assert all(torch.equal(first[0][k], first[1][k]) for k in first[0])
    assert abs(gpu.final.test_acc - cpu.final.test_acc) <= NOISE


@pytest.mark.parametrize("precision", ["fp16", "bf16", "tf32"])
def test_every_precision_the_gpu_computes_stays_finite_and_near_fp32(precision):
    device = torch.device("cuda")
    if precision == "bf16" and not native_bf16(device):
        with pytest.raises(Exception, match="no native bf16"):
            train(replace(SHORT, precision=precision), verbose=False)
        return
    if precision == "tf32" and torch.cuda.get_device_capability(device)[0] < 8:
        pytest.skip("no TF32 before compute capability 8.0")
    fp32, other = train(SHORT, verbose=False), train(replace(SHORT, precision=precision), verbose=False)
    assert other.precision == precision
    assert all(torch.isfinite(torch.tensor([e.train_loss, e.test_loss])).all() for e in other.history)
    assert abs(other.final.test_acc - fp32.final.test_acc) <= NOISE


def test_a_resume_under_the_deterministic_setting_is_the_uninterrupted_run(tmp_path, ctrl_c_at_epoch):
    config = replace(SHORT, deterministic=True)
    uninterrupted = train(config, verbose=False)
    undo = ctrl_c_at_epoch(2)
    assert train(config, verbose=False, checkpoint=tmp_path / "run.pt").interrupted
    undo()
    resumed = train(config, verbose=False, checkpoint=tmp_path / "run.pt", resume=True)
    assert [e.test_acc for e in resumed.history] == [e.test_acc for e in uninterrupted.history]
    assert [e.train_loss for e in resumed.history] == [e.train_loss for e in uninterrupted.history]


def test_a_gpu_checkpoint_evaluates_on_the_cpu_and_refuses_to_resume_there(tmp_path, test_set):
    X, y = test_set
    result = train(replace(SHORT, num_epochs=1), verbose=False, checkpoint=tmp_path / "run.pt")
    path = save_atomic(result.checkpoint(), tmp_path / "w.pt")
    model = model_from_checkpoint(load_checkpoint(path), path)
    assert next(model.parameters()).device.type == "cpu"
    assert evaluate(model, X[:1000], y[:1000])[1] == result.final.test_acc
    with pytest.raises(Exception, match="written on cuda and this run is on cpu"):
        train(replace(SHORT, num_epochs=1, device="cpu"), verbose=False, checkpoint=tmp_path / "run.pt", resume=True)


def test_a_model_of_ones_own_goes_back_to_the_cpu_it_came_from():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.1), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 10))
    train(replace(SHORT, num_epochs=1), model=model, verbose=False)
    assert next(model.parameters()).device.type == "cpu"


def test_the_torchvision_loader_feeds_the_gpu():
    config = replace(SHORT, loader="torchvision", train_subset=0, num_epochs=1)
    from itertools import islice

    import s4lib.train as train_module

    real = train_module.make_train_batches
    train_module.make_train_batches = lambda *a, **k: list(islice(real(*a, **k), 20))
    try:
        result = train(config, verbose=False)
    finally:
        train_module.make_train_batches = real
    assert result.device.startswith("cuda") and result.final.test_acc > 0.1


@pytest.mark.slow
def test_notebook_02_passes_under_nbval_on_the_gpu():
    done = subprocess.run([sys.executable, "-m", "pytest", "notebooks/02_mnist_cnn.ipynb", "--nbval-lax",
                           "--nbval-current-env", "-p", "no:cacheprovider", "-q"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:]
