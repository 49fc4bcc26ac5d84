"""The seeds experiment records every seed and summarises honestly."""
import json
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
    assert table.count("\n") == 1 + 2 + 1
    assert "min / mean" in table


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
    assert ablations_markdown(record).count("\n") == 1 + 3


def test_unknown_ablation_is_refused(tmp_path):
    import pytest

    from s4lib.errors import S4Error
    from s4lib.experiments import run_ablations

    with pytest.raises(S4Error, match="unknown ablation"):
        run_ablations(TrainConfig(), names=("baseline", "bigger"), out=tmp_path / "a.json")
