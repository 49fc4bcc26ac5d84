"""Speed benchmarks: seconds per training epoch and test pass, and peak memory, per pipeline and compute option;
--time-to-accuracy: the wall time of whole runs of the main and the fast preset, and the levers of their speed;
--placement: two runs at once against one at a time; --profile: where one epoch's time goes.

Each measurement runs in a fresh subprocess so its peak resident memory is its own; variants alternate so that a busy
spell of the machine hits all of them, and the records give medians and ratios of one invocation. Every run keeps its
whole config, so `python -m s4lib rerun` re-makes a record from the record alone.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import torch

from ..checkpoint import config_from_record, config_record
from ..errors import S4Error
from ..model import PRESETS, Architecture
from ..train import SYNC_EVERY, TrainConfig
from .experiments import POOL_FIRST_20
from .records import machine, write_record

POOL_FIRST_20_RUN = dict(model="pool-first-20", architecture=POOL_FIRST_20)


class Variant(NamedTuple):
    """A row of the epoch benchmark: what it is, the TrainConfig settings it changes, and how it is timed."""

    what: str
    overrides: dict
    threads: int = 0  # torch threads; 0 = the invocation's --threads (torch's default unless given)
    option: str = ""  # a compute option applied on top of the config: "" or "compile"
    sync_every: int = SYNC_EVERY  # training steps between the host's looks at the loss


V1 = Architecture(block1=(8, 16, 16), squeeze=8, block2=(16, 16, 16, 16))  # the main model's first layout
MAIN = PRESETS["s4"]
# every lever tried has a row, kept or not; "v1" is the row to measure against
VARIANTS: dict[str, Variant] = {
    "v1": Variant("v1: max-pool after 3 convs, dropout after every conv but the last",
                  dict(model="s4-v1", architecture=V1)),
    "default": Variant("the main config: max-pool after 2 convs, dropout after it", {}),
    "per_step_sync": Variant("the main config, the host looking at the loss after every step", {}, sync_every=1),
    "no_dropout": Variant("the main config without dropout (what dropout still costs)", dict(dropout=0.0)),
    "v1_dropout2d": Variant("v1 with Dropout2d: one draw per channel, at every conv",
                            dict(model="s4-v1-dropout2d", architecture=replace(V1, spatial_dropout=True))),
    "batch_256": Variant("the main config, batch 256 and peak lr 0.8", dict(batch_size=256, lr=0.8)),
    "pool_after_3": Variant("the main config with the max-pool after 3 convs, as in v1 (twice the FLOPs)",
                            dict(model="s4-pool-3", architecture=replace(V1, dropout_at="after_pool"))),
    "channels_last": Variant("the main config in the channels_last memory layout instead of NCHW",
                             dict(memory_format="channels_last")),
    "s4_wide": Variant("the main config with convs after the max-pool 20 wide (16,650 parameters)",
                       dict(model="s4-wide", architecture=replace(MAIN, block2=(16, 20, 20, 20, 20)))),
    "s4_wider": Variant("and the squeeze to 12 (18,458 parameters)",
                        dict(model="s4-wider", architecture=replace(MAIN, squeeze=12, block2=(20,) * 5))),
    "one_thread": Variant("the main config, 1 torch thread instead of one per core", {}, threads=1),
    "compile": Variant("the main config + torch.compile (compiled during warm-up)", {}, option="compile"),
    "torchvision": Variant("the main config fed by torchvision's DataLoader (per-sample PIL)",
                           dict(loader="torchvision")),
}
# Time to accuracy (--time-to-accuracy): whole runs of a preset, from the data on hand to the final model evaluated
# (model built, every epoch trained and scored as its config says); name -> (what, preset, settings that differ
# from the preset's recipe)
WHOLE_RUNS: dict[str, tuple[str, str, dict]] = {
    "main": ("the main run: the preset s4 with its recipe", "s4", {}),
    "fast": ("the preset fast with its recipe", "fast", {}),
    # fast's earlier design (the search fast-10 replaced it), in both the precisions and layouts of the search fast-4
    "pool_first_20": ("fast's recipe on its earlier design: a first conv of 12, the max-pool, five convs of 20",
                      "fast", POOL_FIRST_20_RUN),
    "pool_first_20_bf16_cl": ("the same in bf16 where native and channels_last", "fast",
                              POOL_FIRST_20_RUN | dict(precision="auto", memory_format="channels_last")),
}
# and the levers of a run's speed, each timed over LEVER_IMAGES training images of the main config with one
# setting changed: name -> (what, TrainConfig overrides); "fp32" (the main config itself) is the row to compare with
LEVERS: dict[str, tuple[str, dict]] = {
    "fp32": ("the main config: float32, batch 128", {}),
    "bf16": ("bf16 autocast (emulated where the CPU has no native bf16)", dict(precision="bf16")),
    "batch_256": ("batch 256, peak lr 0.8", dict(batch_size=256, lr=0.8)),
    "batch_512": ("batch 512, peak lr 1.6", dict(batch_size=512, lr=1.6)),
}
MNIST_IMAGES = 60_000  # a lever's seconds are scaled to a whole epoch of these
LEVER_IMAGES = 12_800  # 100 steps of batch 128: long enough to time a step, short enough to time emulated bf16
OPTIONS = ("", "compile")
PROFILED = ("v1", "default")  # variants whose operators the record keeps
WARMUP_BATCHES = 10  # untimed steps before the epoch: first-call allocation, and compiling for torch.compile


def prepare_model(config: TrainConfig, device: torch.device, option: str = "") -> torch.nn.Module:
    """The config's model on the device in the layout the config resolves to there, with a compute option applied."""
    from ..device import torch_memory_format
    from ..model import build_model

    layout = torch_memory_format(config.memory_format)
    model = build_model(config.architecture, config.dropout).to(device, memory_format=layout)
    return torch.compile(model) if option == "compile" else model


def training_setup(config: TrainConfig, option: str = ""):
    """Model, training batches, a stepper at constant lr and the test set, as a timed epoch needs them."""
    from ..data import load_data, make_train_batches
    from ..device import resolve_device, resolve_precision
    from ..train import Stepper

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    # the same data as train() gets: tests time a few batches of a subset, not a full epoch
    X_train, y_train, X_test, y_test = load_data(config, device, verbose=False)
    model = prepare_model(config, device, option)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.max_momentum, nesterov=True)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)  # speed does not depend on the lr
    stepper = Stepper(optimizer, scheduler, resolve_precision(config.precision, device), config.label_smoothing)
    return model, make_train_batches(config, X_train, y_train, device), stepper, X_test, y_test


def measure_once(config: TrainConfig, option: str = "", sync_every: int = SYNC_EVERY) -> dict:
    """Warm up, then one timed training epoch and one test pass in this process: seconds, FLOPs and peak RSS."""
    from ..device import synchronize
    from ..evaluate import evaluate, model_device
    from ..train import train_one_epoch
    from .flops import training_flops

    model, batches, stepper, X_test, y_test = training_setup(config, option)
    device = model_device(model)
    t0 = time.perf_counter()
    train_one_epoch(model, list(islice(batches, WARMUP_BATCHES)), stepper, desc="warm-up", progress=False)
    synchronize(device)
    t1 = time.perf_counter()
    train_one_epoch(model, batches, stepper, desc=f"{config.loader} epoch", sync_every=sync_every)
    synchronize(device)
    t2 = time.perf_counter()
    evaluate(model, X_test, y_test)
    t3 = time.perf_counter()
    # the counts say what was timed, independently of how fast the machine was
    images = len(batches.X) if hasattr(batches, "X") else len(batches.dataset)
    return dict(warmup_s=t1 - t0, train_s=t2 - t1, test_s=t3 - t2, threads=torch.get_num_threads(),
                precision=stepper.precision, train_batches=len(batches), test_images=len(y_test),
                train_gflop=training_flops(prepare_model(config, torch.device("cpu")), images) / 1e9,
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def profile_steps(config: TrainConfig, steps: int = 20, top: int = 8) -> list[tuple[str, float]]:
    """The operators taking the most CPU time over a few training steps, with their share of the total."""
    from ..train import train_one_epoch

    model, batches, stepper, _, _ = training_setup(config)
    batches = list(islice(batches, steps + 3))
    warm = min(3, len(batches) - 1)  # a tiny test subset may have only a couple of batches
    train_one_epoch(model, batches[:warm], stepper, desc="warm-up", progress=False)
    with torch.profiler.profile() as prof:
        train_one_epoch(model, batches[warm:], stepper, desc="profiled", progress=False)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [(e.key, e.self_cpu_time_total / total) for e in ranked]


def run_child(config: TrainConfig, option: str = "", task: str = "measure", sync_every: int = SYNC_EVERY) -> dict:
    """A task (measure, peak, profile or a whole run) in a fresh Python process; a failure is one line with its reason.

    The config's threads setting is the child's torch thread count."""
    cmd = [sys.executable, "-m", "s4lib.lab.benchmark", "--child", json.dumps(config_record(config)),
           "--option", option, "--task", task, "--sync-every", str(sync_every)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        said = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise S4Error(f"a benchmark process ({option or 'plain'}, {config.threads or 'default'} threads) failed with "
                      f"exit code {done.returncode}: {said[-1] if said else 'no message'}")
    return json.loads(lines[-1])


def named_run(config: TrainConfig) -> dict:
    """How a record names a timed run: its whole config and its network's parameter count."""
    from ..model import build_model, count_parameters

    return dict(config=config_record(config),
                num_params=count_parameters(build_model(config.architecture, config.dropout)))


def benchmark_plan(config: TrainConfig, num_threads: int = 0, names=tuple(VARIANTS)) -> dict:
    """What an epoch benchmark times, by name: the config of each variant (its threads included) and its options."""
    return {name: dict(what=VARIANTS[name].what, option=VARIANTS[name].option, sync_every=VARIANTS[name].sync_every,
                       config=replace(config, **VARIANTS[name].overrides,
                                      threads=VARIANTS[name].threads or num_threads))
            for name in names}


def benchmark(config: TrainConfig, repeats: int = 3, num_threads: int = 0, names=tuple(VARIANTS)) -> dict:
    """Run every named variant once per round, `repeats` rounds; medians and ratios of the same invocation."""
    plan = benchmark_plan(config, num_threads, names)
    runs, peaks = [], []
    for k in range(repeats):
        peaks.append(run_child(replace(config, threads=num_threads), task="peak")["gflops"])
        print(f"round {k + 1}/{repeats} matmul peak: {peaks[-1]:6.1f} GFLOP/s", flush=True)
        for name, row in plan.items():
            r = dict(variant=name, option=row["option"], sync_every=row["sync_every"]) | named_run(row["config"]) \
                | run_child(row["config"], row["option"], sync_every=row["sync_every"])
            print(f"round {k + 1}/{repeats} {name:13s}: epoch {r['train_s']:6.1f} s, test {r['test_s']:4.1f} s, "
                  f"warm-up {r['warmup_s']:5.1f} s, peak RSS {r['peak_rss_mib']:6.0f} MiB", flush=True)
            runs.append(r)
    profiles = {name: run_child(plan[name]["config"], task="profile")["top"] for name in PROFILED if name in plan}
    return dict(kind="benchmark", command="python -m s4lib benchmark", date=dt.date.today().isoformat(),
                repeats=repeats, threads=num_threads, machine=machine(),
                variants={n: row["what"] for n, row in plan.items()}, peak_gflops=max(peaks), runs=runs,
                median=benchmark_medians(runs), profiles=profiles)


def benchmark_medians(runs: list[dict]) -> dict:
    """Each variant's medians over its rounds."""
    names = dict.fromkeys(r["variant"] for r in runs)
    return {name: {key: statistics.median(r[key] for r in runs if r["variant"] == name)
                   for key in ("train_s", "test_s", "warmup_s", "peak_rss_mib", "train_gflop")} for name in names}


def whole_run(config: TrainConfig) -> dict:
    """One whole training run in this process: its wall time, final test accuracy and peak RSS."""
    from ..train import train

    result = train(config, verbose=False)
    return dict(run_s=result.wall_seconds, final_test_acc=result.final.test_acc, epochs=len(result.history),
                precision=result.precision, threads=torch.get_num_threads(),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def time_to_accuracy_configs(data_root: str = "data", num_threads: int = 0, shrink: dict | None = None) \
        -> tuple[dict[str, TrainConfig], dict[str, TrainConfig]]:
    """The config of every whole run and of every lever, by name.

    shrink: settings put on top of every row and lever (tests time a few batches of a subset, not whole runs).
    """
    shrink = shrink or {}
    rows = {name: TrainConfig.preset(preset, data_root=data_root, threads=num_threads, **(overrides | shrink))
            for name, (_, preset, overrides) in WHOLE_RUNS.items()}
    levers = {name: TrainConfig(**(dict(data_root=data_root, train_subset=LEVER_IMAGES, threads=num_threads)
                                   | overrides | shrink)) for name, (_, overrides) in LEVERS.items()}
    return rows, levers


def time_to_accuracy_plan(rows: dict[str, TrainConfig], levers: dict[str, TrainConfig], repeats: int) -> dict:
    """What a time-to-accuracy record says was timed (what the guard compares): every run of every round."""
    runs = [dict(row=n, config=config_record(c)) for _ in range(repeats) for n, c in rows.items()]
    lever_runs = [dict(lever=n, config=config_record(c)) for _ in range(repeats) for n, c in levers.items()]
    return dict(repeats=repeats, runs=runs, lever_runs=lever_runs)


def time_to_accuracy(data_root: str = "data", repeats: int = 3, num_threads: int = 0, shrink: dict | None = None) \
        -> dict:
    """Every whole run and every lever once per round, `repeats` rounds; medians and ratios of the same invocation."""
    from ..device import native_bf16, resolve_device, resolve_precision

    device = resolve_device("auto")
    row_configs, lever_configs = time_to_accuracy_configs(data_root, num_threads, shrink)
    runs, levers = [], []
    for k in range(repeats):
        for name, config in row_configs.items():
            runs.append(time_whole_run(name, config, f"round {k + 1}/{repeats} "))
        for name, config in lever_configs.items():
            levers.append(time_lever(name, config, f"round {k + 1}/{repeats} "))
    record = dict(kind="time_to_accuracy", command="python -m s4lib benchmark --time-to-accuracy",
                  date=dt.date.today().isoformat(), machine=machine(), device=str(device),
                  native_bf16=native_bf16(device), auto_precision=resolve_precision("auto", device),
                  repeats=repeats, threads=num_threads, rows={n: dict(what=WHOLE_RUNS[n][0]) for n in row_configs},
                  levers={n: dict(what=LEVERS[n][0], overrides=LEVERS[n][1]) for n in lever_configs},
                  lever_images=next(iter(lever_configs.values())).train_subset, runs=runs, lever_runs=levers)
    return record | time_to_accuracy_medians(record)


def time_whole_run(name: str, config: TrainConfig, say: str = "") -> dict:
    """A whole run timed in a fresh process, as a record keeps it."""
    r = dict(row=name) | named_run(config) | run_child(config, task="run")
    print(f"{say}{name:9s}: whole run {r['run_s']:6.1f} s, {r['epochs']} epochs, final test acc "
          f"{100 * r['final_test_acc']:.2f}%", flush=True)
    return r


def time_lever(name: str, config: TrainConfig, say: str = "") -> dict:
    """A lever timed in a fresh process over its training images, scaled to a 60,000-image epoch."""
    r = dict(lever=name) | named_run(config) | run_child(config)
    r["train_s_per_epoch"] = r["train_s"] * MNIST_IMAGES / config.train_subset
    print(f"{say}{name:9s}: {r['train_s_per_epoch']:6.1f} s per 60,000 training images", flush=True)
    return r


def time_to_accuracy_medians(record: dict) -> dict:
    """Medians of every row and lever over the rounds, and the main run's time over fast's."""
    rows = dict.fromkeys(r["row"] for r in record["runs"])
    levers = dict.fromkeys(r["lever"] for r in record["lever_runs"])
    median = {name: {key: statistics.median(r[key] for r in record["runs"] if r["row"] == name)
                     for key in ("run_s", "final_test_acc", "peak_rss_mib")} for name in rows}
    lever_median = {name: statistics.median(r["train_s_per_epoch"] for r in record["lever_runs"] if r["lever"] == name)
                    for name in levers}
    return dict(median=median, lever_median=lever_median, ratio=median["main"]["run_s"] / median["fast"]["run_s"])


def add_flags(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by `python -m s4lib benchmark` and `python -m s4lib.lab.benchmark`."""
    p.add_argument("--repeats", type=int, default=3, help="rounds; every variant runs once per round (default 3)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), help="measure only these variants (default all)")
    p.add_argument("--profile", action="store_true",
                   help="where one epoch's time goes, layer by layer, for the main model and the fast preset; writes "
                        "notebooks/results/profile.json")
    p.add_argument("--time-to-accuracy", action="store_true",
                   help="time whole runs of the main and the fast preset, and each lever of their speed, and write "
                        "notebooks/results/time_to_accuracy.json instead")
    p.add_argument("--placement", action="store_true",
                   help="time two runs one at a time (one process, every core) against two at once (one thread each), "
                        "and write notebooks/results/placement.json instead")
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw (default: data)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/benchmark.json (or the record of "
                                 "--time-to-accuracy, --placement, --profile)")
    p.add_argument("--force", action="store_true", help="replace the committed record even if it holds another "
                                                        "experiment (without it, such a run is refused)")


def run(args: argparse.Namespace) -> None:
    """Profile, time whole runs, measure placement, or benchmark every variant, and write the record."""
    from ..files import check_output
    from ..project import display_path
    from .records import BENCHMARK_RECORD, guard_replace
    from .report import benchmark_markdown

    if not 1 <= args.repeats <= 20 or not 0 <= args.threads <= 256:
        raise S4Error(f"--repeats must be in 1..20 and --threads in 0..256, got {args.repeats} and {args.threads}")
    modes = [m for m in ("profile", "time_to_accuracy", "placement") if getattr(args, m)]
    if len(modes) > 1:
        raise S4Error("give one of --profile, --time-to-accuracy and --placement")
    if modes and args.only:
        raise S4Error(f"--only picks variants of the epoch benchmark; --{modes[0].replace('_', '-')} always times "
                      "every row")
    if args.profile:
        from .profile import run_profile

        return run_profile(args)
    if args.placement:
        from .placement import run_placement

        return run_placement(args)
    if args.time_to_accuracy:
        return run_time_to_accuracy(args)
    config = TrainConfig(data_root=args.data_root)
    names = tuple(args.only or VARIANTS)
    out = Path(args.out) if args.out else BENCHMARK_RECORD
    plan = benchmark_plan(config, args.threads, names)
    planned = dict(repeats=args.repeats, runs=[
        dict(variant=n, option=row["option"], config=config_record(row["config"]))
        for _ in range(args.repeats) for n, row in plan.items()])
    guard_replace(out, planned, explicit=bool(args.out) or args.force)
    check_output(out, "record")
    record = benchmark(config, args.repeats, args.threads, names) | dict(command=args.command_text)
    print()
    print(benchmark_markdown(record))
    print("wrote", display_path(write_record(record, out)))


def run_time_to_accuracy(args: argparse.Namespace) -> None:
    """Time whole runs and levers and write the record, as the parsed flags say."""
    from ..files import check_output
    from ..project import display_path
    from .records import TIME_TO_ACCURACY_RECORD, guard_replace
    from .report import time_to_accuracy_markdown

    out = Path(args.out) if args.out else TIME_TO_ACCURACY_RECORD
    planned = time_to_accuracy_plan(*time_to_accuracy_configs(args.data_root, args.threads), args.repeats)
    guard_replace(out, planned, explicit=bool(args.out) or args.force)
    check_output(out, "record")
    record = time_to_accuracy(args.data_root, args.repeats, args.threads) | dict(command=args.command_text)
    print()
    print(time_to_accuracy_markdown(record))
    print("wrote", display_path(write_record(record, out)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m s4lib.lab.benchmark", description=__doc__)
    add_flags(p)
    # a child measures one task in its own process (see run_child)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--option", default="", choices=OPTIONS, help=argparse.SUPPRESS)
    p.add_argument("--task", default="measure", choices=("measure", "peak", "profile", "run", "layers"),
                   help=argparse.SUPPRESS)
    p.add_argument("--sync-every", type=int, default=SYNC_EVERY, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.command_text = "python -m s4lib.lab.benchmark " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.child:
        config = config_from_record(json.loads(args.child))
        print(json.dumps(child_task(args.task, config, args.option, args.sync_every)))
    else:
        run(args)


def child_task(task: str, config: TrainConfig, option: str = "", sync_every: int = SYNC_EVERY) -> dict:
    """What one fresh process measures: a training epoch, the matmul peak, where a step's time goes, or a whole run."""
    from .flops import peak_gflops

    if config.threads:
        torch.set_num_threads(config.threads)
    if task == "peak":
        return dict(gflops=peak_gflops())
    if task == "profile":
        return dict(top=profile_steps(config))
    if task == "run":
        return whole_run(config)
    if task == "layers":
        from .profile import profile_design

        return profile_design(config)
    return measure_once(config, option, sync_every)


if __name__ == "__main__":
    main()
