"""The benchmark measures what it names, in fresh processes, and reports ratios from the same invocation."""
from pathlib import Path

import pytest

from s4lib.lab.benchmark import VARIANTS, benchmark
from s4lib.lab.report import benchmark_markdown
from s4lib.train import TrainConfig

DATA = str(Path(__file__).resolve().parents[1] / "data")


@pytest.mark.slow
def test_benchmark_records_every_variant_and_ratios():
    config = TrainConfig(batch_size=64, train_subset=128, test_subset=200, data_root=DATA, device="cpu")
    record = benchmark(config, repeats=1, names=("v1", "one_thread", "channels_last"))  # seconds, not minutes
    assert [r["variant"] for r in record["runs"]] == ["v1", "one_thread", "channels_last"]
    assert [r["threads"] for r in record["runs"]][1] == 1 and record["runs"][1]["config"]["threads"] == 1
    # the subsets are honoured: 128 images are 2 batches of 64, not a full epoch of 938
    assert [(r["train_batches"], r["test_images"]) for r in record["runs"]] == [(2, 200)] * 3
    for name in ("v1", "one_thread", "channels_last"):
        m = record["median"][name]
        assert m["train_s"] > 0 and m["test_s"] > 0 and m["peak_rss_mib"] > 100
    table = benchmark_markdown(record)
    assert table.count("\n") == 2 + 3 + 1
    ratio = record["median"]["v1"]["train_s"] / record["median"]["one_thread"]["train_s"]
    assert f"| {VARIANTS['one_thread'][0]} |" in table and f"{ratio:.2f}x" in table
    assert "faster than v1" in table and "% of peak" in table and "Made by `python -m s4lib benchmark`" in table
    assert record["peak_gflops"] > 1 and set(record["profiles"]) == {"v1"}


def test_channels_last_layout_computes_the_same_function():
    import torch

    from s4lib.lab.benchmark import prepare_model

    cpu = torch.device("cpu")
    torch.manual_seed(0)
    plain = prepare_model(TrainConfig(memory_format="nchw"), cpu).eval()
    torch.manual_seed(0)
    nhwc = prepare_model(TrainConfig(memory_format="channels_last"), cpu).eval()
    assert nhwc.features.conv2[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.features.conv2[0].weight.is_contiguous(memory_format=torch.channels_last)
    X = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(nhwc(X), plain(X), rtol=1e-4, atol=1e-5)


def test_flops_are_counted_from_the_layers():
    from s4lib.lab.benchmark import V1
    from s4lib.lab.flops import multiply_adds, training_flops
    from s4lib.model import build_model

    model = build_model(V1)
    # positions x output channels x input channels x kernel area, per convolution; then the Linear layer, 16 x 10
    by_hand = (26 * 26 * 8 * 1 * 9 + 24 * 24 * 16 * 8 * 9 + 22 * 22 * 16 * 16 * 9 + 11 * 11 * 8 * 16
               + 9 * 9 * 16 * 8 * 9 + 7 * 7 * 16 * 16 * 9 + 5 * 5 * 16 * 16 * 9 + 3 * 3 * 16 * 16 * 9 + 16 * 10)
    assert multiply_adds(model) == by_hand
    assert training_flops(model, 10) == 2 * 3 * by_hand * 10


def test_profile_names_the_operators_and_sees_dropout_only_when_it_is_on():
    from s4lib.lab.benchmark import profile_steps

    config = TrainConfig(train_subset=640, data_root=DATA, device="cpu")
    ops = profile_steps(config, steps=2, top=100)
    shares = [share for _, share in ops]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-9
    assert any("bernoulli" in name for name, _ in ops)
    assert not any("bernoulli" in name for name, _ in profile_steps(
        TrainConfig(train_subset=640, data_root=DATA, dropout=0.0, device="cpu"), steps=2, top=100))


@pytest.mark.slow
def test_time_to_accuracy_times_whole_runs_and_levers_with_ratios_of_one_invocation():
    from s4lib.lab.benchmark import LEVERS, WHOLE_RUNS, time_to_accuracy
    from s4lib.lab.report import time_to_accuracy_markdown, time_to_accuracy_values

    shrink = dict(num_epochs=1, train_subset=1024, test_subset=200)  # seconds, not minutes
    record = time_to_accuracy(DATA, repeats=1, shrink=shrink)
    assert [r["row"] for r in record["runs"]] == list(WHOLE_RUNS)
    assert [r["lever"] for r in record["lever_runs"]] == list(LEVERS)
    # a whole run trained every epoch its config asks for and was scored: accuracy is a fraction of 200 images
    for r in record["runs"]:
        assert r["epochs"] == 1 and r["run_s"] > 0 and round(r["final_test_acc"] * 200) == r["final_test_acc"] * 200
    m = record["median"]
    assert record["ratio"] == m["main"]["run_s"] / m["fast"]["run_s"]
    # a lever's seconds are scaled from the images it trained on to a 60,000-image epoch
    assert [r["train_batches"] for r in record["lever_runs"]] == [8, 8, 4, 2]  # batch 128, 128, 256, 512
    assert [r["precision"] for r in record["lever_runs"]] == ["fp32", "bf16", "fp32", "fp32"]
    for r in record["lever_runs"]:
        assert r["train_s_per_epoch"] == r["train_s"] * 60_000 / 1024
    table = time_to_accuracy_markdown(record)
    assert f"{m['main']['run_s'] / m['fast']['run_s']:.2f}x" in table and "1.00x" in table
    assert "Made by `python -m s4lib benchmark --time-to-accuracy`" in table and "1,024 training images" in table
    values = time_to_accuracy_values(record)
    assert values["ratio"] == f"{record['ratio']:.2f}x" and values["fp32:x"] == "1.00x"
    assert values["fast:preset:row"] == "`fast`"  # the preset's row
    assert values["pool_first_20_bf16_cl:vs:pool_first_20"] and values["fast:vs:pool_first_20"]  # and its comparisons
    assert record["auto_precision"] == ("bf16" if record["native_bf16"] else "fp32")


def test_the_profile_times_every_phase_and_every_layer_and_counts_the_arithmetic():
    from s4lib.lab.profile import profile_design
    from s4lib.lab.report import layer_kinds, profile_table

    config = TrainConfig.preset("fast", train_subset=640, test_subset=200, data_root=DATA, device="cpu")
    p = profile_design(config, steps=3)
    assert set(p["step_ms"]) == {"batch", "forward", "loss", "backward", "optimizer"}
    assert all(v > 0 for v in p["step_ms"].values())
    kinds = layer_kinds(p)
    assert {"conv", "BatchNorm", "ReLU", "max-pool", "dropout", "GAP", "Linear"} <= set(kinds)
    assert all(f > 0 and b > 0 for k, (f, b) in kinds.items() if k in ("conv", "BatchNorm"))  # backward timed too
    from s4lib.lab.flops import multiply_adds
    from s4lib.model import build_model, count_parameters

    assert p["macs_per_image"] == multiply_adds(build_model(config.architecture))
    assert p["steps_per_epoch"] == 5 and p["epoch_s"] == pytest.approx(5 * p["plain_step_ms"] / 1e3)  # no hooks
    assert p["epoch_s"] != pytest.approx(5 * sum(p["step_ms"].values()) / 1e3, rel=1e-9)
    assert p["num_params"] == count_parameters(build_model(config.architecture)) < 20_000
    record = dict(command="c", machine="m", date="d", peak_gflops=100.0, repeats=1, median_round=1,
                  designs={"main": p, "fast": p}, rounds=[{"main": p, "fast": p}])
    table = profile_table(record)
    assert "| of which conv, forward + backward |" in table and "% of the matmul peak" in table
    assert f"| a whole step without the hooks (ms) | {p['plain_step_ms']:.1f} |" in table


def test_the_profile_table_is_one_round_for_every_design_the_median_by_the_ratio(monkeypatch):
    import s4lib.lab.benchmark as benchmark
    from s4lib.lab.profile import profile_record
    from s4lib.lab.report import profile_values

    steps = iter([30.0, 10.0, 50.0, 20.0, 40.0, 20.0])  # main, fast in each of 3 rounds: ratios 3, 2.5, 2

    def child(config, task="measure", **kw):
        if task == "peak":
            return dict(gflops=100.0)
        ms = next(steps)
        return dict(plain_step_ms=ms, epoch_s=ms / 10, batch_size=128, eval_s=1.0, achieved_gflops=1.0,
                    step_ms={"batch": 1.0}, layers=[])
    monkeypatch.setattr(benchmark, "run_child", child)
    designs = {"main": TrainConfig.preset("s4"), "fast": TrainConfig.preset("fast")}
    record = profile_record(designs, "c", repeats=3)
    # each design's own median step (40 and 20 ms) would mix rounds 3 and 2 and give 2x
    assert record["median_round"] == 2 and len(record["rounds"]) == 3
    assert record["designs"]["main"]["plain_step_ms"] == 50.0 and record["designs"]["fast"]["plain_step_ms"] == 20.0
    values = profile_values(record)
    assert values["ratio"] == "2.5x" and values["ratios"] == "3.0x, 2.5x, 2.0x"
