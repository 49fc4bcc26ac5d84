"""Receptive field of every layer: walk the model's spatial layers in order and track size, RF and jump."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class RFRow:
    """One spatial layer: output size, receptive field and jump (input pixels between adjacent outputs)."""

    name: str
    kind: str  # e.g. "conv 3x3", "maxpool 2x2", "GAP"
    channels_out: int | None
    size_out: int
    rf: int
    jump: int


def _as_int(v) -> int:
    return v[0] if isinstance(v, tuple) else int(v)


def receptive_field_table(model: nn.Module, input_size: int = 28) -> list[RFRow]:
    """Per-layer table: r_out = r_in + (k - 1) * j_in, j_out = j_in * s, n_out = (n_in + 2p - k) // s + 1."""
    rows = [RFRow("input", "image", 1, input_size, 1, 1)]
    n, rf, jump, channels = input_size, 1, 1, 1
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            k, s, p = _as_int(m.kernel_size), _as_int(m.stride), _as_int(m.padding)
            kind, channels = f"conv {k}x{k}", m.out_channels
        elif isinstance(m, nn.MaxPool2d):
            k, s, p = _as_int(m.kernel_size), _as_int(m.stride or m.kernel_size), _as_int(m.padding)
            kind = f"maxpool {k}x{k}"
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            # global pooling: one output sees the whole remaining map
            k, s, p, kind = n, n, 0, "GAP"
        else:
            continue
        rf += (k - 1) * jump
        jump *= s
        n = (n + 2 * p - k) // s + 1
        rows.append(RFRow(name, kind, channels, n, rf, jump))
    return rows


def format_rf_table(rows: list[RFRow]) -> str:
    """Markdown table of receptive_field_table rows."""
    lines = ["| layer | kind | channels | output size | receptive field | jump |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.kind} | {r.channels_out} | {r.size_out}x{r.size_out} | {r.rf}x{r.rf} | {r.jump} |"
              for r in rows]
    return "\n".join(lines)
