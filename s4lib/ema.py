"""An exponential moving average of a model's weights: a smoother final model for the cost of a copy."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """After every step: average = decay * average + (1 - decay) * live, for weights and BatchNorm statistics."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay  # per training step: 0.999 forgets with a time constant of about 1,000 steps
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))

    @torch.no_grad()
    def update(self, live: nn.Module | None = None) -> None:
        """Move the average one step toward the live model it was made from; whole-number buffers (BN's step
        counter) are copied. Two foreach calls in all: on a GPU, a few kernel launches instead of one per tensor."""
        floats = [(a, b) for a, b in self.pairs if a.is_floating_point()]
        counts = [(a, b) for a, b in self.pairs if not a.is_floating_point()]
        torch._foreach_lerp_([a for a, _ in floats], [b for _, b in floats], 1.0 - self.decay)
        torch._foreach_copy_([a for a, _ in counts], [b for _, b in counts])
