"""Training: it learns, it is repeatable, it survives Ctrl-C and resumes on the same schedule."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import s4lib.checkpoint as checkpoint_module
import s4lib.train as train_module
from s4lib.checkpoint import load_checkpoint, model_from_checkpoint, save_atomic
from s4lib.data import load_data, make_train_batches
from s4lib.errors import S4Error
from s4lib.evaluate import evaluate, per_class_accuracy
from s4lib.results import EpochLog, TrainResult
from s4lib.train import TrainConfig, train

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


def test_a_run_times_itself_whole_from_the_data_on_hand_to_the_final_evaluation(small_run):
    # every epoch's training and evaluation lie inside the whole run, and building the model is more than nothing
    assert small_run.wall_seconds > sum(e.seconds + e.test_seconds for e in small_run.history) > 0


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


def test_ctrl_c_keeps_history_and_resume_ends_on_the_same_schedule(small_run, tmp_path, ctrl_c_at_epoch):
    ckpt = tmp_path / "run.pt"
    undo = ctrl_c_at_epoch(2)
    first = train(SMALL, verbose=False, checkpoint=ckpt)
    assert first.interrupted and [e.epoch for e in first.history] == [1]
    assert [e["epoch"] for e in load_checkpoint(ckpt)["history"]] == [1]
    undo()

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
                                 dict(dropout=1.0), dict(dropout=-0.1), dict(model="huge"), dict(loader="x"),
                                 dict(eval_every=-1), dict(threads=1.5), dict(memory_format="nhwc"),
                                 dict(deterministic="yes"),
                                 dict(model="tiny", architecture=TrainConfig().architecture)])
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


# ---------------------------------------------------------------- small synthetic checks (no MNIST)

BLACK = -0.4242  # MNIST's black after normalising with the training mean and std


def toy_images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n black images with a bright square in the middle; label i is the image's index."""
    X = torch.full((n, 1, 28, 28), BLACK)
    X[:, 0, 11:17, 11:17] = 2.8
    return X, torch.arange(n)


def epoch_order(batches) -> list[int]:
    """The labels (= indices) of one pass over the batches, in the order they came."""
    return torch.cat([yb for _, yb in batches]).tolist()


def test_training_batches_are_shuffled_every_epoch_and_repeat_per_seed():
    X, y = toy_images(40)
    config = TrainConfig(batch_size=8, seed=3)
    batches = make_train_batches(config, X, y)
    first, second = epoch_order(batches), epoch_order(batches)
    assert sorted(first) == sorted(second) == list(range(40))  # every image exactly once per epoch
    assert first != list(range(40))  # not in dataset order
    assert first != second  # reshuffled each epoch
    assert epoch_order(make_train_batches(config, X, y)) == first  # the seed fixes the order
    assert epoch_order(make_train_batches(replace(config, seed=4), X, y)) != first


def test_training_augmentation_pads_with_the_data_black_not_zero():
    X, y = toy_images(16)
    config = TrainConfig(batch_size=16, max_rotation_deg=20.0, max_shift_px=3.0)
    Xb, _ = next(iter(make_train_batches(config, X, y)))
    assert not torch.equal(Xb, X)  # augmented
    # rotating and shifting vacates the corners and edges: they must show black, not 0.0 (a grey)
    border = torch.cat([Xb[..., 0, :], Xb[..., -1, :], Xb[..., :, 0], Xb[..., :, -1]], dim=-1)
    torch.testing.assert_close(border, torch.full_like(border, BLACK))


def hand_made_result(test_accs: list[float]) -> TrainResult:
    """A TrainResult with the given per-epoch test accuracies (and matching other numbers)."""
    history = [EpochLog(epoch=i + 1, lr=0.01, train_loss=1 - a, train_acc=a - 0.01, test_loss=1 - a,
                        test_acc=a, seconds=1.0, test_seconds=0.5) for i, a in enumerate(test_accs)]
    return TrainResult(TrainConfig(), num_params=1234, history=history)


def test_final_is_the_last_epoch_even_when_an_earlier_one_was_better():
    result = hand_made_result([0.5, 0.99, 0.9])
    assert result.final.epoch == 3 and result.final.test_acc == 0.9


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "w.pt"
    save_atomic({"w": torch.ones(3)}, target)
    before = target.read_bytes()

    def write_half_then_fail(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpoint")  # what a disk-full or Ctrl-C mid-write leaves
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({"w": torch.zeros(3)}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]


def test_per_class_accuracy_counts_each_digit_over_its_own_images():
    y = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_hat = torch.tensor([0, 0, 0, 1, 1, 0, 2, 0, 0, 0])
    # overall 5/10 correct; per class 3/4, 1/2, 1/4, and class 3 has no images
    assert per_class_accuracy(y_hat, y, num_classes=4) == [(3, 4), (1, 2), (1, 4), (0, 0)]


def test_every_epoch_checks_the_training_set_like_the_test_set_and_keeps_the_first_losses(small_run):
    from s4lib.train import TRAIN_CHECK_IMAGES

    for e in small_run.history:
        assert 0 < e.train_check_acc <= 1 and e.train_check_loss > 0
    # the check runs in eval mode without augmentation, on fixed images: recomputing it gives the same number
    X, y, _, _ = load_data(SMALL, torch.device("cpu"), verbose=False)
    loss, acc = evaluate(small_run.model, X[:TRAIN_CHECK_IMAGES], y[:TRAIN_CHECK_IMAGES])
    assert acc == small_run.final.train_check_acc and loss == pytest.approx(small_run.final.train_check_loss)
    assert len(small_run.first_losses) == 47  # 3000 images in batches of 64: fewer than FIRST_STEPS steps
    assert small_run.first_losses[0] > small_run.first_losses[-1]
    assert small_run.to_dict()["first_losses"] == small_run.first_losses


def test_label_smoothing_is_the_training_loss_and_only_that(monkeypatch):
    real, calls = torch.nn.functional.cross_entropy, []

    def recording(y_hat, y, *args, **kwargs):
        calls.append((y_hat.detach().clone(), y.clone(), kwargs.get("label_smoothing")))
        return real(y_hat, y, *args, **kwargs)

    monkeypatch.setattr(train_module.F, "cross_entropy", recording)
    result = train(replace(SMALL, num_epochs=1, train_subset=640, label_smoothing=0.1), verbose=False)
    y_hat, y, smoothing = calls[0]
    assert smoothing == 0.1
    # by hand: 0.9 of the loss on the true digit plus 0.1 of the mean loss over all ten digits
    log_p = torch.log_softmax(y_hat, 1)
    by_hand = (0.9 * -log_p[torch.arange(len(y)), y] + 0.1 * -log_p.mean(1)).mean()
    assert result.first_losses[0] == pytest.approx(by_hand.item(), rel=1e-5)
    assert all(s is None for _, _, s in calls[10:])  # the 10 training steps smooth; the evaluations do not


def test_eval_every_scores_only_the_epochs_it_names_and_always_the_last(capsys):
    result = train(replace(SMALL, num_epochs=3, eval_every=2), verbose=True)
    scored = [e.test_acc is not None for e in result.history]
    assert scored == [False, True, True]
    assert [e.train_check_acc is not None for e in result.history] == scored
    assert result.history[0].test_seconds < result.history[1].test_seconds
    once = train(replace(SMALL, num_epochs=2, eval_every=0), verbose=False)
    assert [e.test_acc is not None for e in once.history] == [False, True]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch  1/3")]
    assert lines and "test loss" not in lines[0]


def test_a_nan_is_found_at_the_step_it_happened_though_the_host_looks_only_every_few_steps():
    from s4lib.results import Diverged
    from s4lib.train import look

    class Bar:
        def set_postfix(self, **kwargs): pass
        def close(self): pass
    window = [torch.tensor(v) for v in (2.0, 1.5, float("nan"), 1.0)]
    with pytest.raises(Diverged, match="at step 9 of epoch 1"):
        look(window, 10, "epoch 1", Bar(), None)  # steps 7..10 looked at together; the third was NaN
    kept = []
    look([torch.tensor(2.3)] * 50, 50, "epoch 1", Bar(), kept)
    assert kept == pytest.approx([2.3] * 50)


def test_the_host_looks_at_the_loss_only_every_sync_every_steps(monkeypatch):
    import s4lib.train as train_module

    looks = []
    real = train_module.look
    monkeypatch.setattr(train_module, "look", lambda window, step, *a: looks.append((len(window), step)) or
                        real(window, step, *a))
    train(replace(SMALL, num_epochs=2, train_subset=64 * 120), verbose=False)  # 120 steps an epoch
    assert looks == [(50, 50), (50, 100), (20, 120)] * 2
