"""Designs are chosen on validation images held out of the training set: a fixed, disjoint split of fixed size."""
import json
from pathlib import Path

import pytest
import torch

import s4lib.lab.experiments as experiments
from s4lib.data import hold_out, load_data
from s4lib.errors import S4Error
from s4lib.train import TrainConfig

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


def recording_run_plan(seen: list, acc_of=lambda config: 0.97):
    """A stand-in for placement.run_plan that keeps every config it is given and hands on one epoch per run, scored
    acc_of(config), without training."""
    from s4lib.lab.experiments import run_entry
    from s4lib.results import EpochLog, TrainResult

    def fake(configs, placement, on_done, titles=None):
        for k, config in enumerate(configs):
            seen.append(config)
            log = EpochLog(1, 0.01, 0.1, 0.9, 0.1, acc_of(config), 1.0, 0.1)
            on_done(k, run_entry(TrainResult(config, 12114, history=[log], evaluated_on="validation")))
        return True
    return fake


TRY = experiments.Search(
    question="whether the max-pool after 3 convs scores higher", rule="the higher mean wins",
    base=dict(num_epochs=1), seeds=(1, 2),
    candidates={"pool after 2": experiments.Candidate("the main model", {}),
                "pool after 3": experiments.Candidate("max-pool after 3 convs", experiments.variant(
                    "s4-pool-3", block1=(8, 16, 16), block2=(16, 16, 16, 16)))})


def test_search_scores_candidates_on_validation_and_records_them(tmp_path, monkeypatch):
    import s4lib.lab.placement as placement
    from s4lib.lab.experiments import run_search, search_markdown

    seen = []
    monkeypatch.setattr(placement, "run_plan", recording_run_plan(seen, lambda c: 0.98 if c.model == "s4-pool-3"
                                                                  else 0.97))
    monkeypatch.setitem(experiments.SEARCHES, "try", TRY)
    record = run_search("try", out=tmp_path / "s.json", command="x", placement="in_turn")
    assert all(c.validation == experiments.VALIDATION_IMAGES for c in seen)
    assert [(c.model, c.seed) for c in seen] == [("s4", 1), ("s4", 2), ("s4-pool-3", 1), ("s4-pool-3", 2)]
    on_disk = json.loads((tmp_path / "s.json").read_text())
    assert [r["name"] for r in on_disk["runs"]] == ["pool after 2"] * 2 + ["pool after 3"] * 2
    assert on_disk["rule"] == TRY.rule and on_disk["placement"] == "in_turn"
    assert on_disk["runs"][2]["config"]["architecture"]["block1"] == [8, 16, 16]  # the record rebuilds the network
    table = search_markdown(record)
    assert "| pool after 3 |" in table and "98.00%" in table and "final validation acc" in table


def test_a_flag_changes_every_candidate_of_a_search_and_pairs_take_one_thread_each(tmp_path, monkeypatch):
    import s4lib.lab.placement as placement
    from s4lib.cli import main

    seen = []
    monkeypatch.setattr(placement, "run_plan", recording_run_plan(seen))
    monkeypatch.setitem(experiments.SEARCHES, "try", TRY)
    assert main(["search", "try", "--lr", "0.3", "--data-root", DATA, "--out", str(tmp_path / "b.json"),
                 "--placement", "pairs"]) == 0
    assert [c.lr for c in seen] == [0.3] * 4 and [c.threads for c in seen] == [1] * 4
    assert json.loads((tmp_path / "b.json").read_text())["placement"] == "pairs"
