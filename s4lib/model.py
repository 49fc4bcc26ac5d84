"""A small MNIST CNN built from named blocks: 3x3 conv blocks, a max-pool + 1x1 transition, GAP and a Linear head."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .errors import S4Error

DROPOUT = 0.1  # the main model's drop probability (TrainConfig's default)
DROPOUT_PLACES = ("all", "after_pool", "head")
DOWNSAMPLES = ("maxpool", "stride")
MAX_CROP = 6  # a crop leaves at least the central 16x16 pixels of the 28x28 image


@dataclass(frozen=True)
class Architecture:
    """Everything that builds a network of this family: 3x3 convs, the map halved (max-pool or strided conv) with an
    optional 1x1 transition, more 3x3 convs, GAP and a Linear layer to 10 logits."""

    block1: tuple[int, ...]  # widths of the 3x3 convs before the map is halved (each shrinks it by 2 unless padded)
    squeeze: int  # channels after the transition's 1x1 conv; 0 = no 1x1 conv, the max-pool alone
    block2: tuple[int, ...]  # widths of the 3x3 convs after the max-pool
    batchnorm: bool = True  # BatchNorm after every conv (False: the convs get biases instead)
    spatial_dropout: bool = False  # True: Dropout2d zeroes whole channels (one random draw per channel, not per pixel)
    # where dropout goes: after "all" 3x3 convs but the last, only those "after_pool", where the maps are a quarter of
    # the size (a quarter of the random draws, which cost much of a CPU training step), or only on the "head": the
    # averaged features entering the Linear layer, one draw per channel and image
    dropout_at: str = "all"
    padded: int = 0  # how many of block1's first convs pad by 1 pixel, keeping 28x28: more positions, no parameters
    # True: block2's 3x3 convs are depthwise-separable, a 3x3 conv per channel and a 1x1 conv mixing them:
    # C * 9 + C * C' weights instead of C * C' * 9, so the same parameters buy wider layers
    separable: bool = False
    # how the map is halved between the blocks: a "maxpool" after block1, or block1's last conv moving in "stride"s of
    # 2 pixels, which computes a quarter of that conv's positions and needs no pooling layer
    downsample: str = "maxpool"
    # the kernel of the conv that halves the map when downsample is "stride": 3, or 4, whose 4x4 windows in strides
    # of 2 cover what a 3x3 conv and the 2x2 max-pool after it see together (4x4 pixels), at a quarter of the positions
    stride_kernel: int = 3
    # pixels cut from every border of the 28x28 image before the first conv: MNIST's digits were fitted into 20x20
    # pixels and centred in the 28x28 image, so its border holds little ink, and every later map is smaller
    crop: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not self.block1 or not self.block2:
            problems.append("block1 and block2 need at least one conv each")
        if any(not isinstance(w, int) or w < 1 for w in (*self.block1, *self.block2)) or self.squeeze < 0:
            problems.append("widths must be whole numbers >= 1 (squeeze >= 0)")
        if self.dropout_at not in DROPOUT_PLACES:
            problems.append(f"dropout_at must be one of {', '.join(DROPOUT_PLACES)}, got {self.dropout_at!r}")
        if self.downsample not in DOWNSAMPLES:
            problems.append(f"downsample must be one of {', '.join(DOWNSAMPLES)}, got {self.downsample!r}")
        if not isinstance(self.stride_kernel, int) or self.stride_kernel < 1:
            problems.append(f"stride_kernel must be a whole number >= 1, got {self.stride_kernel!r}")
        elif self.stride_kernel != 3 and self.downsample != "stride":
            problems.append("stride_kernel sizes the strided conv: it needs downsample 'stride'")
        if not isinstance(self.crop, int) or not 0 <= self.crop <= MAX_CROP:
            problems.append(f"crop must be a whole number of pixels in 0..{MAX_CROP}, got {self.crop!r}")
        if not 0 <= self.padded <= len(self.block1):
            problems.append(f"padded must be in 0..{len(self.block1)} (the convs before the max-pool)")
        if problems:
            raise S4Error("invalid architecture: " + "; ".join(problems))

    def to_dict(self) -> dict:
        """As a record keeps it (lists for the widths)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        """From a record: every field named, nothing else (a record describes its network whole)."""
        names = {f.name for f in fields(cls)}
        if set(d) != names:
            raise S4Error(f"an architecture needs exactly the fields {sorted(names)}; missing "
                          f"{sorted(names - set(d))}, unknown {sorted(set(d) - names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# The presets a user picks: name -> architecture; RECIPES holds the TrainConfig settings each trains with where they
# differ from the defaults (the defaults are the main model's recipe). The experiment report says how each was chosen.
PRESETS: dict[str, Architecture] = {
    # the main model: the max-pool after 2 convs keeps the costly full-resolution part short; dropout only after
    # the max-pool, where the maps are a quarter of the size
    "s4": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16), dropout_at="after_pool"),
    # under 8k parameters: max-pool after 3 convs, dropout after every conv but the last, 12 channels wide
    "tiny": Architecture(block1=(8, 12, 12), squeeze=8, block2=(12, 12, 12, 12)),
    # under 5k parameters: after the max-pool five depthwise-separable convs, 22 channels wide
    "micro-sep-5": Architecture(block1=(8, 12), squeeze=12, block2=(22, 22, 22, 22, 22), dropout_at="after_pool",
                                separable=True),
    # to iterate quickly: the max-pool right after a first conv of only 6 channels (every layer at full resolution
    # reads and writes each of them), so the five 3x3 convs after it run on 13x13 maps and smaller, wider (20) where
    # positions are few; no 1x1 squeeze; dropout only on the averaged features
    "fast": Architecture(block1=(6,), squeeze=0, block2=(20, 20, 20, 20, 20), dropout_at="head"),
}
PRESET_DESCRIPTIONS: dict[str, str] = {
    "s4": "the main model: 7 convs, max-pool after 2",
    "tiny": "12 channels wide, max-pool after 3 convs",
    "micro-sep-5": "after the max-pool, five separable convs 22 wide (a 3x3 per channel, then a 1x1)",
    "fast": "a first conv of 6, the max-pool, then five convs 20 wide",
}
RECIPES: dict[str, dict] = {
    "s4": {},
    "tiny": dict(lr=0.1, dropout=0.05),
    "micro-sep-5": dict(num_epochs=19),
    # scored once, after the last epoch; milder augmentation, which five epochs fit better
    "fast": dict(num_epochs=5, dropout=0.05, eval_every=0, max_rotation_deg=5.0, max_shift_px=1.0),
}


def preset_architecture(name: str) -> Architecture:
    """The architecture of a preset, or one line naming the presets."""
    if name not in PRESETS:
        raise S4Error(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


# how a recipe names each setting it changes (the lab's tables name a run's settings the same way)
SETTING_PHRASES = {"num_epochs": "{} epochs", "lr": "lr {:g}", "dropout": "dropout {:g}", "batch_size": "batch {}",
                   "weight_decay": "weight decay {:g}", "label_smoothing": "label smoothing {:g}", "ema": "EMA {:g}",
                   "max_rotation_deg": "rotation ±{:g}°", "max_shift_px": "shift ±{:g} px",
                   "eval_every": "scored every {} epochs", "precision": "{}", "memory_format": "{} layout"}
# the values whose words are not the phrase filled in
VALUE_PHRASES = {("eval_every", 0): "scored after the last epoch only", ("eval_every", 1): "scored after every epoch",
                 ("precision", "auto"): "bf16 where native"}


def setting_phrase(key: str, value) -> str:
    """A setting in words, e.g. 'lr 0.1' or 'scored after the last epoch only'."""
    if (key, value) in VALUE_PHRASES:
        return VALUE_PHRASES[key, value]
    return SETTING_PHRASES[key].format(value) if key in SETTING_PHRASES else f"{key} {value}"


def recipe_words(name: str) -> str:
    """A preset's recipe in words, e.g. 'lr 0.1, dropout 0.05' ('' for the defaults)."""
    preset_architecture(name)
    return ", ".join(setting_phrase(k, v) for k, v in RECIPES[name].items())


def conv_block(c_in: int, c_out: int, dropout: float, batchnorm: bool = True, spatial_dropout: bool = False,
               padding: int = 0, separable: bool = False, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """3x3 conv (no padding unless asked, no bias: BN supplies the shift) -> BatchNorm -> ReLU -> Dropout (if > 0).

    kernel: another size for the conv (the strided conv's 4x4); the separable conv is always 3x3.
    separable: the 3x3 conv filters each channel on its own, then a 1x1 conv mixes the channels.
    """
    norm = [nn.BatchNorm2d(c_out)] if batchnorm else []
    if separable:
        conv = [nn.Conv2d(c_in, c_in, 3, padding=padding, groups=c_in, bias=False),
                nn.Conv2d(c_in, c_out, 1, bias=not batchnorm)]
    else:
        conv = [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=not batchnorm)]
    layers = [*conv, *norm, nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout) if spatial_dropout else nn.Dropout(dropout))
    return nn.Sequential(*layers)


def transition(c_in: int, c_out: int, batchnorm: bool = True, pool: bool = True) -> nn.Sequential:
    """Max-pool halves the resolution (pool=False: a strided conv already did), then a 1x1 conv merges the channels
    into fewer (c_out = 0: no 1x1)."""
    layers = [nn.MaxPool2d(2)] if pool else []
    if c_out:
        norm = [nn.BatchNorm2d(c_out)] if batchnorm else []
        layers += [nn.Conv2d(c_in, c_out, 1, bias=not batchnorm), *norm, nn.ReLU()]
    return nn.Sequential(*layers)


class Crop(nn.Module):
    """Cuts px pixels from every border of a batch of images: the central part goes on, the border is never read."""

    def __init__(self, px: int) -> None:
        super().__init__()
        self.px = px

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        p = self.px
        return X[..., p:X.shape[-2] - p, p:X.shape[-1] - p]

    def extra_repr(self) -> str:
        return f"px={self.px}"


class Net(nn.Module):
    """Conv blocks -> transition -> conv blocks -> global average pooling -> Linear to 10 logits."""

    def __init__(self, arch: Architecture, dropout: float = DROPOUT) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise S4Error(f"dropout must be in [0, 1), got {dropout}")
        layers: list[tuple[str, nn.Module]] = [("crop", Crop(arch.crop))] if arch.crop else []
        c = 1
        early = dropout if arch.dropout_at == "all" else 0.0
        strided = arch.downsample == "stride"
        for k, width in enumerate(arch.block1, start=1):
            halves = strided and k == len(arch.block1)
            layers.append((f"conv{k}", conv_block(c, width, early, arch.batchnorm, arch.spatial_dropout,
                                                  padding=int(k <= arch.padded), stride=2 if halves else 1,
                                                  kernel=arch.stride_kernel if halves else 3)))
            c = width
        if not strided or arch.squeeze:
            layers.append(("transition", transition(c, arch.squeeze, arch.batchnorm, pool=not strided)))
        c = arch.squeeze or c
        late = 0.0 if arch.dropout_at == "head" else dropout
        for k, width in enumerate(arch.block2, start=len(arch.block1) + 1):
            # no dropout right before GAP: the last block's features go straight to the prediction
            last = k == len(arch.block1) + len(arch.block2)
            layers.append((f"conv{k}", conv_block(c, width, 0.0 if last else late, arch.batchnorm,
                                                   arch.spatial_dropout, separable=arch.separable)))
            c = width
        layers.append(("gap", nn.AdaptiveAvgPool2d(1)))
        if arch.dropout_at == "head" and dropout > 0:
            layers.append(("dropout", nn.Dropout(dropout)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.fc = nn.Linear(c, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10); softmax lives in the loss (cross-entropy) and in predict."""
        return self.fc(self.features(X).flatten(1))


def build_model(architecture: Architecture | str = "s4", dropout: float = DROPOUT) -> Net:
    """A fresh network of an architecture, or of a preset named by its name."""
    arch = preset_architecture(architecture) if isinstance(architecture, str) else architecture
    return Net(arch, dropout)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters, trainable or frozen (a moving average of the weights is frozen, yet it is the model)."""
    return sum(p.numel() for p in model.parameters())


def layer_types(model: nn.Module) -> set[str]:
    """Class names of all modules in the model (to check BN, Dropout, GAP and Linear are there)."""
    return {type(m).__name__ for m in model.modules()}


def check_model(model: nn.Module, name: str, device: torch.device) -> None:
    """Refuse, in one line, a model that fails on a batch of MNIST images or does not return (N, 10) logits."""
    if count_parameters(model) == 0:
        raise S4Error(f"model {name} has no parameters")
    X = torch.zeros(2, 1, 28, 28, device=device)
    was_training = model.training
    model.eval()  # no dropout draws and no BatchNorm statistics: the check leaves the model and the RNG as they were
    try:
        with torch.no_grad():
            y_hat = model(X)
    except Exception as e:
        reason = str(e).splitlines()[0][:200] if str(e) else ""
        hint = ("; the model runs in the channels_last layout: use .reshape or .flatten instead of .view, or "
                "memory_format='nchw' (--memory-format nchw)" if "view" in reason else "")
        raise S4Error(f"model {name} fails on a batch of shape (2, 1, 28, 28): {type(e).__name__}: {reason}{hint}") \
            from None
    finally:
        model.train(was_training)
    got = tuple(y_hat.shape) if isinstance(y_hat, torch.Tensor) else type(y_hat).__name__
    if got != (2, 10):
        raise S4Error(f"model {name} must map a batch of shape (N, 1, 28, 28) to logits of shape (N, 10); "
                      f"for N = 2 it returned {got}")
