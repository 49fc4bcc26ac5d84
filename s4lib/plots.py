"""Figures: backprop error curves, training curves, mistakes, confusion matrix, and what a trained network does
inside: kernels, feature maps, receptive fields, the one-cycle schedule, BatchNorm."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from .errors import S4Error

if TYPE_CHECKING:  # torch is imported inside the functions that need it, so the backprop plots start fast
    import torch


def to_numpy(values) -> np.ndarray:
    """A tensor (on any device) or array-like as a NumPy array."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    return np.asarray(values)


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
    """Loss and accuracy per epoch: training batches, the training-set check, and the test set (the epochs scored)."""
    epochs = [e.epoch for e in history]
    check = [e for e in history if e.train_check_acc is not None]
    scored = [e for e in history if e.test_acc is not None]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax_loss.plot(epochs, [e.train_loss for e in history], "o-", label="training batches (augmented, dropout on)")
    ax_acc.plot(epochs, [100 * e.train_acc for e in history], "o-", label="training batches (augmented, dropout on)")
    if check:
        label = "training-set check (eval mode, no augmentation)"
        ax_loss.plot([e.epoch for e in check], [e.train_check_loss for e in check], "s-", label=label)
        ax_acc.plot([e.epoch for e in check], [100 * e.train_check_acc for e in check], "s-", label=label)
    ax_loss.plot([e.epoch for e in scored], [e.test_loss for e in scored], "o-", label="test")
    ax_acc.plot([e.epoch for e in scored], [100 * e.test_acc for e in scored], "o-", label="test")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("loss per epoch (log scale)")
    ax_loss.set_yscale("log")
    ax_acc.axhline(99.4, color="gray", ls="--", lw=1, label="99.4%, the assignment's accuracy")
    ax_acc.set_ylabel("accuracy (%)")
    low = 97.5  # zoom on the last points; any below the axis are marked at its edge with their value
    ax_acc.set_ylim(low, 100)
    series = [("training batches", [(e.epoch, 100 * e.train_acc) for e in history]),
              ("check", [(e.epoch, 100 * e.train_check_acc) for e in check]),
              ("test", [(e.epoch, 100 * e.test_acc) for e in scored])]
    below = []
    for k, (name, points) in enumerate(series):
        off = [(epoch, acc) for epoch, acc in points if acc < low]
        for epoch, _ in off:
            ax_acc.plot(epoch, low, marker="v", color=f"C{k}", clip_on=False, zorder=5)
        if off:
            below.append(f"{name} at epoch " + ", ".join(f"{epoch} ({acc:.1f}%)" for epoch, acc in off))
    ax_acc.set_title(f"accuracy per epoch (axis from {low:g}%; points below it marked ▼)")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if below:
        ax_acc.set_xlabel("epoch\n▼ below the axis: " + "; ".join(below), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_mistakes(X, y, y_hat, max_images: int = 40, path=None):
    """Grid of misclassified test digits titled 'true -> predicted'."""
    X, y, y_hat = to_numpy(X), to_numpy(y), to_numpy(y_hat)
    wrong = np.flatnonzero(y != y_hat)[:max_images]
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.35), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, k in zip(axes.flat, wrong):
        ax.imshow(X[k, 0], cmap="gray_r")
        ax.set_title(f"{int(y[k])} → {int(y_hat[k])}", fontsize=9, color="crimson")
    fig.suptitle(f"Misclassified test digits (true → predicted), first {len(wrong)} of "
                 f"{int((y != y_hat).sum())}")
    fig.tight_layout()
    return save(fig, path)


def confusion_matrix(y, y_hat, num_classes: int = 10) -> np.ndarray:
    """Counts[true, predicted]."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (to_numpy(y), to_numpy(y_hat)), 1)
    return m


def top_confusions(y, y_hat, k: int = 3) -> list[tuple[int, int, int]]:
    """The k most frequent mistakes as (true, predicted, count), most frequent first."""
    m = confusion_matrix(y, y_hat)
    np.fill_diagonal(m, 0)
    pairs = sorted(((int(m[t, p]), t, p) for t in range(len(m)) for p in range(len(m)) if m[t, p]), reverse=True)
    return [(t, p, n) for n, t, p in pairs[:k]]


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


def block_outputs(model, X) -> list[tuple[str, torch.Tensor]]:
    """(block name, output) of every block whose output is a feature map, for a batch X, in eval mode."""
    from .tables import blocks

    outputs = []
    watched = [(block, lambda m, i, o, name=name: outputs.append((name, o.detach())))
               for _, name, block in blocks(model)]
    forward_watching(model, X, watched, training=False)
    return [(name, o.float().cpu()) for name, o in outputs if o.dim() == 4 and o.shape[-1] > 1]


def forward_watching(model, X, watched: list, training: bool) -> None:
    """One forward pass of X (no gradients, on the model's device) with each (module, hook) pair attached; the hooks
    and the model's train/eval mode are as they were afterwards."""
    import torch

    hooks = [module.register_forward_hook(hook) for module, hook in watched]
    was_training = model.training
    model.train(training)
    try:
        with torch.no_grad():
            model(X.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()


def plot_feature_maps(model, x, path: str | Path | None = None, max_channels: int = 16):
    """One digit through the network: every channel of every block's output, one colour scale per block."""
    maps = block_outputs(model, x[None] if x.dim() == 3 else x[:1])
    cols = max(min(max(o.shape[1] for _, o in maps), max_channels), 2)
    fig, axes = plt.subplots(len(maps), cols + 1, figsize=(1.0 * (cols + 1), 1.1 * len(maps)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(np.asarray(x.reshape(-1, *x.shape[-2:])[0].cpu()), cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=8)
    for row, (name, out) in zip(axes, maps):
        fm = out[0, :max_channels].numpy()
        lo, hi = float(fm.min()), float(fm.max())
        row[1].set_title(f"{name}: {out.shape[1]}×{out.shape[2]}×{out.shape[3]}", fontsize=8, loc="left")
        for ax, channel in zip(row[1:], fm):
            ax.imshow(channel, cmap="viridis", vmin=lo, vmax=hi)
    fig.suptitle("Feature maps: one test digit through every block (rows), each channel a panel, "
                 "one colour scale per row", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_kernels(model, x, path: str | Path | None = None):
    """The first layer's learned 3x3 kernels, each above what it does to one digit (the conv's output)."""
    import torch
    from torch import nn

    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise S4Error(f"{type(model).__name__} has no Conv2d layer, so it has no kernels to draw")
    weights = conv.weight.detach().float().cpu()
    with torch.no_grad():  # the convolution alone, without its bias: what the kernel itself responds to
        out = nn.functional.conv2d(x.reshape(1, 1, *x.shape[-2:]).float().cpu(), weights, stride=conv.stride,
                                   padding=conv.padding)[0]
    n = weights.shape[0]
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.2), squeeze=False)
    scale = float(weights.abs().max())
    for k in range(n):
        axes[0, k].imshow(weights[k, 0].numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
        axes[0, k].set_title(f"kernel {k + 1}", fontsize=8)
        axes[1, k].imshow(out[k].numpy(), cmap="RdBu_r", vmin=-float(out.abs().max()), vmax=float(out.abs().max()))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("3x3 weights\n(red +, blue −)", fontsize=8)
    axes[1, 0].set_ylabel("output\n(before BN)", fontsize=8)
    fig.suptitle("What the first layer's kernels find: each 3x3 kernel (top) and its output on one digit (bottom)",
                 fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_receptive_field(model, x, path: str | Path | None = None):
    """For the centre output of each block, the square of input pixels it sees, drawn on one digit."""
    from matplotlib.patches import Rectangle

    from .receptive_field import input_window, receptive_field_table
    from .tables import blocks

    rows = receptive_field_table(model, x.shape[-1])
    if len(rows) < 2:
        raise S4Error(f"{type(model).__name__} has no convolution or pooling layer: no receptive field to draw")
    panels = []
    for path_, name, _ in blocks(model):  # the last spatial layer of each block
        inside = [r for r in rows if r.name == path_ or r.name.startswith(f"{path_}.")]
        if inside:
            panels.append((name, inside[-1]))
    cols = min(len(panels), 5)
    lines = -(-len(panels) // cols)
    fig, axes = plt.subplots(lines, cols, figsize=(2.3 * cols, 2.5 * lines), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    image = np.asarray(x.reshape(-1, *x.shape[-2:])[0].cpu())
    for ax, (name, r) in zip(axes.flat, panels):
        c = (r.size_out - 1) // 2
        top, left, bottom, right = input_window(r, c, c)
        ax.imshow(image, cmap="gray_r")
        ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color="crimson", lw=2))
        ax.set_xlim(-1.5, image.shape[1] + 0.5)
        ax.set_ylim(image.shape[0] + 0.5, -1.5)
        ax.set_title(f"{name}: {r.rf}×{r.rf} (jump {r.jump})", fontsize=9)
    fig.suptitle("Receptive field: the input pixels one output of each block sees (its centre output); "
                 "after the stride-2 max-pool each 3x3 conv adds 4 pixels instead of 2", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def one_cycle_schedule(config, steps_per_epoch: int) -> tuple[list[float], list[float]]:
    """Learning rate and momentum at every step of a run, read from the optimizer as the scheduler sets them."""
    import torch

    from .train import make_optimizer

    optimizer, scheduler = make_optimizer(config, torch.nn.Linear(1, 1), steps_per_epoch)
    lrs, momenta = [], []
    for _ in range(config.num_epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return lrs, momenta


def plot_one_cycle(config, steps_per_epoch: int, path: str | Path | None = None):
    """The one-cycle schedule of a run: learning rate and momentum at every step, from the scheduler itself."""
    lrs, momenta = one_cycle_schedule(config, steps_per_epoch)
    epochs = np.arange(len(lrs)) / steps_per_epoch
    fig, (ax_lr, ax_m) = plt.subplots(1, 2, figsize=(12, 3.6))
    ax_lr.plot(epochs, lrs)
    ax_lr.set_title(f"learning rate: {lrs[0]:g} up to {max(lrs):g}, then down to {lrs[-1]:.1g}")
    ax_lr.set_ylabel("learning rate")
    ax_m.plot(epochs, momenta, color="tab:orange")
    ax_m.set_title(f"momentum: {momenta[0]:g} down to {min(momenta):g}, then back up")
    ax_m.set_ylabel("Nesterov momentum")
    for ax in (ax_lr, ax_m):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(f"One-cycle schedule: {config.num_epochs} epochs of {steps_per_epoch} steps "
                 f"(batch {config.batch_size}), set at every step")
    fig.tight_layout()
    return save(fig, path)


def pre_activations(model, X) -> list[tuple[str, np.ndarray]]:
    """(block, values) of what enters each block's ReLU, for a batch X, in training mode (as training sees them).

    It runs on a copy: training mode would update the model's BatchNorm statistics and draw dropout masks."""
    import copy

    from torch import nn

    from .tables import blocks

    model = copy.deepcopy(model)

    found, watched = [], []
    for _, name, block in blocks(model):
        relus = [m for m in block.modules() if isinstance(m, nn.ReLU)]
        if relus:
            watched.append((relus[0], lambda m, i, o, name=name: found.append(
                (name, i[0].detach().float().cpu().numpy().ravel()))))
    forward_watching(model, X, watched, training=True)
    return found


def plot_batchnorm_effect(with_bn, without_bn, X, path: str | Path | None = None):
    """At the start of training: the spread of what enters each ReLU, with BatchNorm and without it."""
    fig, (ax_std, ax_hist) = plt.subplots(1, 2, figsize=(12, 3.8))
    runs = {"with BatchNorm": pre_activations(with_bn, X), "without BatchNorm": pre_activations(without_bn, X)}
    for label, values in runs.items():
        ax_std.plot([name for name, _ in values], [v.std() for _, v in values], "o-", label=label)
    ax_std.set_yscale("log")
    ax_std.set_title("standard deviation of each layer's input to ReLU")
    ax_std.set_xlabel("block")
    ax_std.set_ylabel("standard deviation (log scale)")
    ax_std.tick_params(axis="x", labelrotation=45)
    last = {label: values[-1] for label, values in runs.items()}
    for label, (name, v) in last.items():
        ax_hist.hist(v, bins=80, alpha=0.6, density=True, label=f"{label} ({name})")
    ax_hist.set_title("distribution of the last block's input to ReLU")
    ax_hist.set_xlabel("value")
    ax_hist.set_ylabel("density")
    for ax in (ax_std, ax_hist):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("BatchNorm at the start of training: every layer's inputs stay centred with unit spread; "
                 "without it the spread drifts layer by layer", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
