"""The seeds and ablation experiments record every run and summarise honestly."""
import json
from dataclasses import replace
from pathlib import Path

from s4lib.experiments import run_seeds, seeds_markdown, summarise
from s4lib.train import TrainConfig

DATA = str(Path(__file__).resolve().parents[1] / "data")


def test_seeds_record_every_seed_and_summary(tmp_path):
    config = TrainConfig(num_epochs=1, batch_size=128, train_subset=1000, test_subset=500, data_root=DATA)
    out = tmp_path / "seeds.json"
    record = run_seeds(config, seeds=(3, 4), out=out)
    on_disk = json.loads(out.read_text())
    assert [r["seed"] for r in on_disk["runs"]] == [3, 4]
    assert on_disk["summary"] == record["summary"]
    finals = [r["final_test_acc"] for r in record["runs"]]
    assert record["summary"]["min"] == min(finals)
    assert record["runs"][0]["history"] != record["runs"][1]["history"]  # seeds differ
    table = seeds_markdown([record])
    assert table.count("\n") == 1 + 2 + 1 + 2
    assert "min / mean" in table
    assert "Made by `python -m s4lib seeds --model s4 --seeds 3 4` on" in table


def test_summary_flags_a_seed_below_the_goal():
    s = summarise([dict(final_test_acc=0.995), dict(final_test_acc=0.9939)])
    assert s["min"] == 0.9939 and not s["all_at_least_99_4"]
    assert summarise([dict(final_test_acc=0.994)])["all_at_least_99_4"]


def test_ablations_record_each_variant(tmp_path):
    from s4lib.experiments import ablations_markdown, run_ablations

    base = TrainConfig(num_epochs=1, batch_size=128, train_subset=1000, test_subset=500, data_root=DATA)
    record = run_ablations(base, names=("baseline", "no BN", "dropout 0"), out=tmp_path / "a.json")
    assert [r["name"] for r in record["runs"]] == ["baseline", "no BN", "dropout 0"]
    assert record["runs"][1]["num_params"] < record["runs"][0]["num_params"]
    assert json.loads((tmp_path / "a.json").read_text())["runs"] == record["runs"]
    table = ablations_markdown(record)
    assert table.count("\n") == 1 + 3 + 2
    assert "| dropout 0 |" in table and "Made by `python -m s4lib ablations`" in table
    from s4lib.plots import plot_ablations

    plot_ablations(record, tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_unknown_ablation_is_refused(tmp_path):
    import pytest

    from s4lib.errors import S4Error
    from s4lib.experiments import run_ablations

    with pytest.raises(S4Error, match="unknown ablation"):
        run_ablations(TrainConfig(), names=("baseline", "bigger"), out=tmp_path / "a.json")


def test_rerunning_some_ablations_keeps_the_others(tmp_path):
    from s4lib.experiments import ablation_group, run_ablations

    base = TrainConfig(num_epochs=1, batch_size=128, train_subset=1000, test_subset=200, data_root=DATA)
    out = tmp_path / "a.json"
    first = run_ablations(base, names=("baseline", "dropout 0"), out=out)
    again = run_ablations(base, names=("dropout 0",), out=out)
    assert [r["name"] for r in again["runs"]] == ["baseline", "dropout 0"]
    assert again["runs"][0] == first["runs"][0]  # kept as it was
    assert again["runs"][1]["final_test_acc"] == first["runs"][1]["final_test_acc"]  # seeded: re-run repeats itself
    other = run_ablations(replace(base, lr=0.05), names=("dropout 0",), out=out)
    assert [r["name"] for r in other["runs"]] == ["dropout 0"]  # another base: nothing kept
    assert [ablation_group(n) for n in ("no BN", "no BN, lr 0.02", "dropout 0.1", "Dropout2d", "no augmentation")] \
        == ["bn", "bn", "dropout", "dropout", "augmentation"]
