"""Figures: backprop error curves, training curves, misclassified digits, confusion matrix."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def save(fig, path: str | Path | None):
    """Save fig to path (if given) at a README-friendly resolution, and return fig."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_error_curves(histories: dict, path: str | Path | None = None):
    """E_total against iteration per learning rate, on a linear and a log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for lr, h in histories.items():
        for ax in axes:
            ax.plot(h["iteration"], h["E_total"], label=f"η = {lr:g}")
    axes[0].set_title("E_total (linear scale)")
    axes[1].set_title("E_total (log scale)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.set_ylabel("E_total")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("Gradient descent on the 2-2-2 network: error against iteration per learning rate")
    fig.tight_layout()
    return save(fig, path)


def plot_history(history, path: str | Path | None = None):
    """Loss and accuracy per epoch: training batches, the training-set check, and the test set."""
    epochs = [e.epoch for e in history]
    check = [e for e in history if e.train_check_acc is not None]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax_loss.plot(epochs, [e.train_loss for e in history], "o-", label="training batches (augmented, dropout on)")
    ax_acc.plot(epochs, [100 * e.train_acc for e in history], "o-", label="training batches (augmented, dropout on)")
    if check:
        label = "training-set check (eval mode, no augmentation)"
        ax_loss.plot([e.epoch for e in check], [e.train_check_loss for e in check], "s-", label=label)
        ax_acc.plot([e.epoch for e in check], [100 * e.train_check_acc for e in check], "s-", label=label)
    ax_loss.plot(epochs, [e.test_loss for e in history], "o-", label="test")
    ax_acc.plot(epochs, [100 * e.test_acc for e in history], "o-", label="test")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_yscale("log")
    ax_acc.axhline(99.4, color="gray", ls="--", lw=1, label="99.4% goal")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(97.5, 100)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_first_steps(record: dict, names=("baseline", "no BN", "no BN, lr 0.02", "lr 0.02", "dropout 0.25"),
                     path: str | Path | None = None, window: int = 10):
    """Training loss over the first steps of epoch 1, per variant (seed 1): good and broken designs side by side."""
    import math

    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name in names:
        run = next((r for r in record["runs"] if r["name"] == name and r.get("first_losses")), None)
        if run is None:
            continue
        losses = np.array(run["first_losses"])
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")  # a mean of `window` steps
        ax.plot(np.arange(window, len(losses) + 1), smooth, label=f"{name} (ends at {100 * run['final_test_acc']:.2f}%)")
    ax.axhline(math.log(10), color="gray", ls="--", lw=1, label="ln 10: a uniform guess")
    ax.set_xlabel("training step of epoch 1")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("The first 100 steps tell good designs from broken ones")
    fig.tight_layout()
    return save(fig, path)


def plot_mistakes(X, y, y_hat, max_images: int = 40, path=None):
    """Grid of misclassified test digits titled 'true -> predicted'."""
    wrong = np.flatnonzero(np.asarray(y) != np.asarray(y_hat))[:max_images]
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.35), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, k in zip(axes.flat, wrong):
        ax.imshow(np.asarray(X[k, 0]), cmap="gray_r")
        ax.set_title(f"{int(y[k])} → {int(y_hat[k])}", fontsize=9, color="crimson")
    fig.suptitle(f"Misclassified test digits (true → predicted), first {len(wrong)} of "
                 f"{int((np.asarray(y) != np.asarray(y_hat)).sum())}")
    fig.tight_layout()
    return save(fig, path)


def confusion_matrix(y, y_hat, num_classes: int = 10) -> np.ndarray:
    """Counts[true, predicted]."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y), np.asarray(y_hat)), 1)
    return m


def plot_confusion(y, y_hat, path=None):
    """Confusion matrix with counts; the diagonal is dimmed so the errors stand out."""
    m = confusion_matrix(y, y_hat)
    off = m.copy()
    np.fill_diagonal(off, 0)
    fig, ax = plt.subplots(figsize=(6, 5.4))
    ax.imshow(off, cmap="Reds")
    for t in range(10):
        for p in range(10):
            ax.text(p, t, m[t, p], ha="center", va="center", fontsize=8,
                    color="gray" if t == p else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix on the test set (off-diagonal = mistakes)")
    fig.tight_layout()
    return save(fig, path)


def plot_ablations(record: dict, path: str | Path | None = None):
    """Final test accuracy and seconds per epoch of every ablation variant, baseline marked."""
    from .experiments import ablation_group, ablation_order

    names = sorted(dict.fromkeys(r["name"] for r in record["runs"]), key=ablation_order)
    mean = {key: [np.mean([r[key] for r in record["runs"] if r["name"] == n]) for n in names]
            for key in ("final_test_acc", "epoch_seconds")}
    acc = 100 * np.array(mean["final_test_acc"])
    groups = list(dict.fromkeys(map(ablation_group, names)))  # one colour per design question
    colours = [plt.cm.tab10(groups.index(ablation_group(n)) % 10) for n in names]
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(12, 0.32 * len(names) + 1.4), sharey=True)
    y = np.arange(len(names))
    ax_acc.barh(y, acc, color=colours)
    ax_time.barh(y, mean["epoch_seconds"], color=colours)
    if "baseline" in names:
        for ax, values in ((ax_acc, acc), (ax_time, mean["epoch_seconds"])):
            ax.axvline(values[names.index("baseline")], color="black", ls="--", lw=1, label="baseline")
    # zoom on the interesting range; a variant that failed outright is labelled at the left edge instead
    lo = np.floor(10 * (np.median(acc) - 0.9)) / 10
    for k, a in enumerate(acc):
        ax_acc.text(max(a, lo), k, f" {a:.2f}" + (" (off the scale)" if a < lo else ""), va="center", fontsize=8)
    ax_acc.set_xlim(lo, min(acc.max() + 0.15, 100))
    ax_acc.set_yticks(y, names)
    ax_acc.invert_yaxis()
    ax_acc.set_xlabel(f"test accuracy after {record['base']['num_epochs']} epochs (%)")
    ax_time.set_xlabel("seconds per training epoch (2 CPU cores)")
    for ax in (ax_acc, ax_time):
        ax.grid(axis="x", alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle("What each design choice buys: one change from the main model per row")
    fig.tight_layout()
    return save(fig, path)
