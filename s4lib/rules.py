"""The rule every training setting keeps, in words and as a test: finite, in range, whole where it counts."""
from __future__ import annotations

import math

from .device import DEVICES, MEMORY_FORMATS, PRECISIONS
from .model import Architecture


def is_whole_number(v) -> bool:
    """An int (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def finite(v) -> bool:
    """A real, finite number (not a bool, not NaN or infinity)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def number_in(low: float, high: float, high_open: bool = False):
    """A test: a finite number in [low, high] (or [low, high))."""
    return lambda v: finite(v) and low <= v and (v < high if high_open else v <= high)


# (setting, rule in words, test) for every setting: finite, in range, whole where it counts, one of its choices
RULES = [
    ("num_epochs", "a whole number in 1..100", lambda v: is_whole_number(v) and 1 <= v <= 100),
    ("batch_size", "a whole number in 1..60000", lambda v: is_whole_number(v) and 1 <= v <= 60_000),
    ("lr", "a positive finite number", lambda v: finite(v) and v > 0),
    ("div_factor", "a number in [1, 1e4]", number_in(1, 1e4)),
    ("final_div_factor", "a number in [1, 1e6]", number_in(1, 1e6)),
    ("pct_start", "a number in (0, 1)", lambda v: finite(v) and 0 < v < 1),
    ("max_momentum", "a number in [0, 1)", number_in(0, 1, True)),
    ("base_momentum", "a number in [0, 1)", number_in(0, 1, True)),
    ("weight_decay", "a finite number >= 0", lambda v: finite(v) and v >= 0),
    ("label_smoothing", "a number in [0, 1)", number_in(0, 1, True)),
    ("ema", "0 (off) or a decay in (0, 1)", number_in(0, 1, True)),
    ("dropout", "a number in [0, 1)", number_in(0, 1, True)),
    ("max_rotation_deg", "a number in [0, 180]", number_in(0, 180)),
    ("max_shift_px", "a number in [0, 14] (half an image)", number_in(0, 14)),
    ("seed", "a whole number >= 0", lambda v: is_whole_number(v) and v >= 0),
    ("train_subset", "a whole number >= 0 (0 = all)", lambda v: is_whole_number(v) and v >= 0),
    ("test_subset", "a whole number >= 0 (0 = all)", lambda v: is_whole_number(v) and v >= 0),
    ("validation", "a whole number in 0..30000", lambda v: is_whole_number(v) and 0 <= v <= 30_000),
    ("eval_every", "a whole number >= 0 (0 = the last epoch only)", lambda v: is_whole_number(v) and v >= 0),
    ("threads", "a whole number in 0..256 (0 = torch's default)", lambda v: is_whole_number(v) and 0 <= v <= 256),
    ("loader", "'memory' or 'torchvision'", lambda v: v in ("memory", "torchvision")),
    ("device", f"one of {', '.join(DEVICES)}", lambda v: v in DEVICES),
    ("precision", f"one of {', '.join(PRECISIONS)}", lambda v: v in PRECISIONS),
    ("memory_format", f"one of {', '.join(MEMORY_FORMATS)}", lambda v: v in MEMORY_FORMATS),
    ("deterministic", "True or False", lambda v: isinstance(v, bool)),
    ("architecture", "an Architecture", lambda v: isinstance(v, Architecture)),
]
