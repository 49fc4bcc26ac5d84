"""How much arithmetic a model does: multiply-adds of its convolutions and Linear layers, counted from its layers."""
from __future__ import annotations

import time

import torch
from torch import nn

# a training step does the forward pass (2 FLOPs per multiply-add) and the backward pass, which computes the
# gradients of both the inputs and the weights: about twice the forward pass, so three forward passes in all
TRAINING_PASSES = 3


def multiply_adds(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """Multiply-adds of one image through every Conv2d and Linear layer (BN, ReLU, pooling and dropout not counted)."""
    counts: list[int] = []

    def conv(m: nn.Conv2d, inputs, out) -> None:
        counts.append(out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])

    def linear(m: nn.Linear, inputs, out) -> None:
        counts.append(m.in_features * m.out_features)

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return sum(counts)


def training_flops(model: nn.Module, num_images: int) -> float:
    """FLOPs of one training pass over num_images: 2 per multiply-add, times TRAINING_PASSES."""
    return 2.0 * TRAINING_PASSES * multiply_adds(model) * num_images


def peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-multiply speed (GFLOP/s): the best of a few n x n products."""
    A, B = torch.randn(n, n), torch.randn(n, n)
    A @ B  # the first call allocates and warms the caches
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9
