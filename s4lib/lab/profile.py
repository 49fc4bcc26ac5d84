"""Where one training epoch goes: per training step, the batch (cut and augmented), each layer's forward and backward,
the loss, the optimizer step; the evaluation after an epoch; the arithmetic achieved beside the machine's float32
matrix-multiply peak measured in the same invocation. `python -m s4lib benchmark --profile` writes the record.

Layers are timed with hooks around each leaf module (the CPU computes synchronously; on a GPU the hooks synchronise,
which slows it): the first layer's input is made to require a gradient so that its backward is timed too. The hooks
cost time of their own, so the epoch and the arithmetic achieved come from steps
timed without them, in the same process."""
from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import config_record
from ..train import TrainConfig
from .records import machine

STEPS = 40  # timed training steps per design, after WARMUP steps
WARMUP = 5
REPEATS = 3  # rounds, each design once a round in a fresh process: a busy spell of the machine hits every design
# a training step's phases, in order, and their names in the report
PHASES = {"batch": "batch cut and augmented", "forward": "forward pass", "loss": "loss", "backward": "backward pass",
          "optimizer": "optimizer step and schedule"}
KINDS = {nn.Conv2d: "conv", nn.BatchNorm2d: "BatchNorm", nn.ReLU: "ReLU", nn.Dropout: "dropout",
         nn.Dropout2d: "dropout", nn.MaxPool2d: "max-pool", nn.AdaptiveAvgPool2d: "GAP", nn.Linear: "Linear"}


def layer_clock(model: nn.Module, device: torch.device) -> tuple[dict, list]:
    """Seconds spent in each leaf module's forward and backward (summed over calls), and the hooks to remove."""
    from ..tables import blocks

    spent, hooks = {}, []
    for _, name, block in blocks(model):
        for sub, module in block.named_modules():
            if list(module.children()) or type(module) not in KINDS:
                continue
            clock = spent[(name, sub or "0", KINDS[type(module)])] = dict(forward=0.0, backward=0.0, module=module)
            hooks += [module.register_forward_pre_hook(start(clock, device)),
                      module.register_forward_hook(stop(clock, "forward", device)),
                      module.register_full_backward_pre_hook(start(clock, device)),
                      module.register_full_backward_hook(stop(clock, "backward", device))]
    return spent, hooks


def start(clock: dict, device: torch.device):
    """A hook that starts a layer's clock (leaf layers never nest, so one start time per layer is enough)."""
    from ..device import synchronize

    def hook(*args):
        synchronize(device)
        clock["since"] = time.perf_counter()
    return hook


def stop(clock: dict, phase: str, device: torch.device):
    """A hook that adds the time since start to the layer's forward or backward."""
    from ..device import synchronize

    def hook(*args):
        synchronize(device)
        clock[phase] += time.perf_counter() - clock["since"]
    return hook


def conv_macs(module: nn.Module, out_shape: tuple) -> int:
    """Multiply-adds of one image through a conv or Linear layer with this output shape."""
    if isinstance(module, nn.Conv2d):
        c_out, h, w = out_shape[-3:]
        return c_out * h * w * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
    return module.in_features * module.out_features


def profile_design(config: TrainConfig, steps: int = STEPS) -> dict:
    """Time `steps` training steps of config without hooks, then `steps` more phase by phase and layer by layer
    (hooked), and one evaluation pass."""
    import torch.nn.functional as F

    from ..device import autocast, synchronize
    from ..evaluate import evaluate, model_device
    from ..model import count_parameters
    from ..train import TRAIN_CHECK_IMAGES
    from .benchmark import training_setup

    model, batches, stepper, X_test, y_test = training_setup(config)
    device = model_device(model)
    source = (batch for _ in iter(int, 1) for batch in batches)  # epoch after epoch, as many steps as asked

    def step(hooked: bool) -> list[float]:
        """One training step; the seconds of each phase."""
        marks = [time.perf_counter()]
        X, y = next(source)
        if hooked:
            X = X.requires_grad_(True)  # so that the first layer's backward hook fires (one extra small gradient)
        for phase in PHASES:
            if phase == "forward":
                with autocast(stepper.precision, device):
                    y_hat = model(X)
            elif phase == "loss":
                with autocast(stepper.precision, device):
                    loss = F.cross_entropy(y_hat, y)
            elif phase == "backward":
                stepper.optimizer.zero_grad(set_to_none=True)
                loss.backward()
            elif phase == "optimizer":
                stepper.optimizer.step()
                stepper.scheduler.step()
            if hooked:
                synchronize(device)
                marks.append(time.perf_counter())
        synchronize(device)
        return [b - a for a, b in zip(marks, marks[1:])] if hooked else [time.perf_counter() - marks[0]]

    model.train()
    for _ in range(WARMUP):
        step(hooked=False)
    plain_s = statistics.median(step(hooked=False)[0] for _ in range(steps))
    shapes = {}

    def keep_shape(module, inputs, output) -> None:  # a hook that returned a value would replace the output
        shapes.setdefault(module, tuple(output.shape[1:]))
    spent, hooks = layer_clock(model, device)
    hooks += [m.register_forward_hook(keep_shape) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    phases = list(zip(*(step(hooked=True) for _ in range(steps))))
    for h in hooks:
        h.remove()
    t0 = time.perf_counter()
    evaluate(model, X_test, y_test)
    evaluate(model, X_test[:TRAIN_CHECK_IMAGES], y_test[:TRAIN_CHECK_IMAGES])  # as large as the training-set check
    eval_s = time.perf_counter() - t0
    layers = []
    for (block, sub, kind), t in spent.items():
        macs = conv_macs(t["module"], shapes[t["module"]]) if t["module"] in shapes else 0
        layers.append(dict(block=block, layer=sub, kind=kind, forward_ms=1e3 * t["forward"] / steps,
                           backward_ms=1e3 * t["backward"] / steps, macs_per_image=macs))
    macs = sum(layer["macs_per_image"] for layer in layers)
    return dict(config=config_record(config), num_params=count_parameters(model), steps=steps,
                batch_size=config.batch_size, step_ms={p: 1e3 * statistics.median(v) for p, v in zip(PHASES, phases)},
                plain_step_ms=1e3 * plain_s, steps_per_epoch=len(batches), epoch_s=plain_s * len(batches),
                eval_s=eval_s, layers=layers, macs_per_image=macs,
                achieved_gflops=6 * macs * config.batch_size / plain_s / 1e9)


def profile_record(designs: dict[str, TrainConfig], command: str, repeats: int = REPEATS) -> dict:
    """The main model and fast (designs' keys "main" and "fast") profiled in a fresh process once per round, and the
    matmul peak of the same invocation. The table is one round for both, the median by the ratio of their epochs (a
    busy spell of the machine need not slow both alike); the record keeps every round."""
    from .benchmark import run_child

    peak = run_child(next(iter(designs.values())), task="peak")["gflops"]
    rounds = []
    for k in range(repeats):
        rounds.append({})
        for name, config in designs.items():
            p = rounds[-1][name] = run_child(config, task="layers")
            print(f"round {k + 1}/{repeats} {name:12s}: {p['epoch_s']:5.1f} s an epoch in steps of {p['batch_size']}, "
                  f"evaluation {p['eval_s']:4.1f} s, {p['achieved_gflops']:5.1f} GFLOP/s "
                  f"({100 * p['achieved_gflops'] / peak:.0f}% of the {peak:.0f} GFLOP/s peak)", flush=True)
    median = sorted(range(repeats), key=lambda k: epoch_ratio(rounds[k]))[(repeats - 1) // 2]
    return dict(kind="profile", command=command, machine=machine(), date=dt.date.today().isoformat(),
                peak_gflops=peak, repeats=repeats, median_round=median + 1, designs=rounds[median], rounds=rounds)


def epoch_ratio(designs: dict[str, dict]) -> float:
    """How many times as fast as the main model fast trains an epoch, in one round's profiles."""
    return designs["main"]["epoch_s"] / designs["fast"]["epoch_s"]


def run_profile(args) -> None:
    """`benchmark --profile`: profile the main model and the fast preset, print and write the record."""
    from ..files import check_output
    from ..project import display_path
    from .records import PROFILE_RECORD, write_record
    from .report import profile_table

    out = Path(args.out) if args.out else PROFILE_RECORD
    check_output(out, "record")
    designs = {name: TrainConfig.preset(preset, data_root=args.data_root, threads=args.threads)
               for name, preset in PROFILED_PRESETS.items()}
    record = profile_record(designs, args.command_text)
    print()
    print(profile_table(record))
    print("wrote", display_path(write_record(record, out)))


PROFILED_PRESETS = {"main": "s4", "fast": "fast"}
