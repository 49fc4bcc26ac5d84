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

    @torch.no_grad()
    def update(self, live: nn.Module) -> None:
        """Move the average one step toward the live model; whole-number buffers (BN's step counter) are copied."""
        for average, now in zip(self.model.state_dict().values(), live.state_dict().values()):
            if average.is_floating_point():
                average.lerp_(now, 1.0 - self.decay)
            else:
                average.copy_(now)
