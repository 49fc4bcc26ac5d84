"""The assignment's claims about a trained model, checked from the model and its result: claim -> bool."""
from __future__ import annotations

from torch import nn

from .model import count_parameters
from .results import TrainResult

MAX_PARAMETERS = 20_000  # fewer than this many trainable parameters
MAX_EPOCHS = 20  # fewer than this many epochs
MIN_TEST_ACC = 0.994  # at the final epoch, on the whole MNIST test set (the assignment's "validation accuracy")


def has_layer(model: nn.Module, *kinds: type) -> bool:
    """Whether any module of the model is one of these kinds."""
    return any(isinstance(m, kinds) for m in model.modules())


def has_gap(model: nn.Module) -> bool:
    """Global average pooling: an adaptive average pool to 1x1 (nn.AdaptiveAvgPool2d(1))."""
    return any(isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)) for m in model.modules())


def assignment_checks(model: nn.Module, result: TrainResult) -> dict[str, bool]:
    """Each claim of the assignment and whether this model and its training run meet it."""
    final = result.history[-1] if result.history else None
    return {
        "parameters < 20,000": count_parameters(model) < MAX_PARAMETERS,
        "epochs < 20": (result.config.num_epochs < MAX_EPOCHS and len(result.history) == result.config.num_epochs
                        and not result.interrupted and not result.diverged),
        "BatchNorm": has_layer(model, nn.modules.batchnorm._BatchNorm),
        "Dropout": has_layer(model, nn.modules.dropout._DropoutNd),
        "global average pooling": has_gap(model),
        "fully connected layer": has_layer(model, nn.Linear),
        # a validation run or a test subset is not the assignment's measure
        "final-epoch test accuracy >= 99.4%": (final is not None and result.evaluated_on == "test"
                                               and result.config.test_subset == 0 and final.test_acc >= MIN_TEST_ACC),
    }


def checks_report(model: nn.Module, result: TrainResult) -> str:
    """One line per claim, PASS or FAIL, with the value measured."""
    final = result.history[-1] if result.history else None
    measured = {
        "parameters < 20,000": f"{count_parameters(model):,} parameters",
        "epochs < 20": f"{len(result.history)} of {result.config.num_epochs} epochs trained",
        "final-epoch test accuracy >= 99.4%": (
            "no epoch finished" if final is None else
            f"{100 * final.test_acc:.2f}% on {result.evaluated_on}"
            + (f" (the first {result.config.test_subset:,} test images only)" if result.config.test_subset else "")),
    }
    return "\n".join(f"{'PASS' if ok else 'FAIL'}  {claim}" + (f"  ({measured[claim]})" if claim in measured else "")
                     for claim, ok in assignment_checks(model, result).items())
