"""One entry point, train(config) -> TrainResult: SGD + OneCycle on MNIST, logged per epoch."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .data import load_data, make_train_batches
from .device import (autocast, describe, numerics, resolve_device, resolve_precision, synchronize,
                     torch_memory_format, torch_threads)
from .ema import EMA
from .errors import S4Error
from .evaluate import evaluate, model_device
from .model import (DROPOUT, PRESETS, RECIPES, Architecture, build_model, check_model, count_parameters,
                    preset_architecture)
from .results import Diverged, EpochLog, TrainResult, epoch_line
from .rules import RULES

TRAIN_CHECK_IMAGES = 5_000  # training images scored like the test set (eval mode, no augmentation): like with like
FIRST_STEPS = 100  # losses kept step by step at the start; a loss still near ln 10 after them means no learning
UNIFORM_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 digits
SYNC_EVERY = 50  # steps between the host's looks at the loss (finite? progress bar): a look makes it wait for a GPU


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run, with its unit."""

    model: str = "s4"  # a preset's name (s4lib.model.PRESETS), or a name for the architecture given next
    architecture: Architecture | None = None  # what builds the network; None = the preset named by model
    num_epochs: int = 15  # full passes over the 60,000 training images
    batch_size: int = 128  # images per SGD step
    lr: float = 0.4  # peak learning rate of the one-cycle schedule
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
    eval_every: int = 1  # score the test (or held-out) set and the training-set check every N epochs; 0 = last only
    device: str = "auto"  # "auto" (CUDA when there is one, else CPU), "cpu", "cuda" or "mps"
    precision: str = "fp32"  # one of s4lib.device.PRECISIONS; the weights stay float32 whatever it is
    # how the model's tensors are laid out: "nchw" (each channel's map whole), or "channels_last" (each pixel's
    # channels side by side); which is faster depends on model and CPU (`benchmark` times the main config in both)
    memory_format: str = "nchw"
    deterministic: bool = False  # deterministic GPU kernels (slower); CPU runs repeat to the bit either way
    threads: int = 0  # torch threads on the CPU; 0 = torch's default (one per core). They change the float order

    def __post_init__(self) -> None:
        if self.architecture is None:
            object.__setattr__(self, "architecture", preset_architecture(self.model))
        elif self.model in PRESETS and self.architecture != PRESETS[self.model]:  # e.g. replace(config, model=...)
            raise S4Error(f"model {self.model!r} names a preset but the architecture is another; give the architecture "
                          "a name of its own, or build the config with TrainConfig.preset(name)")
        problems = [f"{name} must be {rule}, got {getattr(self, name)!r}" for name, rule, ok in RULES
                    if not ok(getattr(self, name))]
        if problems:
            raise S4Error("invalid training config: " + "; ".join(problems))

    @classmethod
    def preset(cls, name: str = "s4", **overrides) -> TrainConfig:
        """The config a preset trains with: the defaults, then the preset's recipe, then the overrides."""
        preset_architecture(name)
        return cls(**({"model": name} | RECIPES[name] | overrides))


def train(config: TrainConfig = TrainConfig(), model: nn.Module | None = None, verbose: bool = True,
          checkpoint: str | Path | None = None, resume: bool = False) -> TrainResult:
    """Train as config says; every epoch is logged, the last one is evaluated and is the result.

    model: a model of one's own (any nn.Module from (N, 1, 28, 28) images to (N, 10) logits) instead of the preset;
    it is trained in place and handed back on the device it came from. With checkpoint, the training state is saved
    atomically after every epoch; resume continues from it. Ctrl-C returns the completed epochs (result.interrupted).
    """
    from .checkpoint import load_checkpoint, restore

    if resume and not checkpoint:
        raise S4Error("resume needs the checkpoint path to continue from")
    if checkpoint and config.loader != "memory":
        raise S4Error("checkpoints and resume need loader='memory' (its batch order can be saved)")
    if not isinstance(model, (nn.Module, type(None))):
        raise S4Error(f"model must be an nn.Module (or None for the preset config.model), got {type(model).__name__}")
    device = resolve_device(config.device)
    with torch_threads(config.threads), numerics(resolve_precision(config.precision, device), config.deterministic):
        run = start_run(config, model, device, verbose)
        if resume:
            restore(load_checkpoint(checkpoint), run, checkpoint)
            run.say(f"resumed from {checkpoint} after epoch {len(run.result.history)}")
            for log in run.result.history:
                run.say(run.line(log))
        run_epochs(run, checkpoint)
    return run.result


@dataclass
class Stepper:
    """What a training step needs besides its batch: the optimizer and schedule, the loss and arithmetic settings,
    and the moving average it updates."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    precision: str = "fp32"
    label_smoothing: float = 0.0
    scaler: torch.amp.GradScaler | None = None  # fp16: scales the loss so small gradients do not underflow
    ema: EMA | None = None


@dataclass
class Run:
    """A run in progress: its result so far, and what the epochs use."""

    config: TrainConfig
    result: TrainResult
    model: nn.Module  # the weights the optimizer moves (result.model is their average when config.ema is on)
    batches: object  # InMemoryLoader, or torchvision's DataLoader
    stepper: Stepper
    X_test: torch.Tensor
    y_test: torch.Tensor
    X_check: torch.Tensor
    y_check: torch.Tensor
    verbose: bool = True
    home: torch.device | None = None  # where a model of one's own came from, and goes back to
    started: float = 0.0  # the clock when the data was on hand

    def say(self, text: str) -> None:
        """Print a line of the log (verbose runs only)."""
        if self.verbose:
            print(text, flush=True)

    def line(self, log: EpochLog) -> str:
        """An epoch's log line."""
        return epoch_line(log, self.config.num_epochs, len(self.y_test), self.result.evaluated_on)


def start_run(config: TrainConfig, own: nn.Module | None, device: torch.device, verbose: bool) -> Run:
    """Seed, check a model of one's own (before any data is loaded), load the data, build the preset, set up SGD."""
    precision = resolve_precision(config.precision, device)
    layout = config.memory_format
    torch.manual_seed(config.seed)
    name = type(own).__name__ if own is not None else config.model
    home = next(own.parameters()).device if own is not None and count_parameters(own) else None
    if own is not None:
        own = own.to(device, memory_format=torch_memory_format(layout))
        check_model(own, name, device)
    X_train, y_train, X_test, y_test = load_data(config, device, verbose)
    started = time.perf_counter()
    # a preset is built after the data, as every committed record was: same seed, same first weights
    model = own or build_model(config.architecture, config.dropout).to(device,
                                                                       memory_format=torch_memory_format(layout))
    check_model(model, name, device)
    ema = EMA(model, config.ema) if config.ema else None
    result = TrainResult(config, count_parameters(model), model=ema.model if ema else model, device=describe(device),
                         evaluated_on="validation" if config.validation else "test", model_name=name,
                         precision=precision, memory_format=layout)
    on = f"; evaluated on {len(y_test):,} validation images held out of training" if config.validation else ""
    arithmetic = f", {precision}" if precision != "fp32" or config.precision != "fp32" else ""
    batches = make_train_batches(config, X_train, y_train, device)
    total_steps = config.num_epochs * len(batches)
    if config.pct_start * total_steps <= 1:
        raise S4Error(f"{total_steps} training steps leave no room for the one-cycle warm-up "
                      f"(pct_start {config.pct_start} of them must be more than 1 step); "
                      "train on more images or epochs, or with a smaller batch")
    optimizer, scheduler = make_optimizer(config, model, len(batches))
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    stepper = Stepper(optimizer, scheduler, precision, config.label_smoothing, scaler, ema)
    run = Run(config, result, model, batches, stepper, X_test, y_test, X_train[:TRAIN_CHECK_IMAGES],
              y_train[:TRAIN_CHECK_IMAGES], verbose, home, started)
    run.say(f"training {name} ({result.num_params:,} parameters) on {result.device}{arithmetic}{on}")
    return run


def run_epochs(run: Run, checkpoint: str | Path | None) -> None:
    """Train the remaining epochs, scoring and logging each as eval_every says; Ctrl-C or a NaN keeps what finished."""
    from .checkpoint import save_atomic, stopped_summary, training_state

    config, result, device = run.config, run.result, model_device(run.model)
    try:
        for epoch in range(len(result.history) + 1, config.num_epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_acc = train_one_epoch(
                run.model, run.batches, run.stepper, desc=f"epoch {epoch}/{config.num_epochs}", progress=run.verbose,
                first_losses=result.first_losses if epoch == 1 else None)
            synchronize(device)
            t1 = time.perf_counter()
            scored = epoch == config.num_epochs or (config.eval_every and epoch % config.eval_every == 0)
            # the final model (the average, with ema) is the one scored
            test = evaluate(result.model, run.X_test, run.y_test) if scored else (None, None)
            check = evaluate(result.model, run.X_check, run.y_check) if scored else (None, None)
            t2 = time.perf_counter()
            log = EpochLog(epoch, run.stepper.optimizer.param_groups[0]["lr"], train_loss, train_acc, *test,
                           t1 - t0, t2 - t1, *check)
            result.history.append(log)
            if checkpoint:
                save_atomic(training_state(run), checkpoint)
            run.say(run.line(log))
    except KeyboardInterrupt:
        result.interrupted = True
        print(f"\ninterrupted: {stopped_summary(result, checkpoint)}", flush=True)
    except Diverged as e:
        result.diverged = str(e)
        print(f"stopped: {e}; {stopped_summary(result, checkpoint)}", flush=True)
    result.wall_seconds = time.perf_counter() - run.started
    if run.home is not None:  # the caller's model (and its average) goes back where it was
        run.model.to(run.home)
        result.model.to(run.home)


def train_one_epoch(model: nn.Module, batches, step: Stepper, desc: str, progress: bool = True,
                    first_losses: list[float] | None = None, sync_every: int = SYNC_EVERY) -> tuple[float, float]:
    """One pass over the batches; returns (mean loss, accuracy) of the training batches.

    The loss and the correct count stay on the device: the host looks at them every sync_every steps (a NaN stops the
    run naming its step) and at the end. With first_losses, the first FIRST_STEPS losses are appended, and a loss
    still near that of a uniform guess after them prints one warning: the early sign of a network not learning.
    """
    model.train()
    device = model_device(model)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen, window = 0, []
    # plain-text bar on stdout: it renders in Jupyter, in a terminal and in the saved notebook on GitHub
    bar = tqdm(batches, desc=desc, file=sys.stdout, ncols=100, mininterval=2.0, leave=True, disable=not progress)
    for k, (X, y) in enumerate(bar, start=1):
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(step.precision, device):
            y_hat = model(X)
            loss = F.cross_entropy(y_hat, y, label_smoothing=step.label_smoothing)
        step.optimizer.zero_grad(set_to_none=True)
        if step.scaler is not None:  # fp16: scale the loss so small gradients do not underflow, unscale before the step
            step.scaler.scale(loss).backward()
            step.scaler.step(step.optimizer)
            step.scaler.update()
        else:
            loss.backward()
            step.optimizer.step()
        step.scheduler.step()
        if step.ema is not None:
            step.ema.update()
        loss_sum += loss.detach().double() * len(y)
        correct += (y_hat.argmax(1) == y).sum()
        seen += len(y)
        window.append(loss.detach())
        if k % sync_every == 0 or k == len(batches):
            look(window, k, desc, bar, first_losses)
            window = []
    bar.close()
    return float(loss_sum) / seen, int(correct) / seen


def look(window: list[torch.Tensor], step: int, desc: str, bar, first_losses: list[float] | None) -> None:
    """The host's look at the last steps' losses (one wait for the device): a NaN stops the run, the progress bar
    shows the latest loss, the first losses are kept, and a network not learning is flagged."""
    losses = torch.stack(window).tolist()
    first = step - len(losses) + 1
    bad = next((k for k, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        bar.close()
        raise Diverged(f"the training loss became {losses[bad]} at step {first + bad} of {desc}; the learning rate is "
                       "probably too high for this model (without BatchNorm, try a 5-10x smaller --lr)")
    bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    if first_losses is None or len(first_losses) >= FIRST_STEPS:
        return
    first_losses += losses[:FIRST_STEPS - len(first_losses)]
    recent = first_losses[-10:]
    if len(first_losses) == FIRST_STEPS and sum(recent) / len(recent) > 0.9 * UNIFORM_LOSS:
        tqdm.write(f"warning: after {FIRST_STEPS} steps the training loss is still {sum(recent) / len(recent):.2f}, "
                   f"near ln 10 = {UNIFORM_LOSS:.2f} (a uniform guess): this network is not learning yet; "
                   "check the learning rate, the normalisation and BatchNorm", file=sys.stdout)


def make_optimizer(config: TrainConfig, model: nn.Module, steps_per_epoch: int):
    """SGD with Nesterov momentum, and the one-cycle schedule that sets its lr and momentum every step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.max_momentum,
                                nesterov=True, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.num_epochs, steps_per_epoch=steps_per_epoch,
        pct_start=config.pct_start, div_factor=config.div_factor, final_div_factor=config.final_div_factor,
        cycle_momentum=True, base_momentum=config.base_momentum, max_momentum=config.max_momentum)
    return optimizer, scheduler
