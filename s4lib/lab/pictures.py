"""The lab's pictures, drawn from its records: what each ablation bought, and the first steps of good and broken
designs."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..plots import save
from .experiments import ablation_group, ablation_order


def plot_first_steps(record: dict, names=("baseline", "no BN", "no BN, lr 0.02", "lr 0.02", "dropout 0.25"),
                     path: str | Path | None = None, window: int = 10):
    """Training loss over the first steps of epoch 1, per variant (its first seed): good and broken designs side by
    side."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    styles = ["-", "--", ":", "-.", (0, (5, 1, 1, 1))]
    for k, name in enumerate(names):
        run = next((r for r in record["runs"] if r["name"] == name and r.get("first_losses")), None)
        if run is None:
            continue
        losses = np.array(run["first_losses"])
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")  # a mean of `window` steps
        # earlier curves wider and each with its own dashes, so two that coincide both stay visible
        ax.plot(np.arange(window, len(losses) + 1), smooth, ls=styles[k % len(styles)], lw=3.2 - 0.5 * k,
                label=f"{name}, seed {run['seed']} " + (f"(ends at {100 * run['final_test_acc']:.2f}%)"
                                                         if run["final_test_acc"] is not None else "(diverged)"))
    ax.axhline(math.log(10), color="gray", ls="--", lw=1, label="ln 10: a uniform guess")
    ax.set_xlabel("training step of epoch 1")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("The first 100 steps tell good designs from broken ones")
    fig.tight_layout()
    return save(fig, path)


def plot_ablations(record: dict, path: str | Path | None = None):
    """Final accuracy (mean over seeds, with their range) and seconds per epoch of every ablation variant, the
    baseline's range marked."""
    names = sorted(dict.fromkeys(r["name"] for r in record["runs"]), key=ablation_order)
    # a seed whose loss diverged has no final accuracy: a row of only those is drawn at the left edge, marked
    accs = [[100 * r["final_test_acc"] for r in record["runs"] if r["name"] == n and r["final_test_acc"] is not None]
            for n in names]
    diverged = [not a for a in accs]
    accs = [a or [0.0] for a in accs]
    acc = np.array([np.mean(a) for a in accs])
    low, high = acc - np.array([min(a) for a in accs]), np.array([max(a) for a in accs]) - acc
    seconds = [np.mean([r["epoch_seconds"] for r in record["runs"] if r["name"] == n and r["epoch_seconds"]] or [0])
               for n in names]
    groups = list(dict.fromkeys(map(ablation_group, names)))  # one colour per design question
    colours = [plt.cm.tab10(groups.index(ablation_group(n)) % 10) for n in names]
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(12, 0.32 * len(names) + 1.4), sharey=True)
    y = np.arange(len(names))
    ax_acc.barh(y, acc, color=colours, xerr=[low, high], error_kw=dict(lw=1, capsize=2))
    ax_time.barh(y, seconds, color=colours)
    if "baseline" in names:
        base = names.index("baseline")
        for ax, values in ((ax_acc, acc), (ax_time, seconds)):
            ax.axvline(values[base], color="black", ls="--", lw=1, label="baseline (mean)")
        if len(accs[base]) > 1:  # the band a row is judged by: the baseline's range over its seeds
            ax_acc.axvspan(min(accs[base]), max(accs[base]), color="gray", alpha=0.25, zorder=0,
                           label=f"baseline's range over {len(accs[base])} seeds: a mean inside it = no measurable "
                                 "difference")
    # zoom on the interesting range; a variant that failed outright is labelled at the left edge instead
    lo = np.floor(10 * (np.median(acc) - 0.9)) / 10
    for k, a in enumerate(acc):
        label = " diverged" if diverged[k] else f" {a:.2f}" + (" (off the scale)" if a < lo else "")
        ax_acc.text(max(a + high[k], lo), k, label, va="center", fontsize=8)
    ax_acc.set_xlim(lo, min((acc + high).max() + 0.2, 100))
    ax_acc.set_yticks(y, names)
    ax_acc.invert_yaxis()
    config = record["runs"][0]["config"]
    split = "validation" if config["validation"] else "test"
    ax_acc.set_xlabel(f"{split} accuracy after {config['num_epochs']} epochs (%)")
    ax_acc.set_title(f"final {split} accuracy: mean over seeds, bars from lowest to highest", fontsize=10)
    ax_time.set_xlabel(f"seconds per training epoch ({record['machine'].split(', torch')[0]})")
    ax_time.set_title("seconds per epoch (rough: the benchmark times them)", fontsize=10)
    for ax in (ax_acc, ax_time):
        ax.grid(axis="x", alpha=0.3)
    ax_acc.legend(loc="lower right", fontsize=7)
    fig.suptitle("What each design choice buys: one change from the main model per row")
    fig.tight_layout()
    return save(fig, path)


def ablation_pictures() -> tuple[Path, Path]:
    """Where the pictures of the committed ablation record go."""
    from ..project import clone_root

    images = (clone_root() or Path(".")) / "images"
    return images / "ablations.png", images / "first_steps.png"


def draw_ablation_pictures(record: dict) -> tuple[Path, Path]:
    """Both pictures of an ablation record, saved where ablation_pictures says."""
    bars, first = ablation_pictures()
    plot_ablations(record, bars)
    plot_first_steps(record, path=first)
    plt.close("all")
    return bars, first
