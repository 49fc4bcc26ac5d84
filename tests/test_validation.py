"""Designs are chosen on validation images held out of the training set: a fixed, disjoint split of fixed size."""
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import s4lib.lab.experiments as experiments
from s4lib.data import hold_out
from s4lib.errors import S4Error
from s4lib.train import TrainConfig, load_data

DATA = str(Path(__file__).resolve().parents[1] / "data")


def test_held_out_images_are_disjoint_from_training_fixed_and_of_the_asked_size():
    X = torch.arange(1000).float().reshape(1000, 1, 1, 1)  # each image's value is its index
    y = torch.arange(1000) % 10
    X_rest, y_rest, X_held, y_held = hold_out(X, y, 100)
    rest, held = set(X_rest.flatten().tolist()), set(X_held.flatten().tolist())
    assert len(held) == 100 and len(rest) == 900 and not rest & held and rest | held == set(range(1000))
    assert torch.equal(y_held, X_held.flatten().long() % 10)  # labels travel with their images
    again = hold_out(X, y, 100)
    assert torch.equal(again[2], X_held) and torch.equal(again[0], X_rest)  # fixed by its seed
    assert held != set(range(100)) and held != set(range(900, 1000))  # a random choice, not the first or last
    assert set(hold_out(X, y, 100, seed=1)[2].flatten().tolist()) != held
    with pytest.raises(S4Error):
        hold_out(X, y, 1000)


def test_a_validation_run_never_reads_the_test_set(monkeypatch):
    import s4lib.data

    real = s4lib.data.load_mnist

    def poisoned_test_set(*args, **kwargs):
        X_train, y_train, X_test, y_test = real(*args, **kwargs)
        return X_train, y_train, torch.full_like(X_test, float("nan")), y_test
    monkeypatch.setattr(s4lib.data, "load_mnist", poisoned_test_set)
    config = TrainConfig(validation=10_000, data_root=DATA)
    X_train, y_train, X_val, y_val = load_data(config, torch.device("cpu"), verbose=False)
    assert len(X_train) == 50_000 and len(X_val) == 10_000 and not X_val.isnan().any()
    assert torch.equal(X_val, load_data(config, torch.device("cpu"), verbose=False)[2])
    # every held-out image is one of the training images, and none of them is trained on
    train_set = {bytes(x.numpy()) for x in X_train[:, 0, 14]}  # a row of pixels identifies most digits
    assert sum(bytes(x.numpy()) in train_set for x in X_val[:200, 0, 14]) < 200


def recording_train(seen: list, acc_of=lambda config: 0.97):
    """A stand-in for train that keeps every config it is given and returns one epoch scored acc_of(config)."""
    from s4lib.train import EpochLog, TrainResult

    def fake_train(config):
        seen.append(config)
        log = EpochLog(1, 0.01, 0.1, 0.9, 0.1, acc_of(config), 1.0, 0.1)
        return TrainResult(config, 12114, history=[log], evaluated_on="validation")
    return fake_train


def test_search_scores_candidates_on_validation_and_records_them(tmp_path, monkeypatch):
    from s4lib.lab.experiments import run_search, search_markdown

    seen = []
    monkeypatch.setattr(experiments, "train", recording_train(seen, lambda c: 0.98 if c.model == "s4-pool-3" else 0.97))
    record = run_search(replace(TrainConfig(), num_epochs=1), "speed", out=tmp_path / "s.json", command="x")
    assert all(c.validation == experiments.VALIDATION_IMAGES for c in seen)
    assert [r["name"] for r in json.loads((tmp_path / "s.json").read_text())["runs"]] == list(
        experiments.SEARCHES["speed"][1])
    table = search_markdown(record)
    assert "| pool after 3 |" in table and "98.00%" in table and "final validation acc" in table


def test_a_search_command_re_runs_with_the_settings_it_ran_with_unless_a_flag_names_another(tmp_path, monkeypatch):
    from s4lib.cli import main

    seen = []
    monkeypatch.setattr(experiments, "train", recording_train(seen))
    pinned = experiments.SEARCH_SETTINGS["main"]
    assert main(["search", "main", "--data-root", DATA, "--out", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["base"]["lr"] == pinned["lr"] != TrainConfig().lr
    assert seen[0].lr == pinned["lr"] and seen[0].dropout == pinned["dropout"]  # candidate "main": as it ran
    seen.clear()
    assert main(["search", "main", "--lr", "0.3", "--data-root", DATA, "--out", str(tmp_path / "b.json")]) == 0
    assert seen[0].lr == 0.3 and seen[0].dropout == pinned["dropout"]


def test_every_committed_search_record_matches_the_search_its_command_runs_today():
    from s4lib.lab.records import load_record, search_record_path

    for name, (_, candidates) in experiments.SEARCHES.items():
        path = search_record_path(name)
        if not path.exists():
            continue
        record = load_record(path)
        assert record["candidates"] == list(candidates), name
        assert {r["name"]: r["what"] for r in record["runs"]} == {c: what for c, (what, _) in candidates.items()}, name
        pinned = experiments.SEARCH_SETTINGS.get(name, {})
        assert all(record["base"][k] == v for k, v in pinned.items()), name
