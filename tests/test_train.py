"""Training: it learns, it is repeatable, it survives Ctrl-C and resumes on the same schedule."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import s4lib.train as train_module
from s4lib.checkpoint import load_checkpoint, model_from_checkpoint, save_atomic
from s4lib.errors import S4Error
from s4lib.train import TrainConfig, evaluate, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SMALL = TrainConfig(num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000, data_root=DATA)


@pytest.fixture(scope="module")
def small_run():
    return train(SMALL, verbose=False)


def test_short_training_clearly_learns(small_run):
    h = small_run.history
    assert [e.epoch for e in h] == [1, 2]
    assert h[1].train_loss < h[0].train_loss
    assert h[-1].test_acc > 0.8  # chance is 0.1
    assert h[-1].test_loss < 2.302 / 3  # ln(10) is the loss of a uniform guess
    assert small_run.final is h[-1]
    assert small_run.num_params < 20_000


def test_same_seed_same_run(small_run):
    again = train(SMALL, verbose=False)
    assert [e.test_acc for e in again.history] == [e.test_acc for e in small_run.history]
    assert [e.train_loss for e in again.history] == pytest.approx([e.train_loss for e in small_run.history], rel=1e-6)


def test_saved_weights_reload_to_the_same_accuracy(small_run, tmp_path):
    path = save_atomic(small_run.checkpoint(), tmp_path / "w.pt")
    model = model_from_checkpoint(load_checkpoint(path), path)
    from s4lib.data import load_mnist
    _, _, X_test, y_test = load_mnist(DATA, verbose=False)
    _, acc = evaluate(model, X_test[:1000], y_test[:1000])
    assert acc == small_run.final.test_acc


def test_ctrl_c_keeps_history_and_resume_ends_on_the_same_schedule(small_run, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    real_epoch, calls = train_module.train_one_epoch, []

    def interrupted_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted_second_epoch)
    first = train(SMALL, verbose=False, checkpoint=ckpt)
    assert first.interrupted and [e.epoch for e in first.history] == [1]
    assert [e["epoch"] for e in load_checkpoint(ckpt)["history"]] == [1]
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)

    resumed = train(SMALL, verbose=False, checkpoint=ckpt, resume=True)
    assert not resumed.interrupted
    assert [e.epoch for e in resumed.history] == [1, 2]
    assert [e.lr for e in resumed.history] == [e.lr for e in small_run.history]
    assert [e.test_acc for e in resumed.history] == [e.test_acc for e in small_run.history]
    for a, b in zip(resumed.model.state_dict().values(), small_run.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    ckpt = tmp_path / "run.pt"
    one = replace(SMALL, num_epochs=1)
    train(one, verbose=False, checkpoint=ckpt)
    with pytest.raises(S4Error, match="different config"):
        train(replace(one, lr=0.2), verbose=False, checkpoint=ckpt, resume=True)


@pytest.mark.parametrize("bad", [dict(num_epochs=0), dict(lr=0.0), dict(lr=-1.0), dict(batch_size=0),
                                 dict(dropout=1.0), dict(dropout=-0.1), dict(model="huge"), dict(loader="x")])
def test_nonsense_config_is_refused(bad):
    with pytest.raises(S4Error):
        TrainConfig(**bad)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated"])
def test_corrupt_checkpoint_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(S4Error, match="bad.pt"):
        load_checkpoint(path)
    assert path.read_bytes() == content


def test_checkpoint_of_another_model_gives_a_clear_error(small_run, tmp_path):
    ckpt = small_run.checkpoint()
    ckpt["model_state"] = {k: v[..., :1] if v.ndim else v for k, v in ckpt["model_state"].items()}
    path = save_atomic(ckpt, tmp_path / "other.pt")
    with pytest.raises(S4Error, match="another model"):
        model_from_checkpoint(load_checkpoint(path), path)


def test_too_few_steps_for_the_schedule_is_a_clear_error():
    with pytest.raises(S4Error, match="no room for the one-cycle warm-up"):
        train(replace(SMALL, num_epochs=1, train_subset=256, batch_size=128), verbose=False)
