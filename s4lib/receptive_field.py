"""Receptive field of every layer: walk the model's spatial layers in order and track size, RF and jump."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .errors import S4Error
from .model import Crop


@dataclass(frozen=True)
class RFRow:
    """One spatial layer: output size, receptive field and jump (input pixels between adjacent outputs)."""

    name: str
    kind: str  # e.g. "conv 3x3", "maxpool 2x2", "GAP"
    channels_out: int | None
    size_out: int
    rf: int
    jump: int
    start: float = 0.0  # centre, in input pixels, of the receptive field of the layer's first output (row 0, col 0)


def _as_int(v) -> int:
    if isinstance(v, str):  # padding="same" or "valid"
        raise S4Error(f"padding={v!r} is not supported by the receptive-field table; give the padding in pixels")
    return v[0] if isinstance(v, tuple) else int(v)


def receptive_field_table(model: nn.Module, input_size: int = 28) -> list[RFRow]:
    """Per-layer table: r_out = r_in + (k - 1) * j_in, j_out = j_in * s, n_out = (n_in + 2p - k) // s + 1."""
    rows = [RFRow("input", "image", 1, input_size, 1, 1, 0.0)]
    n, rf, jump, channels, start = input_size, 1, 1, 1, 0.0
    for name, m in model.named_modules():
        if isinstance(m, Crop):  # the map loses its border; what each pixel sees is unchanged
            n, start = n - 2 * m.px, start + m.px
            rows.append(RFRow(name, f"crop {m.px} px", channels, n, rf, jump, start))
            continue
        if isinstance(m, nn.Conv2d):
            k, s, p = _as_int(m.kernel_size), _as_int(m.stride), _as_int(m.padding)
            kind, channels = f"conv {k}x{k}", m.out_channels
            k = _as_int(m.dilation) * (k - 1) + 1  # a dilated kernel spans more pixels with the same weights
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = _as_int(m.kernel_size), _as_int(m.stride or m.kernel_size), _as_int(m.padding)
            kind = f"{'maxpool' if isinstance(m, nn.MaxPool2d) else 'avgpool'} {k}x{k}"
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            # global pooling: one output sees the whole remaining map
            k, s, p, kind = n, n, 0, "GAP"
        else:
            continue
        rf += (k - 1) * jump
        start += ((k - 1) / 2 - p) * jump  # the first window's centre moves by half a kernel, less the padding
        jump *= s
        n = (n + 2 * p - k) // s + 1
        rows.append(RFRow(name, kind, channels, n, rf, jump, start))
    return rows


def input_window(row: RFRow, i: int, j: int) -> tuple[float, float, float, float]:
    """The square of input pixels output (i, j) of a layer sees: (top, left, bottom, right) edges in pixel units,
    pixel k spanning [k - 0.5, k + 0.5]; it may reach past the image where the layer pads."""
    half = row.rf / 2
    ci, cj = row.start + i * row.jump, row.start + j * row.jump
    return ci - half, cj - half, ci + half, cj + half


def format_rf_table(rows: list[RFRow]) -> str:
    """Markdown table of receptive_field_table rows."""
    lines = ["| layer | kind | channels | output size | receptive field | jump |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.kind} | {r.channels_out} | {r.size_out}x{r.size_out} | {r.rf}x{r.rf} | {r.jump} |"
              for r in rows]
    return "\n".join(lines)
