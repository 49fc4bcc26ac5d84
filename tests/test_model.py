"""The CNN's size, parts and shapes, and the receptive-field calculator against hand-computed values."""
from dataclasses import replace

import pytest
import torch
from torch import nn

from s4lib.errors import S4Error
from s4lib.model import PRESETS, Architecture, build_model, count_parameters, layer_types
from s4lib.receptive_field import format_rf_table, receptive_field_table


@pytest.mark.parametrize("preset, limit", [("s4", 20_000), ("tiny", 8_000), ("micro-sep-5", 5_000), ("fast", 20_000)])
def test_model_is_small_and_has_the_required_parts(preset, limit):
    model = build_model(preset)
    assert count_parameters(model) < limit
    types = layer_types(model)
    assert {"BatchNorm2d", "Dropout", "AdaptiveAvgPool2d", "Linear"} <= types


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_maps_images_to_ten_logits(preset):
    model = build_model(preset)
    assert count_parameters(model) < 20_000
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert receptive_field_table(model)[-1].rf >= 28 - 2 * PRESETS[preset].crop  # the GAP sees all it is given


def test_the_ablations_change_only_what_they_name():
    from s4lib.lab.experiments import ABLATIONS

    def net(name):
        return build_model(ABLATIONS[name].overrides.get("architecture", PRESETS["s4"]))
    main = count_parameters(build_model("s4"))
    assert "BatchNorm2d" not in layer_types(net("no BN"))
    assert count_parameters(net("pool after 3")) == count_parameters(net("pool after 4")) == main
    pools = {name: [r.rf for r in receptive_field_table(net(name)) if r.kind.startswith("maxpool")][0]
             for name in ("baseline", "pool after 3", "pool after 4")}
    assert pools["baseline"] < pools["pool after 3"] < pools["pool after 4"]
    spatial = net("Dropout2d")
    assert count_parameters(spatial) == main
    assert "Dropout2d" in layer_types(spatial) and "Dropout" not in layer_types(spatial)


def test_an_architecture_is_checked_and_read_back_from_a_record_whole():
    arch = PRESETS["micro-sep-5"]
    assert Architecture.from_dict(arch.to_dict()) == arch
    with pytest.raises(S4Error, match="missing"):
        Architecture.from_dict({k: v for k, v in arch.to_dict().items() if k != "separable"})
    with pytest.raises(S4Error, match="dropout_at"):
        replace(arch, dropout_at="sometimes")
    with pytest.raises(S4Error, match="padded"):
        replace(arch, padded=5)
    # squeeze 0: the transition is the max-pool alone
    alone = build_model(replace(PRESETS["s4"], squeeze=0))
    assert [type(m).__name__ for m in alone.features.transition] == ["MaxPool2d"]
    assert alone(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_dropout2d_drops_whole_channels():
    spatial = replace(PRESETS["s4"], spatial_dropout=True)
    block = build_model(spatial, dropout=0.5).features.conv3.train()  # the first conv after the pool
    torch.manual_seed(0)
    out = block(torch.randn(4, 8, 12, 12))
    zero_maps = (out == 0).all(dim=(2, 3))  # a channel dropped is zero at every pixel
    zero_pixels = (out == 0).float().mean()
    assert zero_maps.any() and zero_pixels > 0.5  # half the channels dropped, plus ReLU's zeros


def test_parameter_count_matches_a_count_by_hand():
    a = PRESETS["s4"]
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
    from s4lib.model import Net

    plain = PRESETS["tiny"]
    padded = Net(replace(plain, padded=1))
    assert count_parameters(padded) == count_parameters(Net(plain))
    sizes = [r.size_out for r in receptive_field_table(padded)]
    assert sizes[:3] == [28, 28, 26]  # the image, conv1 keeps 28x28, conv2 does not
    assert padded(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(S4Error, match="padded"):
        replace(plain, padded=4)


def test_a_strided_first_conv_halves_the_map_like_the_max_pool_with_the_same_parameters():
    from s4lib.model import Net

    pooled = Architecture(block1=(12,), squeeze=0, block2=(20,) * 5, dropout_at="head")
    strided = Net(replace(pooled, downsample="stride"))
    assert count_parameters(strided) == count_parameters(Net(pooled))
    assert "MaxPool2d" not in layer_types(strided) and "MaxPool2d" in layer_types(Net(pooled))
    rows = receptive_field_table(strided)
    assert [r.size_out for r in rows[:3]] == [28, 13, 11]  # (28 - 3) // 2 + 1 = 13, as 26 pooled by 2
    assert [r.jump for r in rows[:3]] == [1, 2, 2]
    assert strided(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    squeezed = Net(replace(PRESETS["s4"], downsample="stride"))  # a 1x1 transition stays, without its max-pool
    assert "MaxPool2d" not in layer_types(squeezed)
    assert count_parameters(squeezed) == count_parameters(Net(PRESETS["s4"]))
    with pytest.raises(S4Error, match="downsample"):
        replace(pooled, downsample="avgpool")


def test_a_4x4_strided_conv_sees_the_window_of_a_3x3_conv_and_its_max_pool_at_a_quarter_of_the_positions():
    from s4lib.model import Net

    pooled = Architecture(block1=(12,), squeeze=0, block2=(20,) * 5, dropout_at="head")
    strided = Net(replace(pooled, downsample="stride", stride_kernel=4))
    conv = strided.features.conv1[0]
    assert conv.kernel_size == (4, 4) and conv.stride == (2, 2)
    assert count_parameters(strided) == count_parameters(Net(pooled)) + 12 * (16 - 9)  # 7 more weights a filter
    pooled_rows, rows = receptive_field_table(Net(pooled)), receptive_field_table(strided)
    # after the max-pool and after the 4x4 strided conv: the same 13x13 map, every position seeing 4x4 pixels
    assert (pooled_rows[2].size_out, pooled_rows[2].rf, pooled_rows[2].jump) == (13, 4, 2)
    assert (rows[1].size_out, rows[1].rf, rows[1].jump) == (13, 4, 2)
    assert [r.rf for r in rows[-3:]] == [r.rf for r in pooled_rows[-3:]]  # and the same field at the end
    assert strided(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(S4Error, match="stride_kernel"):
        replace(pooled, stride_kernel=4)  # the max-pool's conv stays 3x3
    with pytest.raises(S4Error, match="stride_kernel"):
        replace(pooled, downsample="stride", stride_kernel=0)


def test_a_crop_cuts_the_border_before_the_first_conv_and_leaves_the_receptive_fields_as_they_were():
    from s4lib.model import Net

    whole = Architecture(block1=(12,), squeeze=0, block2=(20,) * 4, dropout_at="head")
    cropped = Net(replace(whole, crop=2))
    assert count_parameters(cropped) == count_parameters(Net(whole))  # a crop has no weights
    X = torch.randn(2, 1, 28, 28)
    Y = X.clone()
    Y[..., :2, :] = Y[..., -2:, :] = Y[..., :, :2] = Y[..., :, -2:] = 5.0  # only the 2-pixel border differs
    cropped.eval()
    assert torch.equal(cropped(X), cropped(Y))  # the border is never read
    assert not torch.equal(Net(whole).eval()(X), Net(whole).eval()(Y))
    assert torch.equal(cropped.features.crop(X), X[..., 2:26, 2:26])
    rows, whole_rows = receptive_field_table(cropped), receptive_field_table(Net(whole))
    assert (rows[1].kind, rows[1].size_out, rows[1].rf) == ("crop 2 px", 24, 1)
    # 24 -> 22 -> max-pool 11 -> 9, 7, 5, 3, against 26 -> 13 -> 11, 9, 7, 5 uncropped; each field the same
    assert [r.size_out for r in rows[2:-1]] == [22, 11, 9, 7, 5, 3]
    assert [r.size_out for r in whole_rows[1:-1]] == [26, 13, 11, 9, 7, 5]
    assert [r.rf for r in rows[2:]] == [r.rf for r in whole_rows[1:-1]] + [24]  # the GAP's: the whole crop
    assert rows[2].start == whole_rows[1].start + 2  # the first conv's first output sits 2 pixels further in
    for bad in (-1, 7, 1.5):
        with pytest.raises(S4Error, match="crop"):
            replace(whole, crop=bad)


def test_a_separable_preset_filters_each_channel_then_mixes_and_counts_by_hand():
    a = PRESETS["micro-sep-5"]
    model = build_model(a)
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
    from s4lib.model import Net

    full = Net(replace(PRESETS["micro-sep-5"], separable=False))
    assert receptive_field_table(build_model("micro-sep-5"))[-1].rf == receptive_field_table(full)[-1].rf
    assert count_parameters(build_model("micro-sep-5")) < count_parameters(full) / 3


def test_fast_is_a_design_of_its_own_that_meets_the_assignment_and_is_scored_once():
    from s4lib.train import TrainConfig

    fast = build_model("fast")
    assert count_parameters(fast) < 20_000
    assert {"BatchNorm2d", "Dropout", "AdaptiveAvgPool2d", "Linear"} <= layer_types(fast)
    assert [type(m).__name__ for m in fast.features.transition] == ["MaxPool2d"]  # right after the first conv
    assert isinstance(fast.features[-1], nn.Dropout)  # on the averaged features only
    assert sum(isinstance(m, nn.Dropout) for m in fast.modules()) == 1
    config = TrainConfig.preset("fast")
    assert config.num_epochs < 20 and config.eval_every == 0 and config.num_epochs < TrainConfig.preset("s4").num_epochs


def gradients_on(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("padded", [False, True])
def test_batchnorm_after_the_unpadded_first_conv_undoes_a_shift_and_scale_of_the_pixels(padded):
    """The README's image normalization: raw and standardised pixels give the main model the same gradients when
    BatchNorm's epsilon is (almost) 0; a padded first conv adds the shift unevenly (zeros at the edge): they differ."""
    torch.manual_seed(0)
    raw = torch.rand(16, 1, 28, 28, dtype=torch.float64) * (torch.rand(16, 1, 28, 28) > 0.8)  # never negative
    standardised = (raw - 0.1307) / 0.3081
    y = torch.randint(0, 10, (16,))
    model = build_model(PRESETS["s4"], dropout=0.0).double().train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-30  # torch asks for one above 0; this one is below any variance here
    if padded:
        model.features.conv1[0].padding = (1, 1)
    same = [torch.allclose(a, b, rtol=1e-7, atol=1e-12)
            for a, b in zip(gradients_on(model, raw, y), gradients_on(model, standardised, y))]
    assert all(same) != padded
