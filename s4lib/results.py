"""What a training run leaves: one EpochLog per epoch and a TrainResult, as records and checkpoints keep them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from torch import nn

from .errors import S4Error

if TYPE_CHECKING:
    from .train import TrainConfig


@dataclass(frozen=True)
class EpochLog:
    """What one epoch measured (the test numbers are None for an epoch that was not scored, see eval_every)."""

    epoch: int
    lr: float  # learning rate at the end of the epoch
    train_loss: float  # mean over the epoch's batches, with augmentation and dropout on
    train_acc: float  # fraction, same batches
    test_loss: float | None
    test_acc: float | None  # fraction of the test set (or the held-out images), model in eval mode
    seconds: float  # training pass only
    test_seconds: float  # the evaluation passes: test (or held-out) set and the training-set check
    # the training-set check: the first TRAIN_CHECK_IMAGES training images in eval mode, no augmentation
    train_check_loss: float | None = None
    train_check_acc: float | None = None


@dataclass
class TrainResult:
    """History of every epoch plus the trained model."""

    config: TrainConfig
    num_params: int
    history: list[EpochLog] = field(default_factory=list)
    model: nn.Module | None = None  # the final model: the moving average of the weights when config.ema is on
    interrupted: bool = False  # Ctrl-C stopped it; history holds the completed epochs
    diverged: str | None = None  # why a NaN or infinite loss stopped it; history holds the completed epochs
    evaluated_on: str = "test"  # or "validation": images held out of the training set (config.validation)
    first_losses: list[float] = field(default_factory=list)  # training loss of each of the first FIRST_STEPS steps
    device: str = "cpu"  # the device that ran it, as describe() names it
    model_name: str = ""  # the preset, or the class name of a model of one's own ("" = config.model)
    precision: str = "fp32"  # what config.precision resolved to on this device
    memory_format: str = "channels_last"  # what config.memory_format resolved to on this device
    # wall time from the data on hand to the final model evaluated: model built, every epoch trained and scored
    # (this process's part only, for a resumed run)
    wall_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.model_name = self.model_name or self.config.model

    @property
    def own_model(self) -> bool:
        """True when train() was given a model of one's own instead of a preset."""
        return self.model_name != self.config.model

    @property
    def final(self) -> EpochLog:
        """The last epoch: the number to report (never the best one)."""
        return self.history[-1]

    def to_dict(self) -> dict:
        """JSON-ready record (no model)."""
        from .checkpoint import config_record

        return dict(config=config_record(self.config, self.model_name), num_params=self.num_params, device=self.device,
                    **({"own_model": True} if self.own_model else {}), precision=self.precision,
                    memory_format=self.memory_format, evaluated_on=self.evaluated_on, first_losses=self.first_losses,
                    history=[asdict(e) for e in self.history], interrupted=self.interrupted,
                    **({"diverged": self.diverged} if self.diverged else {}))

    def checkpoint(self) -> dict:
        """The trained weights with the config and history that made them (loadable with weights_only)."""
        from .checkpoint import config_record

        return dict(config=config_record(self.config, self.model_name), history=[asdict(e) for e in self.history],
                    num_params=self.num_params, **({"own_model": True} if self.own_model else {}),
                    model_state=self.model.state_dict())


class Diverged(S4Error):
    """The training loss became NaN or infinite."""


def epoch_line(e: EpochLog, num_epochs: int, test_images: int = 10_000, split: str = "test") -> str:
    """The one log line printed per epoch: training batches, then (when scored) the training-set check and the test
    (or held-out) set."""
    line = (f"epoch {e.epoch:2d}/{num_epochs}  lr {e.lr:.4f}  train loss {e.train_loss:.4f} acc "
            f"{100 * e.train_acc:6.2f}%  ")
    if e.test_acc is None:
        return line + f"|  {e.seconds:.1f}s"
    check = f"check acc {100 * e.train_check_acc:6.2f}%  " if e.train_check_acc is not None else ""
    return (line + f"{check}|  {'val' if split == 'validation' else split} loss {e.test_loss:.4f} acc "
            f"{100 * e.test_acc:6.2f}% ({round(e.test_acc * test_images)}/{test_images})  |  "
            f"{e.seconds:.1f}s + {e.test_seconds:.1f}s")
