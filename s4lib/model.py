"""A small MNIST CNN built from named blocks: 3x3 conv blocks, a max-pool + 1x1 transition, GAP and a Linear head."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from .errors import S4Error

DROPOUT = 0.1  # the main config's drop probability (TrainConfig's default), chosen by the validation search "main"


@dataclass(frozen=True)
class Architecture:
    """Channel widths of each stage; the layout (convs, one transition, GAP, FC) is fixed."""

    block1: tuple[int, ...]  # 3x3 convs at full resolution (28 -> 28 - 2k)
    squeeze: int  # channels after the 1x1 conv of the transition
    block2: tuple[int, ...]  # 3x3 convs after the max-pool
    batchnorm: bool = True  # False only to measure what BatchNorm buys
    spatial_dropout: bool = False  # True: Dropout2d drops whole channels (one random draw per channel, not per pixel)
    # which 3x3 convs get dropout (never the last): "all" of them, or only those "after_pool", where the maps
    # are a quarter of the size, so a tenth of the random draws that cost most of a CPU training step
    dropout_at: str = "all"
    padded: int = 0  # how many of block1's first convs pad by 1 pixel, keeping 28x28: more positions, no parameters
    # True: block2's 3x3 convs are depthwise-separable, a 3x3 conv per channel and a 1x1 conv mixing them:
    # C * 9 + C * C' weights instead of C * C' * 9, so the same parameters buy wider layers
    separable: bool = False


# The presets a user picks: name -> (architecture, what it is, its training recipe). A recipe holds the TrainConfig
# settings that differ from the defaults (the defaults are the main model's recipe); `train --model NAME` and
# TrainConfig.preset(NAME) apply it. Design candidates of the experiments live in s4lib.lab.candidates.
PRESETS: dict[str, Architecture] = {
    # the main model: the max-pool after 2 convs keeps the costly full-resolution part short; dropout only after
    # the max-pool, where the maps are a quarter of the size
    "s4": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16), dropout_at="after_pool"),
    # under 8k parameters: max-pool after 3 convs, dropout after every conv but the last, 12 channels wide
    "tiny": Architecture(block1=(8, 12, 12), squeeze=8, block2=(12, 12, 12, 12)),
    # under 5k parameters: after the max-pool five depthwise-separable convs, 22 channels wide
    "micro-sep-5": Architecture(block1=(8, 12), squeeze=12, block2=(22, 22, 22, 22, 22), dropout_at="after_pool",
                                separable=True),
}
# to iterate quickly: the main model with a recipe of 5 epochs (chosen on validation by the search "fast")
PRESETS["fast"] = PRESETS["s4"]
PRESET_WHAT: dict[str, str] = {
    "s4": "the main model: 7 convs, max-pool after 2",
    "tiny": "12 channels wide, max-pool after 3 convs, dropout after every conv but the last",
    "micro-sep-5": "after the max-pool, five depthwise-separable convs (a 3x3 filter per channel, then a 1x1 that "
                   "mixes the channels), 22 channels wide",
    "fast": "the main model, trained in a third of the epochs",
}
RECIPES: dict[str, dict] = {
    "s4": {},
    "tiny": dict(lr=0.1, dropout=0.05),  # chosen on validation by the search "tiny"
    "micro-sep-5": dict(num_epochs=19),
    "fast": dict(num_epochs=5, dropout=0.05),  # chosen on validation by the search "fast"
}


def architecture(name: str) -> Architecture:
    """The architecture of a preset, or of a design candidate of the lab's experiments."""
    from .lab.candidates import CANDIDATES

    if name in PRESETS:
        return PRESETS[name]
    if name in CANDIDATES:
        return CANDIDATES[name]
    raise S4Error(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")


def recipe(name: str) -> dict:
    """The TrainConfig settings a preset (or lab candidate) trains with, where they differ from the defaults."""
    from .lab.candidates import RECIPES as CANDIDATE_RECIPES

    architecture(name)  # an unknown name is one line here
    return dict(RECIPES.get(name, CANDIDATE_RECIPES.get(name, {})))


# how a recipe names each setting it changes (the tables of the lab name a run's settings the same way)
SETTING_WORDS = {"num_epochs": "{} epochs", "lr": "lr {:g}", "dropout": "dropout {:g}", "batch_size": "batch {}",
                 "weight_decay": "weight decay {:g}", "label_smoothing": "label smoothing {:g}", "ema": "EMA {:g}",
                 "max_rotation_deg": "rotation ±{:g}°", "max_shift_px": "shift ±{:g} px"}


def recipe_words(name: str) -> str:
    """A preset's recipe in words, e.g. 'lr 0.1, dropout 0.05' ('' for the defaults)."""
    return ", ".join(SETTING_WORDS[k].format(v) if k in SETTING_WORDS else f"{k} {v}" for k, v in recipe(name).items())


def known_models() -> list[str]:
    """Every name build_model accepts: the presets, then the lab's design candidates."""
    from .lab.candidates import CANDIDATES

    return [*PRESETS, *CANDIDATES]


def conv_block(c_in: int, c_out: int, dropout: float, batchnorm: bool = True,
               spatial_dropout: bool = False, padding: int = 0, separable: bool = False) -> nn.Sequential:
    """3x3 conv (no padding unless asked, no bias: BN supplies the shift) -> BatchNorm -> ReLU -> Dropout (if > 0).

    separable: the 3x3 conv filters each channel on its own, then a 1x1 conv mixes the channels.
    """
    norm = [nn.BatchNorm2d(c_out)] if batchnorm else []
    if separable:
        conv = [nn.Conv2d(c_in, c_in, 3, padding=padding, groups=c_in, bias=False),
                nn.Conv2d(c_in, c_out, 1, bias=not batchnorm)]
    else:
        conv = [nn.Conv2d(c_in, c_out, 3, padding=padding, bias=not batchnorm)]
    layers = [*conv, *norm, nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout) if spatial_dropout else nn.Dropout(dropout))
    return nn.Sequential(*layers)


def transition(c_in: int, c_out: int, batchnorm: bool = True) -> nn.Sequential:
    """Max-pool halves the resolution, then a 1x1 conv merges channels into fewer."""
    norm = [nn.BatchNorm2d(c_out)] if batchnorm else []
    return nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(c_in, c_out, 1, bias=not batchnorm), *norm, nn.ReLU())


class Net(nn.Module):
    """Conv blocks -> transition -> conv blocks -> global average pooling -> Linear to 10 logits."""

    def __init__(self, arch: Architecture, dropout: float = DROPOUT) -> None:
        super().__init__()
        if arch.dropout_at not in ("all", "after_pool"):
            raise S4Error(f"dropout_at must be 'all' or 'after_pool', got {arch.dropout_at!r}")
        if not 0 <= arch.padded <= len(arch.block1):
            raise S4Error(f"padded must be in 0..{len(arch.block1)} (the convs before the max-pool), got {arch.padded}")
        layers: list[tuple[str, nn.Module]] = []
        c = 1
        early = dropout if arch.dropout_at == "all" else 0.0
        for k, width in enumerate(arch.block1, start=1):
            layers.append((f"conv{k}", conv_block(c, width, early, arch.batchnorm, arch.spatial_dropout,
                                                  padding=int(k <= arch.padded))))
            c = width
        layers.append(("transition", transition(c, arch.squeeze, arch.batchnorm)))
        c = arch.squeeze
        for k, width in enumerate(arch.block2, start=len(arch.block1) + 1):
            # no dropout right before GAP: the last block's features go straight to the prediction
            last = k == len(arch.block1) + len(arch.block2)
            layers.append((f"conv{k}", conv_block(c, width, 0.0 if last else dropout, arch.batchnorm,
                                                   arch.spatial_dropout, separable=arch.separable)))
            c = width
        layers.append(("gap", nn.AdaptiveAvgPool2d(1)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.fc = nn.Linear(c, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10); softmax lives in the loss (cross-entropy) and in predict_proba."""
        return self.fc(self.features(X).flatten(1))


def build_model(preset: str = "s4", dropout: float = DROPOUT) -> Net:
    """A fresh model of a named preset (or lab candidate)."""
    arch = architecture(preset)
    if not 0.0 <= dropout < 1.0:
        raise S4Error(f"dropout must be in [0, 1), got {dropout}")
    return Net(arch, dropout)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_types(model: nn.Module) -> set[str]:
    """Class names of all modules in the model (to check BN, Dropout, GAP and Linear are there)."""
    return {type(m).__name__ for m in model.modules()}
