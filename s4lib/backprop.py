"""A 2-2-2 sigmoid network without biases, trained by hand-derived gradient descent (float64)."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

import numpy as np

from .errors import S4Error

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
FORWARD = ("h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2")
ERRORS = ("E1", "E2", "E_total")
# dE_da_h1/2 are the hidden-layer error signals that dE_dw1..4 reuse.
GRADIENTS = ("dE_dw5", "dE_dw6", "dE_dw7", "dE_dw8", "dE_da_h1", "dE_da_h2",
             "dE_dw1", "dE_dw2", "dE_dw3", "dE_dw4")
COLUMNS = ("iteration",) + WEIGHTS + FORWARD + ERRORS + GRADIENTS

LEARNING_RATES = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
NUM_ITERATIONS = 100  # updates per learning rate; the history holds iterations 0..100
# With CLASS_VALUES the first update overflows math.exp in the sigmoid from η ≈ 15,358 on (the output net
# inputs fall below -709.8); at η = 1000 they stay within ±72 for 10,000 iterations: a 15x margin, and it
# covers the notebook's η = 200.
MAX_LEARNING_RATE = 1000.0
# Each iteration is one row of 32 formulas per learning-rate sheet of the workbook: 10 sheets of 10,001 rows
# take about 3 GB of memory and a minute to write; more is a typo, not a plan.
MAX_ITERATIONS = 10_000
MAX_LEARNING_RATES = 10


@dataclass(frozen=True)
class Problem:
    """Inputs, targets and initial weights of the network."""

    i1: float = 0.05
    i2: float = 0.10
    t1: float = 0.01
    t2: float = 0.99
    w: tuple[float, ...] = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)

    def __post_init__(self) -> None:
        if len(self.w) != 8:
            raise ValueError(f"the network has 8 weights w1..w8, got {len(self.w)}")


CLASS_VALUES = Problem()


def sigmoid(x: float) -> float:
    """Logistic function 1 / (1 + e^-x)."""
    return 1.0 / (1.0 + math.exp(-x))


def forward(p: Problem) -> dict[str, float]:
    """Net inputs, activations and errors of one forward pass."""
    w1, w2, w3, w4, w5, w6, w7, w8 = p.w
    h1 = w1 * p.i1 + w2 * p.i2
    h2 = w3 * p.i1 + w4 * p.i2
    a_h1, a_h2 = sigmoid(h1), sigmoid(h2)
    o1 = w5 * a_h1 + w6 * a_h2
    o2 = w7 * a_h1 + w8 * a_h2
    a_o1, a_o2 = sigmoid(o1), sigmoid(o2)
    E1 = 0.5 * (p.t1 - a_o1) ** 2
    E2 = 0.5 * (p.t2 - a_o2) ** 2
    return dict(h1=h1, a_h1=a_h1, h2=h2, a_h2=a_h2, o1=o1, a_o1=a_o1, o2=o2, a_o2=a_o2,
                E1=E1, E2=E2, E_total=E1 + E2)


def gradients(p: Problem, f: dict[str, float]) -> dict[str, float]:
    """dE_total/dw for all eight weights by the chain rule, from a forward pass f."""
    w1, w2, w3, w4, w5, w6, w7, w8 = p.w
    # dE/do = dE/da_o * da_o/do; sigmoid' = a (1 - a)
    d_o1 = (f["a_o1"] - p.t1) * f["a_o1"] * (1 - f["a_o1"])
    d_o2 = (f["a_o2"] - p.t2) * f["a_o2"] * (1 - f["a_o2"])
    # each hidden activation feeds both outputs, so both paths add up
    dE_da_h1 = d_o1 * w5 + d_o2 * w7
    dE_da_h2 = d_o1 * w6 + d_o2 * w8
    d_h1 = dE_da_h1 * f["a_h1"] * (1 - f["a_h1"])
    d_h2 = dE_da_h2 * f["a_h2"] * (1 - f["a_h2"])
    return dict(
        dE_dw5=d_o1 * f["a_h1"], dE_dw6=d_o1 * f["a_h2"],
        dE_dw7=d_o2 * f["a_h1"], dE_dw8=d_o2 * f["a_h2"],
        dE_da_h1=dE_da_h1, dE_da_h2=dE_da_h2,
        dE_dw1=d_h1 * p.i1, dE_dw2=d_h1 * p.i2,
        dE_dw3=d_h2 * p.i1, dE_dw4=d_h2 * p.i2,
    )


def weight_gradients(g: dict[str, float]) -> tuple[float, ...]:
    """The eight dE/dw values in the order w1..w8."""
    return tuple(g[f"dE_d{w}"] for w in WEIGHTS)


def step(p: Problem, g: dict[str, float], lr: float) -> Problem:
    """One gradient-descent update w <- w - lr * dE/dw."""
    return replace(p, w=tuple(w - lr * d for w, d in zip(p.w, weight_gradients(g))))


def run(lr: float, num_iterations: int = NUM_ITERATIONS,
        problem: Problem = CLASS_VALUES) -> dict[str, np.ndarray]:
    """History of iterations 0..num_iterations: one float64 array per column of COLUMNS."""
    check_schedule([lr], num_iterations)
    rows = []
    p = problem
    try:
        for it in range(num_iterations + 1):
            f = forward(p)
            g = gradients(p, f)
            rows.append({"iteration": it, **dict(zip(WEIGHTS, p.w)), **f, **g})
            p = step(p, g, lr)
    except OverflowError:
        # only a custom problem gets here: check_schedule keeps CLASS_VALUES far from the overflow
        raise S4Error(f"learning rate {lr_label(lr)} overflows the float64 math at iteration {it}; "
                      "use a smaller learning rate or smaller inputs and weights") from None
    history = {c: np.array([r[c] for r in rows], dtype=np.float64) for c in COLUMNS}
    if not all(np.isfinite(a).all() for a in history.values()):
        # inf * 0 gives NaN without an exception; a table or cell of NaN would mislead
        raise S4Error(f"learning rate {lr_label(lr)} gives non-finite values; use a smaller learning rate")
    return history


def run_all(learning_rates=LEARNING_RATES, num_iterations: int = NUM_ITERATIONS,
            problem: Problem = CLASS_VALUES) -> dict[float, dict[str, np.ndarray]]:
    """Histories for several learning rates, keyed by learning rate."""
    check_schedule(learning_rates, num_iterations)
    return {lr: run(lr, num_iterations, problem) for lr in learning_rates}


def check_schedule(learning_rates, num_iterations: int) -> None:
    """Raise ValueError unless the learning rates and the number of iterations are ones run can compute."""
    lrs = check_learning_rates(learning_rates)
    if len(lrs) > MAX_LEARNING_RATES:
        raise ValueError(f"give at most {MAX_LEARNING_RATES} learning rates, got {len(lrs)}")
    if len(set(lrs)) != len(lrs):
        # histories are keyed by learning rate: a repeated one would silently vanish
        raise ValueError(f"learning rates must differ, got {lrs}")
    is_count = isinstance(num_iterations, numbers.Integral) and not isinstance(num_iterations, bool)
    if not is_count or not 1 <= num_iterations <= MAX_ITERATIONS:
        raise ValueError(f"the number of iterations must be a whole number >= 1 and <= {MAX_ITERATIONS:,}, "
                         f"got {num_iterations!r}")


def check_learning_rates(learning_rates) -> list:
    """The learning rates as a list, or ValueError unless each is a finite number in (0, MAX_LEARNING_RATE]."""
    lrs = list(learning_rates)
    if not lrs:
        raise ValueError("give at least one learning rate, e.g. 0.1 0.5 1.0")
    bad = [lr for lr in lrs if not (isinstance(lr, numbers.Real) and not isinstance(lr, bool)
                                    and math.isfinite(lr) and lr > 0)]
    if bad:
        raise ValueError(f"learning rates must be positive numbers, got {bad}")
    big = [lr for lr in lrs if lr > MAX_LEARNING_RATE]
    if big:
        raise ValueError(f"learning rates must be at most {MAX_LEARNING_RATE:g} (larger ones overflow "
                         f"float64 in the sigmoid), got {big}")
    return lrs


def autograd_gradients(p: Problem) -> tuple[float, dict[str, float]]:
    """E_total and dE/dw1..w8 computed by torch.autograd in float64, as an independent check."""
    import torch

    w = torch.tensor(p.w, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([p.i1, p.i2], dtype=torch.float64)
    t = torch.tensor([p.t1, p.t2], dtype=torch.float64)
    a_h = torch.sigmoid(w[:4].reshape(2, 2) @ x)
    a_o = torch.sigmoid(w[4:].reshape(2, 2) @ a_h)
    E_total = (0.5 * (t - a_o) ** 2).sum()
    E_total.backward()
    return E_total.item(), {f"dE_d{name}": g for name, g in zip(WEIGHTS, w.grad.tolist())}


def compare_with_autograd(p: Problem = CLASS_VALUES) -> list[dict]:
    """Hand-derived vs autograd gradient for each weight: values, exact match, allclose, |difference|."""
    g_hand = gradients(p, forward(p))
    _, g_auto = autograd_gradients(p)
    rows = []
    for name in WEIGHTS:
        key = f"dE_d{name}"
        a, b = g_hand[key], g_auto[key]
        rows.append(dict(weight=name, hand=a, autograd=b, exact=a == b,
                         allclose=math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15),
                         abs_diff=abs(a - b)))
    return rows


def error_table_markdown(histories: dict[float, dict[str, np.ndarray]], at=(1, 10, 50, 100)) -> str:
    """Markdown table of E_total after the given numbers of updates, one row per learning rate."""
    lines = ["| η | " + " | ".join(f"E_total after {n}" for n in at) + " |",
             "|---:|" + "---:|" * len(at)]
    for lr, h in histories.items():
        lines.append(f"| {lr_label(lr)} | " + " | ".join(f"{h['E_total'][n]:.6f}" for n in at) + " |")
    return "\n".join(lines)


def lr_label(lr: float) -> str:
    """A learning rate as given, never rounded: Python's shortest round-trip form (0.05, 1.0, 1e-05)."""
    return repr(float(lr))


def shrink_factors(h: dict[str, np.ndarray], output: int, last: int) -> tuple[float, float]:
    """How many times the error factor |a_o - t| and the slope a_o(1 - a_o) of one output shrank by iteration last."""
    a, t = h[f"a_o{output}"], (CLASS_VALUES.t1, CLASS_VALUES.t2)[output - 1]
    slope = a * (1 - a)
    return abs(a[0] - t) / abs(a[last] - t), slope[0] / slope[last]


def flattening_markdown(histories: dict[float, dict[str, np.ndarray]], last: int = 100) -> str:
    """Why the curves flatten: per learning rate, how much each factor of the output gradients shrank."""
    lines = [f"| η | a_o1 after {last} | \\|a_o1 − t1\\| shrank | a_o1(1 − a_o1) shrank | "
             f"\\|a_o2 − t2\\| shrank | a_o2(1 − a_o2) shrank |", "|---:|---:|---:|---:|---:|---:|"]
    for lr, h in histories.items():
        (e1, s1), (e2, s2) = shrink_factors(h, 1, last), shrink_factors(h, 2, last)
        lines.append(f"| {lr_label(lr)} | {h['a_o1'][last]:.4f} | {e1:.1f}x | {s1:.1f}x | {e2:.1f}x | {s2:.1f}x |")
    return "\n".join(lines)
