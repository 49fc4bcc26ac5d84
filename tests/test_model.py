"""The CNN's size, parts and shapes, and the receptive-field calculator against hand-computed values."""
import pytest
import torch
from torch import nn

from s4lib.errors import S4Error
from s4lib.model import architecture, build_model, count_parameters, known_models, layer_types
from s4lib.receptive_field import format_rf_table, receptive_field_table


@pytest.mark.parametrize("preset, limit", [("s4", 20_000), ("tiny", 8_000), ("micro", 5_000), ("micro-sep", 5_000)])
def test_model_is_small_and_has_the_required_parts(preset, limit):
    model = build_model(preset)
    assert count_parameters(model) < limit
    types = layer_types(model)
    assert {"BatchNorm2d", "Dropout", "AdaptiveAvgPool2d", "Linear"} <= types


@pytest.mark.parametrize("preset", known_models())
def test_every_preset_maps_images_to_ten_logits(preset):
    model = build_model(preset)
    assert count_parameters(model) < 20_000
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert receptive_field_table(model)[-1].rf >= 28


def test_ablation_presets_change_only_what_they_name():
    assert "BatchNorm2d" not in layer_types(build_model("s4-no-bn"))
    assert count_parameters(build_model("s4-pool-early")) == count_parameters(build_model("s4"))
    assert count_parameters(build_model("s4-pool-late")) == count_parameters(build_model("s4"))
    pools = {p: [r.rf for r in receptive_field_table(build_model(p)) if r.kind.startswith("maxpool")][0]
             for p in ("s4", "s4-pool-3", "s4-pool-late")}
    assert pools["s4"] < pools["s4-pool-3"] < pools["s4-pool-late"]
    assert str(architecture("s4-pool-early")) == str(architecture("s4"))  # the speed search's name for the main layout
    spatial = build_model("s4-dropout2d")
    assert count_parameters(spatial) == count_parameters(build_model("s4"))
    assert "Dropout2d" in layer_types(spatial) and "Dropout" not in layer_types(spatial)


def test_dropout2d_drops_whole_channels():
    block = build_model("s4-dropout2d", dropout=0.5).features.conv3.train()  # the first conv after the pool
    torch.manual_seed(0)
    out = block(torch.randn(4, 8, 12, 12))
    zero_maps = (out == 0).all(dim=(2, 3))  # a channel dropped is zero at every pixel
    zero_pixels = (out == 0).float().mean()
    assert zero_maps.any() and zero_pixels > 0.5  # half the channels dropped, plus ReLU's zeros


def test_parameter_count_matches_a_count_by_hand():
    a = architecture("s4")
    widths = [1, *a.block1]
    convs = sum(9 * c_in * c_out for c_in, c_out in zip(widths, widths[1:]))
    convs += a.block1[-1] * a.squeeze
    widths = [a.squeeze, *a.block2]
    convs += sum(9 * c_in * c_out for c_in, c_out in zip(widths, widths[1:]))
    bn = 2 * (sum(a.block1) + a.squeeze + sum(a.block2))
    fc = a.block2[-1] * 10 + 10
    assert count_parameters(build_model("s4")) == convs + bn + fc


def test_gap_sees_the_whole_image():
    rows = receptive_field_table(build_model("s4"))
    assert rows[-1].kind == "GAP" and rows[-1].size_out == 1 and rows[-1].rf >= 28


def test_receptive_field_of_a_hand_computed_network():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 1),
                        nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 8, 5, stride=2), nn.AdaptiveAvgPool2d(1))
    got = [(r.size_out, r.rf, r.jump) for r in receptive_field_table(net, input_size=28)]
    # by hand: r += (k-1)*j; j *= s; n = (n + 2p - k)//s + 1
    assert got == [(28, 1, 1), (26, 3, 1), (24, 5, 1), (12, 6, 2), (12, 6, 2), (12, 10, 2), (4, 18, 4), (1, 30, 16)]
    assert format_rf_table(receptive_field_table(net)).count("\n") == 1 + 8


@pytest.mark.parametrize("preset, dropout", [("nope", 0.05), ("s4", 1.0), ("s4", -0.1)])
def test_bad_model_arguments_are_refused(preset, dropout):
    with pytest.raises(S4Error):
        build_model(preset, dropout)


def test_padding_keeps_the_size_and_adds_no_parameters():
    from dataclasses import replace

    from s4lib.model import Net

    plain = architecture("micro-ap")
    padded = Net(replace(plain, padded=1))
    assert count_parameters(padded) == count_parameters(Net(plain))
    sizes = [r.size_out for r in receptive_field_table(padded)]
    assert sizes[:3] == [28, 28, 26]  # the image, conv1 keeps 28x28, conv2 does not
    assert padded(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(S4Error, match="padded"):
        Net(replace(plain, padded=4))


@pytest.mark.parametrize("preset", ["micro-sep", "micro-sep-5"])
def test_separable_presets_filter_each_channel_then_mix_and_count_by_hand(preset):
    a = architecture(preset)
    model = build_model(preset)
    assert count_parameters(model) < 5_000
    assert {"BatchNorm2d", "Dropout", "AdaptiveAvgPool2d", "Linear"} <= layer_types(model)
    after_pool = [m for m in model.features[len(a.block1) + 1:].modules() if isinstance(m, nn.Conv2d)]
    depthwise, pointwise = after_pool[0::2], after_pool[1::2]
    assert all(m.kernel_size == (3, 3) and m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert all(m.kernel_size == (1, 1) and m.groups == 1 for m in pointwise)
    widths = [1, *a.block1]
    convs = sum(9 * c_in * c_out for c_in, c_out in zip(widths, widths[1:])) + a.block1[-1] * a.squeeze
    widths = [a.squeeze, *a.block2]
    convs += sum(9 * c_in + c_in * c_out for c_in, c_out in zip(widths, widths[1:]))  # 9C + CC', not 9CC'
    bn = 2 * (sum(a.block1) + a.squeeze + sum(a.block2))
    assert count_parameters(model) == convs + bn + a.block2[-1] * 10 + 10


def test_separable_convs_see_as_far_as_full_ones():
    from dataclasses import replace

    from s4lib.model import Net

    full = Net(replace(architecture("micro-sep"), separable=False))
    assert receptive_field_table(build_model("micro-sep"))[-1].rf == receptive_field_table(full)[-1].rf
    assert count_parameters(build_model("micro-sep")) < count_parameters(full) / 3


def test_fast_is_the_main_model_trained_in_fewer_epochs():
    from s4lib.train import TrainConfig

    assert architecture("fast") == architecture("s4")
    torch.manual_seed(0)
    fast = build_model("fast")
    torch.manual_seed(0)
    main = build_model("s4")
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), main.state_dict().values()))
    assert TrainConfig.preset("fast").num_epochs < TrainConfig.preset("s4").num_epochs
