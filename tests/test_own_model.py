"""A model of one's own trains, saves, reloads and is checked exactly as a preset is; presets carry their recipes."""
from pathlib import Path

import pytest
import torch
from torch import nn

from s4lib import assignment_checks
from s4lib.checkpoint import load_checkpoint, load_weights, model_from_checkpoint, save_atomic
from s4lib.cli import build_parser, config_from_args, main
from s4lib.errors import S4Error
from s4lib.model import PRESETS, RECIPES
from s4lib.receptive_field import receptive_field_table
from s4lib.tables import architecture_table
from s4lib.train import TrainConfig, train

DATA = str(Path(__file__).resolve().parents[1] / "data")
SHORT = TrainConfig(num_epochs=1, batch_size=64, train_subset=2000, test_subset=500, data_root=DATA)


class OwnNet(nn.Module):
    """Padding, a stride-2 conv, a max-pool and a 1x1: the layers the tables must walk."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),   # 28, rf 3, jump 1
            nn.Conv2d(8, 12, 3, stride=2), nn.BatchNorm2d(12), nn.ReLU(),  # 13, rf 5, jump 2
            nn.MaxPool2d(2),                                              # 6, rf 7, jump 4
            nn.Dropout(0.1),
            nn.Conv2d(12, 10, 1),                                         # 6, rf 7, jump 4
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(10, 10)

    def forward(self, X):
        return self.head(self.body(X))


class FiveLogits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 5)

    def forward(self, X):
        return self.fc(X.flatten(1))


def test_a_model_of_ones_own_trains_saves_and_reloads(tmp_path):
    torch.manual_seed(0)
    model = OwnNet()
    result = train(SHORT, model=model, verbose=False)
    assert result.model is model and result.model_name == "OwnNet" and result.own_model
    from s4lib.model import build_model, count_parameters

    assert result.num_params == sum(p.numel() for p in model.parameters()) != count_parameters(build_model())
    assert result.to_dict()["config"]["model"] == "OwnNet" and result.to_dict()["own_model"]
    assert result.to_dict()["config"]["architecture"] is None  # the record cannot rebuild a class of one's own
    assert next(model.parameters()).device.type == "cpu"  # handed back where it came from
    path = save_atomic(result.checkpoint(), tmp_path / "own.pt")
    with pytest.raises(S4Error, match="a model of one's own"):
        model_from_checkpoint(load_checkpoint(path), path)
    reloaded = load_weights(OwnNet(), path)
    x = torch.zeros(3, 1, 28, 28)
    assert torch.allclose(reloaded(x), model.eval()(x), atol=1e-5)  # the trained copy is laid out channels_last
    checks = assignment_checks(model, result)
    assert {k for k, ok in checks.items() if not ok} == {"final-epoch test accuracy >= 99.4%"}  # 1 epoch, a subset


def test_its_tables_walk_padding_a_stride_2_conv_a_max_pool_and_a_1x1():
    rows = receptive_field_table(OwnNet())
    assert [(r.size_out, r.rf, r.jump) for r in rows] == [(28, 1, 1), (28, 3, 1), (13, 5, 2), (6, 7, 4), (6, 7, 4),
                                                         (1, 27, 24)]
    table = architecture_table(OwnNet())
    assert "conv3x3/2 8→12" in table and "conv3x3 pad 1 1→8" in table and "maxpool 2x2" in table
    assert f"**{sum(p.numel() for p in OwnNet().parameters()):,}**" in table


def test_a_model_with_the_wrong_output_is_refused_before_training(monkeypatch):
    import s4lib.train as train_module

    monkeypatch.setattr(train_module, "load_data", lambda *a, **k: pytest.fail("data loaded for a refused model"))
    with pytest.raises(S4Error, match=r"FiveLogits must map .* \(N, 10\); for N = 2 it returned \(2, 5\)"):
        train(SHORT, model=FiveLogits(), verbose=False)
    with pytest.raises(S4Error, match=r"fails on a batch of shape \(2, 1, 28, 28\): RuntimeError"):
        train(SHORT, model=nn.Sequential(nn.Linear(10, 10)), verbose=False)


def test_the_command_line_trains_a_model_from_a_file_and_refuses_a_bad_one(tmp_path, capsys):
    file = tmp_path / "my_net.py"
    file.write_text(Path(__file__).read_text().split("\n\n\nclass OwnNet", 1)[0].split('"""', 2)[2]
                    + "\n\nclass OwnNet" + Path(__file__).read_text().split("\n\n\nclass OwnNet", 1)[1].split(
                        "\n\n\ndef test_")[0])
    flags = ["--num-epochs", "1", "--train-subset", "2000", "--test-subset", "500", "--data-root", DATA]
    assert main(["train", "--model-file", f"{file}:OwnNet", *flags]) == 0
    out = capsys.readouterr().out
    assert "training OwnNet (" in out and "PASS  global average pooling" in out
    assert main(["train", "--model-file", f"{file}:FiveLogits", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "returned (2, 5)" in err
    assert main(["train", "--model-file", f"{file}:Missing", *flags]) == 2
    assert "defines no nn.Module class 'Missing'" in capsys.readouterr().err


def test_every_command_offers_the_presets_only():
    parser = build_parser()
    for command in ("train", "seeds"):
        sub = parser._subparsers._group_actions[0].choices[command]
        model = next(a for a in sub._actions if a.dest == "model")
        assert list(model.choices) == list(PRESETS), command
    with pytest.raises(SystemExit):
        parser.parse_args(["seeds", "--model", "micro-p2"])  # a record's network is re-made by rerun, not by name


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_trains_with_its_recipe_unless_a_flag_says_otherwise(name):
    config = config_from_args(build_parser().parse_args(["train", "--model", name]))
    assert config == TrainConfig.preset(name)
    for key, value in RECIPES[name].items():
        assert getattr(config, key) == value
    assert config_from_args(build_parser().parse_args(["train", "--model", name, "--num-epochs", "3"])).num_epochs == 3


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_model_of_ones_own_trains_with_the_recipe_that_recipe_names(name):
    from s4lib.cli import train_config

    args = build_parser().parse_args(["train", "--model-file", "my_net.py:MyNet", "--recipe", name, "--seed", "3"])
    assert train_config(args) == TrainConfig.preset(name, seed=3)
    assert train_config(build_parser().parse_args(["train", "--model-file", "my_net.py:MyNet"])) == TrainConfig()
    with pytest.raises(S4Error, match="--recipe gives a model of one's own"):
        train_config(build_parser().parse_args(["train", "--model", name, "--recipe", name]))
    with pytest.raises(S4Error, match="not both"):
        train_config(build_parser().parse_args(["train", "--model", name, "--model-file", "my_net.py:MyNet"]))
