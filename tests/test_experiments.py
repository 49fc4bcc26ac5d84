"""The seeds and ablation experiments record every run and summarise honestly."""
import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

import s4lib.lab.experiments as experiments
import s4lib.lab.placement as placement
from s4lib.lab.experiments import run_entry, run_seeds, seeds_markdown, summarise
from s4lib.results import EpochLog, TrainResult
from s4lib.train import TrainConfig

DATA = str(Path(__file__).resolve().parents[1] / "data")


def test_seeds_record_every_seed_and_summary(tmp_path):
    config = TrainConfig(num_epochs=1, batch_size=128, train_subset=1000, test_subset=500, data_root=DATA)
    out = tmp_path / "seeds.json"
    record = run_seeds(config, seeds=(3, 4), out=out, command="python -m s4lib seeds --seeds 3 4", placement="in_turn")
    on_disk = json.loads(out.read_text())
    assert [r["seed"] for r in on_disk["runs"]] == [3, 4]
    assert on_disk["summary"] == record["summary"]
    finals = [r["final_test_acc"] for r in record["runs"]]
    assert record["summary"]["min"] == min(finals)
    assert record["runs"][0]["history"] != record["runs"][1]["history"]  # seeds differ
    table = seeds_markdown([record])
    assert table.count("\n") == 1 + 2 + 1 + 2
    assert "min / mean" in table
    assert "| 1 | 3 |" in table and "| 1 | 4 |" in table  # epochs, then seed: a record of another length says so
    assert "Made by `python -m s4lib seeds --seeds 3 4` on" in table
    assert not (tmp_path / "seeds.partial.json").exists()  # progress file gone once the record is complete


def test_summary_flags_a_seed_below_the_goal():
    s = summarise([dict(final_test_acc=0.995), dict(final_test_acc=0.9939)])
    assert s["min"] == 0.9939 and not s["all_at_least_99_4"]
    assert summarise([dict(final_test_acc=0.994)])["all_at_least_99_4"]


def test_ablations_record_each_variant(tmp_path):
    from s4lib.lab.experiments import ablations_markdown, run_ablations

    base = TrainConfig(num_epochs=1, batch_size=128, train_subset=1000, test_subset=500, data_root=DATA)
    record = run_ablations(base, names=("baseline", "no BN", "dropout 0"), seeds=(1,), out=tmp_path / "a.json",
                           command="python -m s4lib ablations --only baseline 'no BN' 'dropout 0'",
                           placement="in_turn")
    # the baseline runs on every BASELINE_SEED: its spread is the noise the other rows are judged against
    assert [(r["name"], r["seed"]) for r in record["runs"]] == [("baseline", k) for k in experiments.BASELINE_SEEDS] \
        + [("no BN", 1), ("dropout 0", 1)]
    assert all(r["config"]["validation"] == experiments.VALIDATION_IMAGES for r in record["runs"])  # never the test set
    assert record["runs"][-2]["config"]["architecture"]["batchnorm"] is False
    assert record["runs"][-2]["num_params"] < record["runs"][0]["num_params"]
    assert json.loads((tmp_path / "a.json").read_text())["runs"] == record["runs"]
    table = ablations_markdown(record)
    assert table.count("\n") == 1 + 3 + 2
    assert "| dropout 0 |" in table and "Made by `python -m s4lib ablations --only baseline" in table
    accs = [r["final_test_acc"] for r in record["runs"][:5]]
    assert f"({100 * min(accs):.2f}–{100 * max(accs):.2f})" in table  # the baseline's range over its seeds
    assert all(len(r["first_losses"]) == min(8, 100) for r in record["runs"])  # 1000 images = 8 steps of 128
    from s4lib.lab.pictures import plot_ablations

    plot_ablations(record, tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_unknown_ablation_is_refused(tmp_path):
    import pytest

    from s4lib.errors import S4Error
    from s4lib.lab.experiments import run_ablations

    with pytest.raises(S4Error, match="unknown ablation"):
        run_ablations(TrainConfig(), names=("baseline", "bigger"), out=tmp_path / "a.json")


def test_another_experiment_never_replaces_a_record_without_force(tmp_path, monkeypatch):
    from s4lib.errors import S4Error
    from s4lib.lab.experiments import ablation_group, run_ablations

    monkeypatch.setattr(placement, "train", lambda config: hand_made_result(config, [0.5, 0.9]))
    base = TrainConfig(num_epochs=2, data_root=DATA)
    out = tmp_path / "a.json"
    monkeypatch.setattr(experiments, "ABLATIONS_RECORD", out)  # stands for the committed record
    run_ablations(base, names=("baseline", "dropout 0"))
    before = out.read_bytes()
    with pytest.raises(S4Error, match="holds another experiment"):
        run_ablations(base, names=("dropout 0",))
    with pytest.raises(S4Error, match="holds another experiment"):
        run_ablations(replace(base, lr=0.05), names=("baseline", "dropout 0"))
    assert out.read_bytes() == before
    run_ablations(base, names=("baseline", "dropout 0"))  # the same experiment may re-make its record
    before = out.read_bytes()  # re-made: its time of making may have moved on by a second
    elsewhere = run_ablations(base, names=("dropout 0",), out=tmp_path / "b.json")
    assert [r["name"] for r in elsewhere["runs"]] == ["dropout 0"] * 3 and out.read_bytes() == before
    forced = run_ablations(base, names=("dropout 0",), force=True)
    assert [r["name"] for r in forced["runs"]] == ["dropout 0"] * 3  # holds exactly what this call ran
    assert [ablation_group(n) for n in ("no BN", "no BN, lr 0.02", "dropout 0.1", "Dropout2d", "no augmentation")] \
        == ["bn", "bn", "dropout", "dropout", "augmentation"]


def test_an_interrupted_experiment_keeps_its_finished_runs_beside_an_untouched_record(tmp_path, monkeypatch):
    out = tmp_path / "seeds.json"
    out.write_text('{"old": "record"}')

    def stop_at_seed_2(config):
        result = hand_made_result(config, [0.5, 0.9])
        result.interrupted = config.seed == 2
        return result

    monkeypatch.setattr(placement, "train", stop_at_seed_2)
    record = run_seeds(TrainConfig(data_root=DATA), seeds=(1, 2, 3), out=out)
    assert record["incomplete"] and [r["seed"] for r in record["runs"]] == [1]
    assert out.read_text() == '{"old": "record"}'
    assert [r["seed"] for r in json.loads((tmp_path / "seeds.partial.json").read_text())["runs"]] == [1]


def hand_made_result(config: TrainConfig, test_accs: list[float]) -> TrainResult:
    """A TrainResult with the given per-epoch test accuracies (and matching other numbers)."""
    history = [EpochLog(epoch=i + 1, lr=0.01, train_loss=1 - a, train_acc=a - 0.01, test_loss=1 - a,
                        test_acc=a, seconds=1.0, test_seconds=0.5) for i, a in enumerate(test_accs)]
    return TrainResult(config, num_params=1234, history=history)


def test_records_report_the_last_epoch_not_the_best(tmp_path, monkeypatch):
    accs = {1: [0.5, 0.99, 0.97, 0.98], 2: [0.6, 0.995, 0.96, 0.97]}  # the best epoch is the 2nd, not the last
    entry = run_entry(hand_made_result(TrainConfig(), accs[1]))
    assert entry["final_test_acc"] == 0.98 and entry["final_test_loss"] == pytest.approx(0.02)
    assert entry["final_train_acc"] == pytest.approx(0.97)
    assert entry["last3_test_acc"] == [0.99, 0.97, 0.98]  # the last three in epoch order, not the top three
    monkeypatch.setattr(placement, "train", lambda config: hand_made_result(config, accs[config.seed]))
    record = run_seeds(TrainConfig(), seeds=(1, 2), out=tmp_path / "seeds.json")
    assert [r["final_test_acc"] for r in record["runs"]] == [0.98, 0.97]
    assert record["summary"]["min"] == 0.97 and record["summary"]["mean"] == pytest.approx(0.975)
    assert "| 98.00% | 99.00, 97.00, 98.00 |" in seeds_markdown([record])


def test_a_variant_is_beyond_the_noise_only_outside_the_baselines_range(tmp_path):
    from s4lib.checkpoint import config_record
    from s4lib.lab.experiments import ablations_markdown
    from s4lib.lab.pictures import plot_first_steps

    def run(name, seed, acc):
        return dict(name=name, what=name, seed=seed, num_params=1, final_test_acc=acc, final_train_check_acc=acc,
                    epoch_seconds=1.0, first_losses=[2.3 - k / 100 for k in range(100)],
                    config=config_record(TrainConfig(num_epochs=5, validation=10_000, seed=seed)))
    record = dict(command="c", machine="m", started="2026-11-26T00:00:00",
                  runs=[run("baseline", 1, 0.990), run("baseline", 2, 0.992), run("dropout 0", 1, 0.991),
                        run("lr 0.2", 1, 0.995), run("lr 0.02", 1, 0.980)])
    rows = {line.split(" | ")[0].strip("| "): line for line in ablations_markdown(record).splitlines()}
    assert "99.10% (99.00–99.20)" in rows["baseline"]
    assert "| no |" in rows["dropout 0"] and "| higher |" in rows["lr 0.2"] and "| lower |" in rows["lr 0.02"]
    plot_first_steps(record, names=("baseline", "lr 0.02"), path=tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_machine_names_torch_threads_only_when_not_one_per_core(monkeypatch):
    import os

    import torch

    from s4lib.lab.records import machine

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert machine().startswith("4 CPU cores, ")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert machine().startswith("4 CPU cores, 1 torch thread, ")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert machine().startswith("4 CPU cores, 2 torch threads, ")


def test_a_seeds_table_names_every_setting_that_differs_from_the_models_recipe():
    config = dict(asdict(TrainConfig.preset("micro-sep-5", seed=3)))
    assert experiments.model_label(config) == "micro-sep-5"  # epochs and seed have their own columns
    config |= dict(max_rotation_deg=5.0, max_shift_px=1.0, lr=TrainConfig().lr * 2)
    assert experiments.model_label(config) == f"micro-sep-5 (lr {TrainConfig().lr * 2:g}, rotation ±5°, shift ±1 px)"
    # a preset is named by what differs from its recipe; a network that is no preset, by what differs from the defaults
    assert experiments.model_label(asdict(TrainConfig.preset("tiny"))) == "tiny"
    assert experiments.model_label(asdict(TrainConfig.preset("tiny", lr=0.4, dropout=0.1))) == \
        "tiny (lr 0.4, dropout 0.1)"
    other = asdict(TrainConfig(model="wide", architecture=TrainConfig.preset("tiny").architecture, lr=0.1))
    assert experiments.model_label(other) == "wide (lr 0.1)"


def test_a_run_whose_loss_diverges_is_recorded_as_such_and_the_experiment_goes_on(tmp_path, monkeypatch):
    def diverge_at_seed_2(config):
        result = hand_made_result(config, [0.5, 0.9])
        if config.seed == 2:
            result.history, result.diverged = result.history[:1], "the training loss became nan at step 7 of epoch 2/2"
        return result

    monkeypatch.setattr(placement, "train", diverge_at_seed_2)
    record = run_seeds(TrainConfig(data_root=DATA), seeds=(1, 2, 3), out=tmp_path / "s.json")
    assert [r["seed"] for r in record["runs"]] == [1, 2, 3] and not record.get("incomplete")
    assert record["runs"][1]["final_test_acc"] is None and "step 7" in record["runs"][1]["diverged"]
    assert len(record["runs"][1]["history"]) == 1  # the epoch it finished is kept, never reported as final
    assert experiments.mean_and_range([0.99, None, 0.98]) == "98.50% (98.00–99.00); diverged on 1 of 3 seeds"
    assert experiments.mean_and_range([None, None]) == "diverged on 2 of 2 seeds"


def test_an_interrupted_experiment_resumes_with_the_runs_it_finished(tmp_path, monkeypatch):
    trained = []

    def stop_at_seed_3_once(config):
        trained.append(config.seed)
        result = hand_made_result(config, [0.5, 0.9])
        result.interrupted = config.seed == 3 and trained.count(3) == 1
        return result

    monkeypatch.setattr(placement, "train", stop_at_seed_3_once)
    out = tmp_path / "s.json"
    assert run_seeds(TrainConfig(data_root=DATA), seeds=(1, 2, 3), out=out)["incomplete"]
    record = run_seeds(TrainConfig(data_root=DATA), seeds=(1, 2, 3), out=out)
    assert trained == [1, 2, 3, 3]  # seeds 1 and 2 came from the partial file, not from training again
    assert [r["seed"] for r in record["runs"]] == [1, 2, 3] and json.loads(out.read_text())["runs"] == record["runs"]
    assert not (tmp_path / "s.partial.json").exists()
    # another experiment's partial file is not taken for this one's
    trained.clear()
    run_seeds(TrainConfig(data_root=DATA, lr=0.1), seeds=(1,), out=tmp_path / "t.json")
    assert trained == [1]


@pytest.mark.slow
def test_two_runs_at_once_give_each_the_numbers_it_gives_alone_with_one_thread():
    """The placement changes when runs happen, never what they compute."""
    from dataclasses import replace

    config = TrainConfig(num_epochs=1, batch_size=64, train_subset=640, test_subset=200, data_root=DATA, threads=1)
    configs = [config, replace(config, seed=2)]
    side_by_side, alone = {}, {}
    assert placement.run_plan(configs, "pairs", lambda k, entry: side_by_side.update({k: entry}))
    assert placement.run_plan(configs, "in_turn", lambda k, entry: alone.update({k: entry}))
    for k in (0, 1):
        assert side_by_side[k]["history"][0]["test_acc"] == alone[k]["history"][0]["test_acc"]
        assert side_by_side[k]["first_losses"] == alone[k]["first_losses"]
        assert side_by_side[k]["config"]["threads"] == 1
