"""Markdown tables a notebook shows: a model's blocks with their receptive field, and a run's epochs."""
from __future__ import annotations

from torch import nn

from .model import Crop, count_parameters
from .receptive_field import receptive_field_table


def blocks(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """(module path, short name, module) of each block: the children of model.features when that is a
    Sequential, then the other top-level children; for any other model, its top-level children."""
    found = []
    for name, child in model.named_children():
        if name == "features" and isinstance(child, nn.Sequential):
            found += [(f"features.{n}", n, c) for n, c in child.named_children()]
        else:
            found.append((name, name, child))
    return found or [("", type(model).__name__, model)]


def architecture_table(model: nn.Module, input_size: int = 28) -> str:
    """Markdown table: block, layers, output shape, parameters and receptive field after the block."""
    rf = receptive_field_table(model, input_size)
    lines = ["| block | layers | output (C×H×W) | parameters | receptive field |",
             "|---|---|---|---:|---:|", f"| input | | 1×{input_size}×{input_size} | 0 | 1×1 |"]
    for path, name, block in blocks(model):
        spatial = [r for r in rf if path == "" or r.name == path or r.name.startswith(f"{path}.")]
        leaves = [m for m in block.modules() if not list(m.children())] or [block]
        layers = " → ".join(layer_name(m) for m in leaves)
        if spatial:
            last = spatial[-1]
            shape, seen = f"{last.channels_out}×{last.size_out}×{last.size_out}", f"{last.rf}×{last.rf}"
        else:
            linear = [m for m in leaves if isinstance(m, nn.Linear)]
            shape, seen = (str(linear[-1].out_features) if linear else ""), ""
        lines.append(f"| {name} | {layers} | {shape} | {count_parameters(block)} |{f' {seen} ' if seen else ' '}|")
    lines.append(f"| **total** | | | **{count_parameters(model):,}** | |")
    return "\n".join(lines)


def layer_name(m: nn.Module) -> str:
    """A layer as the architecture table names it: conv3x3 8→16, maxpool 2x2, BN, Dropout(0.1), GAP ..."""
    if isinstance(m, nn.Conv2d):
        stride = f"/{m.stride[0]}" if m.stride[0] > 1 else ""
        pad = f" pad {m.padding[0]}" if isinstance(m.padding, tuple) and m.padding[0] else ""
        return f"conv{m.kernel_size[0]}x{m.kernel_size[1]}{stride}{pad} {m.in_channels}→{m.out_channels}"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        return f"{'maxpool' if isinstance(m, nn.MaxPool2d) else 'avgpool'} {k}x{k}"
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return f"{type(m).__name__}({m.p:g})"
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return "GAP" if isinstance(m, nn.AdaptiveAvgPool2d) else "global max-pool"
    if isinstance(m, Crop):
        return f"crop {m.px} px a border"
    return type(m).__name__.replace("BatchNorm2d", "BN")


def results_markdown(record: dict, last: int = 5) -> str:
    """Markdown table of epoch 1 and the last epochs of a training record, final epoch in bold."""
    h = record["history"]
    last3 = ", ".join(f"{100 * e['test_acc']:.2f}%" for e in h[-3:] if e["test_acc"] is not None)
    lines = [f"**{record['num_params']:,} parameters, {len(h)} epochs, final-epoch test accuracy "
             f"{100 * h[-1]['test_acc']:.2f}%** (last 3 epochs: {last3}).", "",
             "| epoch | lr | train loss | train acc | train check acc | test loss | test acc | "
             "seconds (train + eval) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    shown = h if len(h) <= last + 1 else [h[0], None, *h[-last:]]
    for e in shown:
        if e is None:
            lines.append("| … | | | | | | | |")
            continue
        lines.append(epoch_row(e, final=e is h[-1]))
    return "\n".join(lines)


def epoch_row(e: dict, final: bool = False) -> str:
    """One epoch of a record as a table row; an epoch left unscored (eval_every) shows its training numbers only."""
    test = percent(e["test_acc"])
    loss = "" if e["test_loss"] is None else f"{e['test_loss']:.4f}"
    return (f"| {e['epoch']} | {e['lr']:.5f} | {e['train_loss']:.4f} | {percent(e['train_acc'])} | "
            f"{percent(e.get('train_check_acc'))} | {loss} | {f'**{test}**' if final and test else test} | "
            f"{e['seconds']:.0f} + {e['test_seconds']:.0f} |")


def percent(fraction: float | None) -> str:
    """A fraction as a table cell in percent, e.g. '99.46%' ('' for a number a record does not hold)."""
    return "" if fraction is None else f"{100 * fraction:.2f}%"
