"""The moving average of the weights: the update by hand, and a run that scores, saves and resumes the average."""
import copy
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from s4lib.checkpoint import load_checkpoint, model_from_checkpoint, save_atomic
from s4lib.data import load_mnist
from s4lib.ema import EMA
from s4lib.evaluate import evaluate
from s4lib.model import build_model
from s4lib.train import TrainConfig, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SMALL_EMA = TrainConfig(num_epochs=2, batch_size=64, lr=0.05, train_subset=3000, test_subset=1000, data_root=DATA,
                        ema=0.9)


def test_one_update_is_the_weighted_average_by_hand():
    live = build_model("micro-sep-5")
    ema = EMA(live, decay=0.75)
    before = copy.deepcopy(ema.model.state_dict())
    with torch.no_grad():
        for p in live.parameters():
            p.add_(torch.randn_like(p))
        live.features.conv1[1].running_mean += 2.0
        live.features.conv1[1].num_batches_tracked += 7
    ema.update()
    for name, now in live.state_dict().items():
        got = ema.model.state_dict()[name]
        if now.is_floating_point():
            assert torch.allclose(got, 0.75 * before[name] + 0.25 * now), name
        else:  # the step counter is copied, not averaged
            assert torch.equal(got, now), name
    assert not any(p.requires_grad for p in ema.model.parameters())


@pytest.fixture(scope="module")
def ema_run():
    return train(SMALL_EMA, verbose=False)


def test_a_run_with_ema_scores_and_saves_the_average(ema_run, tmp_path):
    plain = train(replace(SMALL_EMA, ema=0.0), verbose=False)
    # the live weights follow the same steps either way; only the scored model differs
    assert [e.train_loss for e in ema_run.history] == pytest.approx([e.train_loss for e in plain.history], rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(ema_run.model.state_dict().values(),
                                                     plain.model.state_dict().values()))
    _, _, X_test, y_test = load_mnist(DATA, verbose=False)
    assert evaluate(ema_run.model, X_test[:1000], y_test[:1000])[1] == ema_run.final.test_acc
    path = save_atomic(ema_run.checkpoint(), tmp_path / "w.pt")
    reloaded = model_from_checkpoint(load_checkpoint(path), path)
    assert evaluate(reloaded, X_test[:1000], y_test[:1000])[1] == ema_run.final.test_acc


def test_ctrl_c_and_resume_give_the_same_average(ema_run, tmp_path, ctrl_c_at_epoch):
    ckpt = tmp_path / "run.pt"
    undo = ctrl_c_at_epoch(2)
    assert train(SMALL_EMA, verbose=False, checkpoint=ckpt).interrupted
    assert "live_state" in load_checkpoint(ckpt)  # the weights the optimizer moves, beside their average
    undo()
    resumed = train(SMALL_EMA, verbose=False, checkpoint=ckpt, resume=True)
    assert [e.test_acc for e in resumed.history] == [e.test_acc for e in ema_run.history]
    for a, b in zip(resumed.model.state_dict().values(), ema_run.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
