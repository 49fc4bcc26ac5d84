"""Hand-derived backprop against torch.autograd, and the known class numbers."""
import math
import random

import numpy as np
import pytest

from s4lib.backprop import (CLASS_VALUES, COLUMNS, LEARNING_RATES, Problem, autograd_gradients,
                            check_schedule, compare_with_autograd, forward, gradients, run, run_all,
                            step, weight_gradients)


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
