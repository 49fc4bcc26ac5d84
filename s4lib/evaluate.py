"""Scoring a trained model: loss and accuracy, predictions, accuracy per digit; on the model's device."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device the model's weights are on."""
    return next(model.parameters()).device


@torch.inference_mode()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of model on (X, y), in eval mode; the host waits for the device once."""
    model.eval()
    device = model_device(model)
    loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for k in range(0, len(X), batch_size):
        y_hat, y_k = model(X[k:k + batch_size].to(device)), y[k:k + batch_size].to(device)
        loss += F.cross_entropy(y_hat, y_k, reduction="sum").double()
        correct += (y_hat.argmax(1) == y_k).sum()
    return float(loss) / len(X), int(correct) / len(X)


@torch.inference_mode()
def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted class of every image (on the CPU, wherever the model runs)."""
    model.eval()
    device = model_device(model)
    return torch.cat([model(X[k:k + batch_size].to(device)).argmax(1).cpu() for k in range(0, len(X), batch_size)])


def per_class_accuracy(y_hat: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> list[tuple[int, int]]:
    """(correct, total) for each class c, counted over the images whose true label is c."""
    y_hat, y = y_hat.cpu(), y.cpu()
    return [(int((y_hat[y == c] == c).sum()), int((y == c).sum())) for c in range(num_classes)]
