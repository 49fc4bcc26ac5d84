"""One entry point, train(config) -> TrainResult: SGD + OneCycle on MNIST, logged per epoch."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .device import DEVICES, PRECISIONS, autocast, describe, resolve_device, resolve_precision
from .ema import EMA
from .errors import S4Error
from .model import DROPOUT, PRESETS, build_model, count_parameters, known_models, recipe


MAX_EPOCHS = 100  # a sane bound: the schedules here use 5 to 19
TRAIN_CHECK_IMAGES = 5_000  # training images evaluated like the test set after every epoch
FIRST_STEPS = 100  # training losses kept step by step at the start: the early comparison of designs
UNIFORM_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 digits
WATCH_STEPS = 100  # after this many steps a loss still near UNIFORM_LOSS means the network is not learning
# training settings added after records were first written, with the value every run made before them had:
# a record without one ran with that value, so it stays the same experiment as a config holding it
SETTINGS_ADDED_LATER = {"label_smoothing": 0.0, "ema": 0.0, "precision": "fp32"}


class Diverged(S4Error):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run, with its unit."""

    model: str = "s4"  # preset name in s4lib.model.PRESETS (unused when train() is given a model of one's own)
    num_epochs: int = 15  # full passes over the 60,000 training images
    batch_size: int = 128  # images per SGD step
    lr: float = 0.4  # peak learning rate of the one-cycle schedule (chosen on validation by the search "main")
    div_factor: float = 10.0  # the schedule starts at lr / div_factor
    final_div_factor: float = 100.0  # and ends at lr / div_factor / final_div_factor
    pct_start: float = 0.25  # fraction of all steps spent warming up to the peak lr
    # SGD with Nesterov momentum; one-cycle moves the momentum opposite to the lr, every step:
    # max_momentum at the start and end, base_momentum at the peak lr
    max_momentum: float = 0.95
    base_momentum: float = 0.85
    weight_decay: float = 0.0  # L2 penalty per step, SGD-style
    label_smoothing: float = 0.0  # training targets: 1 - x on the true digit, x spread over all 10 (loss only)
    ema: float = 0.0  # decay per step of a moving average of the weights, which becomes the final model; 0 = off
    dropout: float = DROPOUT  # drop probability after each conv block that has dropout
    max_rotation_deg: float = 7.0  # augmentation: uniform rotation in [-x, x] degrees
    max_shift_px: float = 2.0  # augmentation: uniform shift in [-x, x] pixels, each axis
    seed: int = 1  # seeds weights, batch order and augmentation
    data_root: str = "data"  # MNIST lives in data_root/MNIST/raw
    loader: str = "memory"  # "memory" (batched tensors) or "torchvision" (DataLoader, per-sample PIL)
    train_subset: int = 0  # use only the first N training images; 0 = all (tests use a few thousand)
    test_subset: int = 0  # use only the first N test images; 0 = all
    validation: int = 0  # hold out N training images (a fixed split) and evaluate on them instead of the test set
    device: str = "auto"  # "auto" (CUDA when there is one, else CPU), "cpu", "cuda" or "mps"
    channels_last: bool = True  # NHWC memory layout for the model's weights and activations (faster convs on CPU)
    # arithmetic of the forward pass and loss: "fp32"; "bf16" (autocast, CPU or CUDA); "fp16" (CUDA, with a
    # gradient scaler); "auto" = bf16 where the hardware computes it natively, else fp32. Weights stay float32.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        problems = [f"{name} must be {rule}, got {getattr(self, name)!r}"
                    for name, rule, ok in self.checks() if not ok(getattr(self, name))]
        if self.model not in known_models():
            problems.append(f"unknown model preset {self.model!r}; choose one of {', '.join(PRESETS)}")
        if self.loader not in ("memory", "torchvision"):
            problems.append(f"loader must be 'memory' or 'torchvision', got {self.loader!r}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if problems:
            raise S4Error("invalid training config: " + "; ".join(problems))

    @classmethod
    def preset(cls, name: str = "s4", **overrides) -> TrainConfig:
        """The config a preset trains with: the defaults, then the preset's recipe, then the overrides."""
        return cls(**({"model": name} | recipe(name) | overrides))

    @staticmethod
    def checks() -> list[tuple[str, str, Callable]]:
        """(setting, rule in words, test) for every number: finite, in range, whole where it counts."""
        return [
            ("num_epochs", f"a whole number in 1..{MAX_EPOCHS}", lambda v: whole(v) and 1 <= v <= MAX_EPOCHS),
            ("batch_size", "a whole number in 1..60000", lambda v: whole(v) and 1 <= v <= 60_000),
            ("lr", "a positive finite number", lambda v: finite(v) and v > 0),
            ("div_factor", "a number in [1, 1e4]", lambda v: finite(v) and 1 <= v <= 1e4),
            ("final_div_factor", "a number in [1, 1e6]", lambda v: finite(v) and 1 <= v <= 1e6),
            ("max_momentum", "a number in [0, 1)", lambda v: finite(v) and 0 <= v < 1),
            ("base_momentum", "a number in [0, 1)", lambda v: finite(v) and 0 <= v < 1),
            ("weight_decay", "a finite number >= 0", lambda v: finite(v) and v >= 0),
            ("label_smoothing", "a number in [0, 1)", lambda v: finite(v) and 0 <= v < 1),
            ("ema", "0 (off) or a decay in (0, 1)", lambda v: finite(v) and 0 <= v < 1),
            ("pct_start", "a number in (0, 1)", lambda v: finite(v) and 0 < v < 1),
            ("dropout", "a number in [0, 1)", lambda v: finite(v) and 0 <= v < 1),
            ("max_rotation_deg", "a number in [0, 180]", lambda v: finite(v) and 0 <= v <= 180),
            ("max_shift_px", "a number in [0, 14] (half an image)", lambda v: finite(v) and 0 <= v <= 14),
            ("seed", "a whole number >= 0", lambda v: whole(v) and v >= 0),
            ("train_subset", "a whole number >= 0 (0 = all)", lambda v: whole(v) and v >= 0),
            ("test_subset", "a whole number >= 0 (0 = all)", lambda v: whole(v) and v >= 0),
            ("validation", "a whole number in 0..30000", lambda v: whole(v) and 0 <= v <= 30_000),
        ]


def whole(v) -> bool:
    """An int (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def finite(v) -> bool:
    """A real, finite number (not a bool, not NaN or infinity)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class EpochLog:
    """What one epoch measured."""

    epoch: int
    lr: float  # learning rate at the end of the epoch
    train_loss: float  # mean over the epoch's batches, with augmentation and dropout on
    train_acc: float  # fraction, same batches
    test_loss: float
    test_acc: float  # fraction of the test set (or the validation images), model in eval mode
    seconds: float  # training pass only
    test_seconds: float  # the evaluation passes: test (or validation) set and the training-set check
    # the training-set check: the first TRAIN_CHECK_IMAGES training images in eval mode, no augmentation,
    # so train and test accuracy compare like with like (None in records made before it existed)
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
        return dict(config=config_record(self.config, self.model_name), num_params=self.num_params, device=self.device,
                    **({"own_model": True} if self.own_model else {}),
                    **({"precision": self.precision} if self.precision != "fp32" else {}),
                    evaluated_on=self.evaluated_on, first_losses=self.first_losses,
                    history=[asdict(e) for e in self.history], interrupted=self.interrupted,
                    **({"diverged": self.diverged} if self.diverged else {}))

    def checkpoint(self) -> dict:
        """The trained weights with the config and history that made them (loadable with weights_only)."""
        return dict(config=config_record(self.config, self.model_name), history=[asdict(e) for e in self.history],
                    num_params=self.num_params, **({"own_model": True} if self.own_model else {}),
                    model_state=self.model.state_dict())


def config_record(config: TrainConfig, model_name: str | None = None) -> dict:
    """A config as records and checkpoints keep it: the data folder relative to the clone, not a path of this machine,
    and the model by its name (the preset, or the class of a model of one's own)."""
    from .project import shown

    return asdict(config) | dict(data_root=shown(config.data_root), model=model_name or config.model)


def epoch_line(e: EpochLog, num_epochs: int, test_images: int = 10_000, split: str = "test") -> str:
    """The one log line printed per epoch: training batches, the training-set check, then test (or validation)."""
    check = f"check acc {100 * e.train_check_acc:6.2f}%  " if e.train_check_acc is not None else ""
    return (f"epoch {e.epoch:2d}/{num_epochs}  lr {e.lr:.4f}  "
            f"train loss {e.train_loss:.4f} acc {100 * e.train_acc:6.2f}%  {check}|  "
            f"{'val' if split == 'validation' else split} loss {e.test_loss:.4f} acc {100 * e.test_acc:6.2f}% "
            f"({round(e.test_acc * test_images)}/{test_images})  |  {e.seconds:.1f}s + {e.test_seconds:.1f}s")


@torch.inference_mode()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of model on (X, y), in eval mode, on the model's device."""
    model.eval()
    device = model_device(model)
    loss, correct = 0.0, 0
    for k in range(0, len(X), batch_size):
        y_hat, y_k = model(X[k:k + batch_size].to(device)), y[k:k + batch_size].to(device)
        loss += F.cross_entropy(y_hat, y_k, reduction="sum").item()
        correct += (y_hat.argmax(1) == y_k).sum().item()
    return loss / len(X), correct / len(X)


@torch.inference_mode()
def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted class of every image (on the CPU, wherever the model runs)."""
    model.eval()
    device = model_device(model)
    return torch.cat([model(X[k:k + batch_size].to(device)).argmax(1).cpu() for k in range(0, len(X), batch_size)])


def per_class_accuracy(y_hat: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> list[tuple[int, int]]:
    """(correct, total) for each class c, counted over the images whose true label is c."""
    return [(int((y_hat[y == c] == c).sum()), int((y == c).sum())) for c in range(num_classes)]


def model_device(model: nn.Module) -> torch.device:
    """The device the model's weights are on."""
    return next(model.parameters()).device


def make_train_batches(config: TrainConfig, X: torch.Tensor, y: torch.Tensor):
    """The training batch source the config asks for."""
    from .data import InMemoryLoader, torchvision_loader

    if config.loader == "torchvision":
        if config.train_subset:
            raise S4Error("train_subset works with loader='memory' only")
        return torchvision_loader(config.data_root, train=True, batch_size=config.batch_size,
                                  seed=config.seed, max_rotation_deg=config.max_rotation_deg,
                                  max_shift_px=config.max_shift_px)
    return InMemoryLoader(X, y, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                          max_rotation_deg=config.max_rotation_deg, max_shift_px=config.max_shift_px,
                          background=float(X.min()))


def train_one_epoch(model, batches, optimizer, scheduler, desc: str, progress: bool = True,
                    watch: bool = False, first_losses: list[float] | None = None, label_smoothing: float = 0.0,
                    after_step: Callable[[], None] | None = None, precision: str = "fp32",
                    scaler=None) -> tuple[float, float]:
    """One pass over the training batches; returns mean loss and accuracy.

    A NaN or infinite loss raises Diverged at once; with watch, a loss still near a uniform guess after
    WATCH_STEPS steps prints one warning (the early sign of a network that is not going well), and the
    losses of the first FIRST_STEPS steps are appended to first_losses.
    """
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    recent: list[float] = []
    # plain-text bar on stdout: it renders in Jupyter, in a terminal and in the saved notebook on GitHub
    bar = tqdm(batches, desc=desc, file=sys.stdout, ncols=100, mininterval=2.0, leave=True, disable=not progress)
    device = model_device(model)
    for step, (X, y) in enumerate(bar, start=1):
        with autocast(precision, device):
            y_hat = model(X)
            loss = F.cross_entropy(y_hat, y, label_smoothing=label_smoothing)
        if not torch.isfinite(loss):
            bar.close()
            raise Diverged(f"the training loss became {loss.item()} at step {step} of {desc}; the learning rate is "
                           "probably too high for this model (without BatchNorm, try a 5-10x smaller --lr)")
        if watch and first_losses is not None and step <= FIRST_STEPS:
            first_losses.append(loss.item())
        if watch and step <= WATCH_STEPS:
            recent = (recent + [loss.item()])[-10:]
            if step == WATCH_STEPS and sum(recent) / len(recent) > 0.9 * UNIFORM_LOSS:
                tqdm.write(f"warning: after {step} steps the training loss is still {sum(recent) / len(recent):.2f}, "
                           f"near ln 10 = {UNIFORM_LOSS:.2f} (a uniform guess): this network is not learning yet; "
                           "check the learning rate, the normalisation and BatchNorm", file=sys.stdout)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:  # fp16: scale the loss so small gradients do not underflow, unscale before the step
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        if after_step:
            after_step()
        loss_sum += loss.item() * len(y)
        correct += (y_hat.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    return loss_sum / seen, correct / seen


def training_state(result: TrainResult, optimizer, scheduler, batches, live: nn.Module, scaler=None) -> dict:
    """Everything needed to continue after the last completed epoch exactly as if never stopped."""
    # with a moving average the final model is the average; the live weights the optimizer moves are kept too
    averaged = {} if live is result.model else dict(live_state=live.state_dict())
    return result.checkpoint() | averaged | dict(
        optimizer_state=optimizer.state_dict(), scheduler_state=scheduler.state_dict(),
        loader_rng=batches.generator.get_state(), torch_rng=torch.get_rng_state(), precision=result.precision,
        **({"scaler_state": scaler.state_dict()} if scaler is not None else {}),
        # dropout on a GPU draws from that GPU's generator
        cuda_rng=torch.cuda.get_rng_state() if result.device.startswith("cuda") else None)


def memory_format(config: TrainConfig) -> torch.memory_format:
    """How the model lays out its tensors; the input has one channel, so NCHW and NHWC batches are the same bytes."""
    return torch.channels_last if config.channels_last else torch.contiguous_format


def make_optimizer(config: TrainConfig, model: nn.Module, steps_per_epoch: int):
    """SGD with Nesterov momentum, and the one-cycle schedule that sets its lr and momentum every step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.max_momentum,
                                nesterov=True, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.num_epochs, steps_per_epoch=steps_per_epoch,
        pct_start=config.pct_start, div_factor=config.div_factor, final_div_factor=config.final_div_factor,
        cycle_momentum=True, base_momentum=config.base_momentum, max_momentum=config.max_momentum)
    return optimizer, scheduler


def config_differences(then: dict, now: TrainConfig, model_name: str | None = None) -> dict:
    """Settings that differ between a saved config and now; the data folder by where it is, not how it is written."""
    then = SETTINGS_ADDED_LATER | then  # a checkpoint from before a setting existed ran with its old value
    now_settings = asdict(now) | dict(model=model_name or now.model)
    diff = {k: (v, then.get(k)) for k, v in now_settings.items() if k != "device" and then.get(k) != v}
    if "data_root" in diff and Path(str(then.get("data_root"))).resolve() == Path(now.data_root).resolve():
        del diff["data_root"]
    return diff


def restore(ckpt: dict, result: TrainResult, optimizer, scheduler, batches, path, live: nn.Module,
            scaler=None) -> None:
    """Load a training checkpoint written by the same config into the live objects."""
    diff = config_differences(ckpt["config"], result.config, result.model_name)
    if ckpt.get("precision", "fp32") != result.precision:  # "auto" may resolve differently on other hardware
        diff["precision (as computed)"] = (result.precision, ckpt.get("precision", "fp32"))
    if diff:
        raise S4Error(f"checkpoint {path} was written by a different config (now, then): {diff}; "
                      "resume with the same flags or start a new checkpoint")
    if "optimizer_state" not in ckpt:
        raise S4Error(f"checkpoint {path} holds final weights only, not a training state to resume")
    try:
        result.model.load_state_dict(ckpt["model_state"])
        if live is not result.model:
            live.load_state_dict(ckpt["live_state"])
        optimizer.load_state_dict(ckpt["optimizer_state"])
        scheduler.load_state_dict(ckpt["scheduler_state"])
        if scaler is not None and "scaler_state" in ckpt:
            scaler.load_state_dict(ckpt["scaler_state"])
        batches.generator.set_state(ckpt["loader_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt["cuda_rng"])
        result.history = [EpochLog(**e) for e in ckpt["history"]]
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise S4Error(f"checkpoint {path} holds a training state of another shape ({type(e).__name__}: "
                      f"{str(e).splitlines()[0][:160] if str(e) else ''}); start a new checkpoint") from None


def check_model(model: nn.Module, name: str, device: torch.device) -> None:
    """Refuse, in one line, a model that fails on a batch of MNIST images or does not return (N, 10) logits."""
    if count_parameters(model) == 0:
        raise S4Error(f"model {name} has no trainable parameters")
    X = torch.zeros(2, 1, 28, 28, device=device)
    was_training = model.training
    model.eval()  # no dropout draws and no BatchNorm statistics: the check leaves the model and the RNG as they were
    try:
        with torch.no_grad():
            y_hat = model(X)
    except Exception as e:
        reason = str(e).splitlines()[0][:200] if str(e) else ""
        hint = ("; the model runs in the channels_last layout: use .reshape or .flatten instead of .view, or "
                "channels_last=False (--no-channels-last)" if "view" in reason else "")
        raise S4Error(f"model {name} fails on a batch of shape (2, 1, 28, 28): {type(e).__name__}: {reason}{hint}") \
            from None
    finally:
        model.train(was_training)
    got = tuple(y_hat.shape) if isinstance(y_hat, torch.Tensor) else type(y_hat).__name__
    if got != (2, 10):
        raise S4Error(f"model {name} must map a batch of shape (N, 1, 28, 28) to logits of shape (N, 10); "
                      f"for N = 2 it returned {got}")


def train(config: TrainConfig = TrainConfig(), model: nn.Module | None = None, verbose: bool = True,
          checkpoint: str | Path | None = None, resume: bool = False) -> TrainResult:
    """Train as config says; every epoch is evaluated and logged, the last one is the result.

    model: a model of one's own (any nn.Module from (N, 1, 28, 28) images to (N, 10) logits) instead of the
    preset config.model; it is trained in place. With checkpoint, the training state is saved atomically after
    every epoch; resume continues from it. Ctrl-C returns the completed epochs (result.interrupted).
    """
    from .checkpoint import load_checkpoint, save_atomic

    if resume and not checkpoint:
        raise S4Error("resume needs the checkpoint path to continue from")
    if checkpoint and config.loader != "memory":
        raise S4Error("checkpoints and resume need loader='memory' (its batch order can be saved)")

    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    torch.manual_seed(config.seed)
    name = config.model if model is None else type(model).__name__
    if not isinstance(model, (nn.Module, type(None))):
        raise S4Error(f"model must be an nn.Module (or None for the preset config.model), got {type(model).__name__}")
    if model is not None:  # a model of one's own is checked before anything is loaded
        model = model.to(device, memory_format=memory_format(config))
        check_model(model, name, device)
    X_train, y_train, X_test, y_test = load_data(config, device, verbose)
    started = time.perf_counter()
    if model is None:  # built after the data, as every committed record was: same seed, same first weights
        model = build_model(config.model, config.dropout).to(device, memory_format=memory_format(config))
        check_model(model, name, device)
    ema = EMA(model, config.ema) if config.ema else None
    result = TrainResult(config, count_parameters(model), model=ema.model if ema else model, device=describe(device),
                         evaluated_on="validation" if config.validation else "test", model_name=name,
                         precision=precision)
    if verbose:
        on = f"; evaluated on {len(y_test):,} validation images held out of training" if config.validation else ""
        arithmetic = f", {precision}" if precision != "fp32" or config.precision != "fp32" else ""
        print(f"training {name} ({result.num_params:,} parameters) on {result.device}{arithmetic}{on}", flush=True)
    batches = make_train_batches(config, X_train, y_train)
    total_steps = config.num_epochs * len(batches)
    if config.pct_start * total_steps <= 1:
        raise S4Error(f"{total_steps} training steps leave no room for the one-cycle warm-up "
                      f"(pct_start {config.pct_start} of them must be more than 1 step); "
                      "train on more images or epochs, or with a smaller batch")
    optimizer, scheduler = make_optimizer(config, model, len(batches))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    if resume:
        restore(load_checkpoint(checkpoint), result, optimizer, scheduler, batches, checkpoint, model, scaler)
        if verbose:
            print(f"resumed from {checkpoint} after epoch {len(result.history)}")
            for log in result.history:
                print(epoch_line(log, config.num_epochs, len(y_test), result.evaluated_on))
    try:
        for epoch in range(len(result.history) + 1, config.num_epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_acc = train_one_epoch(model, batches, optimizer, scheduler,
                                                    desc=f"epoch {epoch}/{config.num_epochs}", progress=verbose,
                                                    watch=epoch == 1, first_losses=result.first_losses,
                                                    label_smoothing=config.label_smoothing,
                                                    after_step=(lambda: ema.update(model)) if ema else None,
                                                    precision=precision, scaler=scaler)
            t1 = time.perf_counter()
            # the final model (the average, with ema) is the one scored, every epoch
            test_loss, test_acc = evaluate(result.model, X_test, y_test)
            check_loss, check_acc = evaluate(result.model, X_train[:TRAIN_CHECK_IMAGES],
                                             y_train[:TRAIN_CHECK_IMAGES])
            t2 = time.perf_counter()
            log = EpochLog(epoch, optimizer.param_groups[0]["lr"], train_loss, train_acc,
                           test_loss, test_acc, t1 - t0, t2 - t1, check_loss, check_acc)
            result.history.append(log)
            if checkpoint:
                save_atomic(training_state(result, optimizer, scheduler, batches, model, scaler), checkpoint)
            if verbose:
                print(epoch_line(log, config.num_epochs, len(y_test), result.evaluated_on), flush=True)
    except KeyboardInterrupt:
        result.interrupted = True
        print(f"\ninterrupted: {stopped_summary(result, checkpoint)}", flush=True)
    except Diverged as e:
        result.diverged = str(e)
        print(f"stopped: {e}; {stopped_summary(result, checkpoint)}", flush=True)
    result.wall_seconds = time.perf_counter() - started
    return result


def stopped_summary(result: TrainResult, checkpoint: str | Path | None) -> str:
    """What a stopped run kept: its completed epochs, and what the checkpoint file really holds (read back)."""
    from .checkpoint import saved_epochs

    done = f"kept the history of {len(result.history)} completed epoch(s)"
    if not checkpoint:
        return done
    held = saved_epochs(checkpoint)
    if held is None:
        return f"{done}; no checkpoint was written to {checkpoint}"
    return f"{done}; checkpoint {checkpoint} holds {held} epoch(s): continue with --resume (resume=True in Python)"


def load_data(config: TrainConfig, device: torch.device, verbose: bool = True) -> tuple[torch.Tensor, ...]:
    """X_train, y_train, X_test, y_test as the config asks (validation split, subsets), on the device."""
    from .data import hold_out, load_mnist

    X_train, y_train, X_test, y_test = load_mnist(config.data_root, verbose=verbose)
    if config.validation:  # the test set stays unread: the held-out training images take its place
        X_train, y_train, X_test, y_test = hold_out(X_train, y_train, config.validation)
    if config.train_subset:
        X_train, y_train = X_train[:config.train_subset], y_train[:config.train_subset]
    if config.test_subset:
        X_test, y_test = X_test[:config.test_subset], y_test[:config.test_subset]
    # the whole data set lives on the device: batches are cut and augmented there, with no copies per step
    return tuple(t.to(device) for t in (X_train, y_train, X_test, y_test))
