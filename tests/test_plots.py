"""Each picture of what the network does draws from a model (a preset or one's own), is titled and saves."""
from dataclasses import replace

import pytest
import torch
from torch import nn

from s4lib import plots
from s4lib.model import PRESETS, build_model
from s4lib.receptive_field import input_window, receptive_field_table
from s4lib.train import TrainConfig


def small_own_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, stride=2), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 10, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def titles(fig) -> list[str]:
    return [t for t in [fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes] if t]


@pytest.mark.parametrize("model", [build_model("micro-sep-5"), small_own_model()], ids=["preset", "own"])
@pytest.mark.parametrize("draw", ["plot_feature_maps", "plot_kernels", "plot_receptive_field"])
def test_pictures_of_a_trained_model_draw_title_and_save(model, draw, tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1, 28, 28)
    fig = getattr(plots, draw)(model, x, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 5_000
    assert titles(fig) and fig._suptitle is not None


def test_the_receptive_field_squares_are_the_tables():
    model = small_own_model()
    rows = receptive_field_table(model)
    fig = plots.plot_receptive_field(model, torch.zeros(1, 28, 28))
    squares = [p for ax in fig.axes for p in ax.patches]
    spatial = [r for r in rows[1:]]  # one panel per top-level layer that has a spatial row
    assert [round(s.get_width()) for s in squares] == [r.rf for r in spatial]
    # the centre output of the stride-2 conv (6x6 map after the pool): pixels its 3x3 window reaches
    conv = rows[3]
    assert (conv.size_out, conv.rf, conv.jump) == (6, 8, 4)
    assert input_window(conv, 0, 0) == (-1.5, -1.5, 6.5, 6.5)  # reaches past the image, where conv 1 pads
    top, left, bottom, right = input_window(conv, 2, 2)
    assert (top, left, bottom, right) == (6.5, 6.5, 14.5, 14.5)  # one jump (4 pixels) further per position


def test_the_one_cycle_picture_reads_the_schedule_the_training_uses(tmp_path):
    config = TrainConfig(num_epochs=3)
    lrs, momenta = plots.one_cycle_schedule(config, steps_per_epoch=50)
    assert len(lrs) == 150
    assert lrs[0] == pytest.approx(config.lr / config.div_factor)
    assert max(lrs) == pytest.approx(config.lr, rel=1e-3)
    assert lrs[-1] < config.lr / config.div_factor / config.final_div_factor * 1.5
    assert min(momenta) == pytest.approx(config.base_momentum, abs=1e-3) and momenta[0] == config.max_momentum
    assert lrs.index(max(lrs)) == pytest.approx(config.pct_start * 150, abs=2)
    fig = plots.plot_one_cycle(config, 50, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 5_000 and len(titles(fig)) == 3


def test_the_batchnorm_picture_compares_the_same_layers_with_and_without(tmp_path):
    torch.manual_seed(0)
    X = torch.randn(32, 1, 28, 28)
    no_bn = replace(PRESETS["s4"], batchnorm=False)
    with_bn, without = plots.pre_activations(build_model("s4"), X), plots.pre_activations(build_model(no_bn), X)
    assert [name for name, _ in with_bn] == [name for name, _ in without]
    assert all(abs(v.std() - 1) < 0.05 for _, v in with_bn)  # BN in training mode: unit spread on every layer
    fig = plots.plot_batchnorm_effect(build_model("s4"), build_model(no_bn), X, tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 5_000 and len(titles(fig)) == 3


def test_the_most_frequent_mistakes_come_first():
    y = torch.tensor([1, 1, 1, 2, 2, 3])
    y_hat = torch.tensor([7, 7, 1, 3, 2, 5])
    assert plots.top_confusions(y, y_hat, 2) == [(1, 7, 2), (3, 5, 1)]
