"""Hand-derived backprop against torch.autograd, and the known class numbers."""
import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from s4lib.backprop import (CLASS_VALUES, COLUMNS, LEARNING_RATES, Problem, autograd_gradients,
                            check_schedule, compare_with_autograd, forward, gradients, run, run_all,
                            shrink_factors, step, weight_gradients)

ROOT = Path(__file__).resolve().parents[1]


def random_problems(n=5, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        yield Problem(i1=rng.uniform(-2, 2), i2=rng.uniform(-2, 2), t1=rng.uniform(0, 1),
                      t2=rng.uniform(0, 1), w=tuple(rng.uniform(-3, 3) for _ in range(8)))


@pytest.mark.parametrize("p", [CLASS_VALUES, *random_problems()])
def test_hand_gradients_equal_autograd(p):
    E_auto, g_auto = autograd_gradients(p)
    g_hand = gradients(p, forward(p))
    assert math.isclose(forward(p)["E_total"], E_auto, rel_tol=1e-14)
    for key, value in g_auto.items():
        assert abs(g_hand[key] - value) <= 1e-12, key


def test_initial_error_of_class_values():
    assert forward(CLASS_VALUES)["E_total"] == pytest.approx(0.24251985734837, abs=1e-14)


def test_class_values_are_the_course_values():
    assert (CLASS_VALUES.i1, CLASS_VALUES.i2, CLASS_VALUES.t1, CLASS_VALUES.t2) == (0.05, 0.10, 0.01, 0.99)
    assert CLASS_VALUES.w == (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)
    assert LEARNING_RATES == (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)


def test_gradient_matches_finite_difference():
    p, eps = CLASS_VALUES, 1e-6
    g = weight_gradients(gradients(p, forward(p)))
    for k in range(8):
        up = Problem(w=tuple(w + eps * (j == k) for j, w in enumerate(p.w)))
        down = Problem(w=tuple(w - eps * (j == k) for j, w in enumerate(p.w)))
        numeric = (forward(up)["E_total"] - forward(down)["E_total"]) / (2 * eps)
        assert numeric == pytest.approx(g[k], rel=1e-6)


def test_step_moves_against_the_gradient():
    p = CLASS_VALUES
    g = gradients(p, forward(p))
    q = step(p, g, lr=0.5)
    assert q.w == pytest.approx([w - 0.5 * d for w, d in zip(p.w, weight_gradients(g))], abs=0)
    assert forward(q)["E_total"] < forward(p)["E_total"]


def test_history_is_float64_and_chains_updates():
    h = run(0.5, num_iterations=7)
    assert set(h) == set(COLUMNS)
    assert all(a.dtype == np.float64 and a.shape == (8,) for a in h.values())
    np.testing.assert_array_equal(h["iteration"], np.arange(8))
    for k in range(1, 9):
        np.testing.assert_allclose(h[f"w{k}"][1:], h[f"w{k}"][:-1] - 0.5 * h[f"dE_dw{k}"][:-1], rtol=0, atol=0)


def test_history_matches_autograd_at_every_iteration():
    h = run(2.0, num_iterations=20)
    for it in range(21):
        p = Problem(w=tuple(h[f"w{k}"][it] for k in range(1, 9)))
        E, g = autograd_gradients(p)
        assert h["E_total"][it] == pytest.approx(E, rel=1e-13)
        assert max(abs(h[key][it] - v) for key, v in g.items()) <= 1e-12


def test_comparison_table_reports_agreement():
    rows = compare_with_autograd()
    assert [r["weight"] for r in rows] == [f"w{k}" for k in range(1, 9)]
    assert all(r["allclose"] and r["abs_diff"] <= 1e-12 for r in rows)


@pytest.mark.parametrize("lrs, n", [([], 10), ([0.1, 0.0], 10), ([-1.0], 10), ([float("nan")], 10),
                                    ([0.1], 0), ([0.1], -3), ([0.1], 2.5)])
def test_bad_schedules_are_refused(lrs, n):
    with pytest.raises(ValueError):
        check_schedule(lrs, n)
    with pytest.raises(ValueError):
        run_all(lrs, n)


# The sentences of the README and notebook 01 about the error curves, read back and re-computed, so that no
# number in the prose can drift from the code that makes the curves.
def first_halving(E: np.ndarray) -> int | None:
    halved = np.flatnonzero(E <= E[0] / 2)
    return int(halved[0]) if halved.size else None


def notebook_markdown(name: str) -> str:
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    return " ".join(" ".join("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")


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
    text = notebook_markdown("01_backprop_by_hand.ipynb")
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
    text = notebook_markdown("01_backprop_by_hand.ipynb")
    h100, h200 = run_all([100.0, 200.0]).values()
    for h in (h100, h200):  # both outputs past their targets after the first step, where they then stay
        assert (h["a_o1"][1:] < CLASS_VALUES.t1).all() and (h["a_o2"][1:] > CLASS_VALUES.t2).all()
        assert h["E_total"][100] > 0.9 * h["E_total"][1]  # the error barely moves after the first step
        assert 0.4 < min(h["a_h1"].min(), h["a_h2"].min()) and max(h["a_h1"].max(), h["a_h2"].max()) < 0.6
    assert h200["E_total"][100] > h100["E_total"][100]
    said = re.search(r"\$a_\{o1\}\$ to about \$([\d.]+) \\cdot 10\^\{(-\d+)\}\$.*?\$a_\{o2\}\$ to about ([\d.]+)", text)
    assert said, "notebook 01's sentence on the overshoot at eta 200 moved"
    assert float(said[1]) * 10 ** int(said[2]) == pytest.approx(h200["a_o1"][1], rel=0.01)
    assert float(said[3]) == pytest.approx(h200["a_o2"][1], abs=1e-5)
