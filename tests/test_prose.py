"""The README and the notebooks read their curves in words: each sentence is checked against the curves it
describes, notebook 01's computed again, notebook 02's from the committed run."""
import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from s4lib.backprop import CLASS_VALUES, LEARNING_RATES, run_all, shrink_factors

ROOT = Path(__file__).resolve().parents[1]
RUN = json.loads((ROOT / "notebooks" / "results" / "s4_main.json").read_text())  # notebook 02's run


def markdown(name: str) -> str:
    """A notebook's markdown cells as one line of text, so a sentence reads the same whatever its line breaks."""
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    return " ".join(" ".join("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")


def curve(key: str) -> np.ndarray:
    return np.array([e[key] for e in RUN["history"]])


# Part 1: the error curves of the 2-2-2 network, computed again.
def first_halving(E: np.ndarray) -> int | None:
    halved = np.flatnonzero(E <= E[0] / 2)
    return int(halved[0]) if halved.size else None


def test_the_readme_halving_iterations_are_the_curves_own():
    readme = " ".join((ROOT / "README.md").read_text().split())
    sentence = re.search(r"Larger is faster here: (.*?); η = 0\.1 has not halved it after 100", readme)
    assert sentence, "the README's halving sentence moved"
    claimed = {float(lr): int(n) for lr, n in re.findall(r"η = ([\d.]+) (?:halves the error )?in (\d+)", sentence[1])}
    histories = run_all(LEARNING_RATES)
    assert len(claimed) >= 4 and claimed == {lr: first_halving(histories[lr]["E_total"]) for lr in claimed}
    assert first_halving(histories[0.1]["E_total"]) is None


def test_no_curve_in_the_assignment_range_rises_or_overshoots():
    for h in run_all(LEARNING_RATES).values():
        assert (np.diff(h["E_total"]) < 0).all()
        assert (h["a_o1"] > CLASS_VALUES.t1).all() and (h["a_o2"] < CLASS_VALUES.t2).all()


def test_notebook_01_numbers_about_the_curves_are_the_curves_own():
    text = markdown("01_backprop_by_hand.ipynb")
    histories = run_all(LEARNING_RATES)
    slow, quick = histories[0.1]["E_total"][100], histories[2.0]["E_total"][100]
    about = re.search(r"about ([\d.]+) at η = 0\.1 and about ([\d.]+) at η = 2\.0, roughly (\d+) times lower", text)
    assert about, "notebook 01's sentence on the final errors moved"
    assert (float(about[1]), float(about[2]), int(about[3])) == (round(slow, 3), round(quick, 3), round(slow / quick))
    shrank = re.search(r"\((\d+)x against (\d+)x for \$a_\{o1\}\$ at η = 2\)", text)
    assert shrank, "notebook 01's sentence on the shrinking factors moved"
    error, slope = shrink_factors(histories[2.0], 1, 100)
    assert (int(shrank[1]), int(shrank[2])) == (round(error), round(slope)) and error > slope


def test_notebook_01_large_steps_overshoot_and_stall_as_it_says():
    text = markdown("01_backprop_by_hand.ipynb")
    h100, h200 = run_all([100.0, 200.0]).values()
    for h in (h100, h200):  # both outputs past their targets after the first step, where they then stay
        assert (h["a_o1"][1:] < CLASS_VALUES.t1).all() and (h["a_o2"][1:] > CLASS_VALUES.t2).all()
        assert h["E_total"][100] > 0.9 * h["E_total"][1]  # the error barely moves after the first step
        assert 0.4 < min(h["a_h1"].min(), h["a_h2"].min()) and max(h["a_h1"].max(), h["a_h2"].max()) < 0.6
    assert h200["E_total"][100] > h100["E_total"][100]
    two = run_all([2.0])[2.0]["E_total"][100]  # frozen past the targets, yet lower than eta 2 gets in 100 updates
    assert max(h100["E_total"][1:].max(), h200["E_total"][1:].max()) < two
    assert "That error is still below η = 2's after 100 updates" in text
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "the error, already below η = 2's after 100 updates, then barely moves, at 200 above where 100 " \
           "ends" in readme
    said = re.search(r"\$a_\{o1\}\$ to about \$([\d.]+) \\cdot 10\^\{(-\d+)\}\$.*?\$a_\{o2\}\$ to about ([\d.]+)", text)
    assert said, "notebook 01's sentence on the overshoot at eta 200 moved"
    assert float(said[1]) * 10 ** int(said[2]) == pytest.approx(h200["a_o1"][1], rel=0.01)
    assert float(said[3]) == pytest.approx(h200["a_o2"][1], abs=1e-5)


# Part 2: notebook 02's run, as committed.
TEXT = markdown("02_mnist_cnn.ipynb")
LR, TEST_ACC, TEST_LOSS = curve("lr"), curve("test_acc"), curve("test_loss")
PEAK = int(np.argmax(LR))  # the epoch (from 0) in which the warm-up ends
HIGH = LR >= LR.max() / 2


def test_the_losses_fall_as_the_notebook_says():
    assert "the training loss falls at every epoch" in TEXT and (np.diff(curve("train_loss")) < 0).all()
    assert "the test loss falls overall, but rises in a few epochs while the learning rate is above half its peak, " \
           "and in one epoch below" in TEXT
    rises = np.flatnonzero(np.diff(TEST_LOSS) > 0) + 1
    assert TEST_LOSS[-1] < TEST_LOSS[0] and 2 <= HIGH[rises].sum() <= 4 and (~HIGH[rises]).sum() == 1


def test_the_test_accuracy_moves_with_the_learning_rate_as_the_notebook_says():
    assert "climbs fastest in the first four epochs, while the rate warms up" in TEXT and PEAK == 3
    warm_up = TEST_ACC[PEAK] - TEST_ACC[0]
    assert all(warm_up > TEST_ACC[k + PEAK] - TEST_ACC[k] for k in range(PEAK, len(TEST_ACC) - PEAK))
    assert "it holds near 99.3% while the rate stays above half its peak, passes 99.4% only once the rate is " \
           "below" in TEXT
    after_peak = TEST_ACC[PEAK + 1:][HIGH[PEAK + 1:]]
    assert len(after_peak) >= 3 and (abs(after_peak - 0.993) <= 0.001).all()
    assert not HIGH[int(np.argmax(TEST_ACC >= 0.994))] and (TEST_ACC[HIGH] < 0.994).all()


def test_the_last_epoch_lands_close_to_the_best_and_the_check_a_little_above_it():
    assert "the last epoch lands close to the best" in TEXT and TEST_ACC.max() - TEST_ACC[-1] <= 0.0005
    assert "The training-set check ends a little above the test accuracy" in TEXT
    assert 0 < curve("train_check_acc")[-1] - TEST_ACC[-1] < 0.005


def test_the_training_batches_score_below_the_others_at_every_epoch():
    assert "it sits below the others at every epoch of this run" in TEXT
    assert (curve("train_acc") < np.minimum(TEST_ACC, curve("train_check_acc"))).all()


# The README's design answers that compare two ablation rows or two benchmark variants, read back and re-computed.
README_TEXT = " ".join((ROOT / "README.md").read_text().split())
RESULTS = ROOT / "notebooks" / "results"


def ablation_means() -> tuple[dict[str, float], tuple[float, float]]:
    """Each ablation row's mean final validation accuracy, and the range of the baseline's seeds."""
    runs = json.loads((RESULTS / "ablations.json").read_text())["runs"]
    rows: dict[str, list[float]] = {}
    for run in runs:  # a diverged seed (None) has no final accuracy
        if run["final_test_acc"] is not None:
            rows.setdefault(run["name"], []).append(run["final_test_acc"])
    base = rows["baseline"]
    return {name: float(np.mean(accs)) for name, accs in rows.items()}, (min(base), max(base))


def test_pooling_after_three_convs_costs_nearly_twice_the_multiply_adds_and_no_slower_an_epoch():
    assert "pooling after three convolutions shows no measurable difference at nearly twice the multiply-adds: " \
           "24% slower an epoch in channels_last" in README_TEXT and "no slower in the NCHW [benchmark]" in README_TEXT
    means, (low, high) = ablation_means()
    assert low <= means["pool after 3"] <= high and means["pool after 4"] < low
    bench = json.loads((RESULTS / "benchmark.json").read_text())["median"]
    pool3, main = bench["pool_after_3"], bench["default"]
    assert 1.75 <= pool3["train_gflop"] / main["train_gflop"] < 2
    assert pool3["train_s"] <= main["train_s"]  # in NCHW; the search timed both in channels_last
    runs = json.loads((RESULTS / "search_speed.json").read_text())["runs"]
    epoch = {name: np.mean([r["epoch_seconds"] for r in runs if r["name"] == name and r["config"]["memory_format"]
                            == "channels_last"]) for name in ("pool after 3", "pool after 2")}
    slower = re.search(r"(\d+)% slower an epoch in channels_last", README_TEXT)
    assert slower and int(slower[1]) == round(100 * (epoch["pool after 3"] / epoch["pool after 2"] - 1))


def test_batch_512_ends_below_the_range_also_with_the_peak_doubled():
    sentence = re.search(r"and 512 with the peak doubled too \(([\d.]+)%; linear scaling would quadruple it, "
                         r"untried\): smaller batches take noisier steps at the same rate, batch 512 a quarter as many",
                         README_TEXT)
    assert sentence, "the README's batch-size sentence moved"
    runs = json.loads((RESULTS / "ablations.json").read_text())["runs"]
    doubled = next(r["config"] for r in runs if r["name"] == "batch 512, lr 0.8")
    base = next(r["config"] for r in runs if r["name"] == "baseline")
    assert (doubled["batch_size"], doubled["lr"]) == (4 * base["batch_size"], 2 * base["lr"])
    tried = {(r["config"]["batch_size"], r["config"]["lr"]) for r in runs}
    assert (doubled["batch_size"], 4 * base["lr"]) not in tried  # the linear-scaling rule's peak was not scored
    means, (low, _) = ablation_means()
    assert float(sentence[1]) == round(100 * means["batch 512, lr 0.8"], 2) and means["batch 512, lr 0.8"] < low


def test_the_longer_schedule_ends_higher_on_validation():
    sentence = re.search(r"the main config ends at ([\d.]+)% after 5 epochs \(the ablations' baseline\) and "
                         r"([\d.]+)% after 15", README_TEXT)
    assert sentence, "the README's epochs sentence moved"
    means, _ = ablation_means()
    assert float(sentence[1]) == round(100 * means["baseline"], 2) and float(sentence[2]) > float(sentence[1])


def test_the_15_epoch_recipes_lead_on_validation_and_trail_on_test_as_the_readme_says():
    said = re.search(r"over 15 epochs on validation, 0\.4 with dropout 0\.1 led 0\.1 with 0\.05 by less than the noise "
                     r"\(([\d.]+) against ([\d.]+)%\); on test \(five seeds\) it trailed, ([\d.]+) against "
                     r"([\d.]+)% mean",
                     README_TEXT)
    assert said, "the README's 15-epoch learning-rate sentence moved"
    val = {}
    for run in json.loads((RESULTS / "search_main.json").read_text())["runs"]:
        val.setdefault(run["name"], []).append(run["final_test_acc"])
    seeds = {name: json.loads((RESULTS / f"seeds_{name}.json").read_text()) for name in ("s4", "s4-first-recipe")}
    test = {name: [r["final_test_acc"] for r in rec["runs"]] for name, rec in seeds.items()}
    assert said.groups() == tuple(f"{100 * statistics.mean(accs):.2f}" for accs in (  # as the report rounds
        val["lr 0.4, dropout 0.1"], val["main"], test["s4"], test["s4-first-recipe"]))
    assert float(said[1]) > float(said[2]) and float(said[3]) < float(said[4])
