"""Speed benchmark: seconds per training epoch and test pass, and peak memory, per pipeline and compute option;
with --time-to-accuracy, the wall time of whole runs of the main and the fast preset, and the levers of their speed.

Each measurement runs in a fresh subprocess so its peak resident memory is its own; variants alternate
so that a busy spell of the machine hits all of them, and the report gives medians and ratios.
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
from dataclasses import asdict, replace
from itertools import islice
from pathlib import Path

import torch

from ..errors import S4Error
from .records import machine, write_record
from ..train import TrainConfig, config_record

# name -> (what it is, TrainConfig overrides, torch threads (0 = torch's default), compute option or "");
# every lever tried has a row, kept or not; "v1", the first design of the main model, is the row to measure against
VARIANTS: dict[str, tuple[str, dict, int, str]] = {
    "v1": ("v1: max-pool after 3 convs, dropout after every conv but the last, NCHW layout",
           dict(model="s4-v1", channels_last=False), 0, ""),
    "default": ("the main config: max-pool after 2 convs, dropout after it, channels_last", {}, 0, ""),
    "no_dropout": ("the main config without dropout (what dropout still costs)", dict(dropout=0.0), 0, ""),
    "v1_dropout2d": ("v1 with Dropout2d: one draw per channel, at every conv", dict(model="s4-v1-dropout2d"), 0, ""),
    "batch_256": ("the main config, batch 256 and peak lr 0.8", dict(batch_size=256, lr=0.8), 0, ""),
    "pool_after_3": ("the main config with the max-pool after 3 convs, as in v1 (twice the FLOPs)",
                     dict(model="s4-pool-3"), 0, ""),
    "nchw": ("the main config in the NCHW memory layout instead of channels_last", dict(channels_last=False), 0, ""),
    "s4_wide": ("the main config with the model s4-wide: convs after the max-pool 20 wide (16,650 parameters)",
                dict(model="s4-wide"), 0, ""),
    "s4_wider": ("the main config with the model s4-wider: and the squeeze to 12 (18,458 parameters)",
                 dict(model="s4-wider"), 0, ""),
    "one_thread": ("the main config, 1 torch thread instead of 2", {}, 1, ""),
    "compile": ("the main config + torch.compile (compiled during warm-up)", {}, 0, "compile"),
    "torchvision": ("the main config fed by torchvision's DataLoader (per-sample PIL)", dict(loader="torchvision"), 0, ""),
}
# Time to accuracy (--time-to-accuracy): whole runs of a preset with its recipe, from the data on hand to the
# final model evaluated (model built, every epoch trained and scored), median over rounds; name -> (what, preset)
WHOLE_RUNS: dict[str, tuple[str, str]] = {
    "main": ("the main run: the preset s4 with its recipe", "s4"),
    "fast": ("the preset fast with its recipe: the main model in fewer epochs", "fast"),
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
OPTIONS = ("", "compile")  # a compute option applied on top of the config (see the README)
PROFILED = ("v1", "default")  # variants whose operators the record keeps (`--profile` prints the default's)
WARMUP_BATCHES = 10  # untimed steps before the epoch: first-call allocation, and compiling for torch.compile


def prepare_model(config: TrainConfig, option: str = "") -> torch.nn.Module:
    """The config's model in the config's memory layout, with a compute option applied: "" or "compile"."""
    from ..model import build_model
    from ..train import memory_format

    model = build_model(config.model, config.dropout).to(memory_format=memory_format(config))
    return torch.compile(model) if option == "compile" else model


def training_setup(config: TrainConfig, option: str = ""):
    """Model, training batches, optimizer, constant-lr scheduler and the test set, as a timed run needs them."""
    from ..device import resolve_device
    from ..train import load_data, make_train_batches

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    # the same data as train() gets: tests time a few batches of a subset, not a full epoch
    X_train, y_train, X_test, y_test = load_data(config, device, verbose=False)
    model = prepare_model(config, option).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.max_momentum, nesterov=True)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)  # speed does not depend on the lr
    return model, make_train_batches(config, X_train, y_train), optimizer, scheduler, X_test, y_test


def measure_once(config: TrainConfig, num_threads: int = 0, option: str = "") -> dict:
    """Warm up, then one timed training epoch and one test pass in this process: seconds, FLOPs and peak RSS."""
    from .flops import training_flops
    from ..model import build_model
    from ..device import resolve_precision
    from ..train import evaluate, model_device, train_one_epoch

    if num_threads:
        torch.set_num_threads(num_threads)
    model, batches, optimizer, scheduler, X_test, y_test = training_setup(config, option)
    precision = resolve_precision(config.precision, model_device(model))
    t0 = time.perf_counter()
    train_one_epoch(model, list(islice(batches, WARMUP_BATCHES)), optimizer, scheduler, desc="warm-up", progress=False,
                    precision=precision)
    t1 = time.perf_counter()
    train_one_epoch(model, batches, optimizer, scheduler, desc=f"{config.loader} epoch", precision=precision)
    t2 = time.perf_counter()
    evaluate(model, X_test, y_test)
    t3 = time.perf_counter()
    # the counts say what was timed, independently of how fast the machine was
    images = len(batches.X) if hasattr(batches, "X") else len(batches.dataset)
    return dict(warmup_s=t1 - t0, train_s=t2 - t1, test_s=t3 - t2, threads=torch.get_num_threads(),
                precision=precision,
                train_batches=len(batches), test_images=len(y_test),
                train_gflop=training_flops(build_model(config.model, config.dropout), images) / 1e9,
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def profile_steps(config: TrainConfig, steps: int = 20, top: int = 8) -> list[tuple[str, float]]:
    """The operators taking the most CPU time over a few training steps, with their share of the total."""
    from ..train import train_one_epoch

    model, batches, optimizer, scheduler, _, _ = training_setup(config)
    batches = list(islice(batches, steps + 3))
    warm = min(3, len(batches) - 1)  # a tiny test subset may have only a couple of batches
    train_one_epoch(model, batches[:warm], optimizer, scheduler, desc="warm-up", progress=False)
    with torch.profiler.profile() as prof:
        train_one_epoch(model, batches[warm:], optimizer, scheduler, desc="profiled", progress=False)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [(e.key, e.self_cpu_time_total / total) for e in ranked]


def run_child(config: TrainConfig, num_threads: int, option: str, task: str = "measure") -> dict:
    """measure_once (or the peak, or a profile) in a fresh Python process; a failure is one line with its reason."""
    cmd = [sys.executable, "-m", "s4lib.lab.benchmark", "--child", json.dumps(asdict(config)),
           "--threads", str(num_threads), "--option", option, "--task", task]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        said = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise S4Error(f"a benchmark process ({option or 'plain'}, {num_threads or 'default'} threads) failed with "
                      f"exit code {done.returncode}: {said[-1] if said else 'no message'}")
    return json.loads(lines[-1])


def benchmark(config: TrainConfig, repeats: int = 3, num_threads: int = 0, names=tuple(VARIANTS)) -> dict:
    """Run every named variant once per round, `repeats` rounds; medians and ratios of the same invocation."""
    runs, peaks = [], []
    for k in range(repeats):
        peaks.append(run_child(config, num_threads, "", "peak")["gflops"])
        print(f"round {k + 1}/{repeats} matmul peak: {peaks[-1]:6.1f} GFLOP/s", flush=True)
        for name in names:
            _, overrides, threads, option = VARIANTS[name]
            r = dict(variant=name) | run_child(replace(config, **overrides), threads or num_threads, option)
            print(f"round {k + 1}/{repeats} {name:13s}: epoch {r['train_s']:6.1f} s, test {r['test_s']:4.1f} s, "
                  f"warm-up {r['warmup_s']:5.1f} s, peak RSS {r['peak_rss_mib']:6.0f} MiB", flush=True)
            runs.append(r)
    median = {name: {key: statistics.median(r[key] for r in runs if r["variant"] == name)
                     for key in ("train_s", "test_s", "warmup_s", "peak_rss_mib", "train_gflop")} for name in names}
    profiles = {name: run_child(replace(config, **VARIANTS[name][1]), num_threads, "", "profile")["top"]
                for name in PROFILED if name in names}
    return dict(command="python -m s4lib benchmark", date=dt.date.today().isoformat(), config=asdict(config),
                repeats=repeats, threads=num_threads, machine=machine(), variants={n: VARIANTS[n][0] for n in names},
                peak_gflops=max(peaks), runs=runs, median=median, profiles=profiles)


def whole_run(config: TrainConfig) -> dict:
    """One whole training run in this process: its wall time, final test accuracy and peak RSS."""
    from ..train import train

    result = train(config, verbose=False)
    return dict(run_s=result.wall_seconds, final_test_acc=result.final.test_acc, epochs=len(result.history),
                precision=result.precision, threads=torch.get_num_threads(),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def time_to_accuracy_configs(data_root: str = "data", shrink: dict | None = None) \
        -> tuple[dict[str, TrainConfig], dict[str, TrainConfig]]:
    """The config of every whole run and of every lever, by name.

    shrink: settings put on top of every row and lever (tests time a few batches of a subset, not whole runs).
    """
    shrink = shrink or {}
    rows = {name: TrainConfig.preset(preset, data_root=data_root, **shrink) for name, (_, preset) in WHOLE_RUNS.items()}
    levers = {name: TrainConfig(**(dict(data_root=data_root, train_subset=LEVER_IMAGES) | overrides | shrink))
              for name, (_, overrides) in LEVERS.items()}
    return rows, levers


def time_to_accuracy_plan(rows: dict[str, TrainConfig], levers: dict[str, TrainConfig], repeats: int,
                          num_threads: int) -> dict:
    """What a time-to-accuracy record says was timed (what the guard compares): rows, levers, rounds, threads."""
    return dict(repeats=repeats, threads=num_threads,
                rows={n: dict(what=WHOLE_RUNS[n][0], config=config_record(c)) for n, c in rows.items()},
                levers={n: dict(what=LEVERS[n][0], overrides=LEVERS[n][1]) for n in levers},
                lever_images=next(iter(levers.values())).train_subset)


def time_to_accuracy(data_root: str = "data", repeats: int = 3, num_threads: int = 0, shrink: dict | None = None) \
        -> dict:
    """Every whole run and every lever once per round, `repeats` rounds; medians and ratios of the same invocation."""
    from ..device import native_bf16, resolve_device, resolve_precision

    device = resolve_device("auto")
    row_configs, lever_configs = time_to_accuracy_configs(data_root, shrink)
    runs, levers = [], []
    for k in range(repeats):
        for name, config in row_configs.items():
            r = dict(row=name) | run_child(config, num_threads, "", "run")
            print(f"round {k + 1}/{repeats} {name:9s}: whole run {r['run_s']:6.1f} s, {r['epochs']} epochs, "
                  f"final test acc {100 * r['final_test_acc']:.2f}%", flush=True)
            runs.append(r)
        for name, config in lever_configs.items():
            r = dict(lever=name) | run_child(config, num_threads, "")
            r["train_s_per_epoch"] = r["train_s"] * MNIST_IMAGES / config.train_subset
            print(f"round {k + 1}/{repeats} {name:9s}: {r['train_s_per_epoch']:6.1f} s per 60,000 training images",
                  flush=True)
            levers.append(r)
    median = {name: {key: statistics.median(r[key] for r in runs if r["row"] == name)
                     for key in ("run_s", "final_test_acc", "peak_rss_mib")} for name in row_configs}
    lever_median = {name: statistics.median(r["train_s_per_epoch"] for r in levers if r["lever"] == name)
                    for name in lever_configs}
    return dict(command="python -m s4lib benchmark --time-to-accuracy", date=dt.date.today().isoformat(),
                machine=machine(), device=str(device), native_bf16=native_bf16(device),
                auto_precision=resolve_precision("auto", device),
                **time_to_accuracy_plan(row_configs, lever_configs, repeats, num_threads),
                runs=runs, lever_runs=levers, median=median, lever_median=lever_median,
                ratio=median["main"]["run_s"] / median["fast"]["run_s"])


def add_flags(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by `python -m s4lib benchmark` and `python -m s4lib.lab.benchmark`."""
    p.add_argument("--repeats", type=int, default=3, help="rounds; every variant runs once per round (default 3)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), help="measure only these variants (default all)")
    p.add_argument("--profile", action="store_true", help="print where one training step's CPU time goes, then stop")
    p.add_argument("--time-to-accuracy", action="store_true",
                   help="time whole runs of the main and the fast preset, and each lever of their speed, and write "
                        "notebooks/results/time_to_accuracy.json instead")
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw (default: data)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/benchmark.json (or "
                                 "time_to_accuracy.json)")
    p.add_argument("--force", action="store_true", help="replace the committed record even if it holds another "
                                                        "experiment (without it, such a run is refused)")


def run(args: argparse.Namespace) -> None:
    """Profile, or benchmark every variant and write the record, as the parsed flags say."""
    from ..files import check_output
    from ..project import shown
    from .records import BENCHMARK_RECORD, benchmark_experiment, guard_replace
    from .report import benchmark_markdown

    config = TrainConfig(data_root=args.data_root)
    if args.profile:
        print(f"share of CPU time over 20 training steps of the main model ({machine()}):")
        for name, share in profile_steps(config):
            print(f"  {100 * share:5.1f}%  {name}")
        return
    if not 1 <= args.repeats <= 20 or not 0 <= args.threads <= 256:
        raise S4Error(f"--repeats must be in 1..20 and --threads in 0..256, got {args.repeats} and {args.threads}")
    if args.time_to_accuracy:
        return run_time_to_accuracy(args)
    names = tuple(args.only or VARIANTS)
    out = Path(args.out) if args.out else BENCHMARK_RECORD
    planned = dict(config=asdict(config), variants={n: VARIANTS[n][0] for n in names}, repeats=args.repeats,
                   threads=args.threads)
    guard_replace(out, planned, benchmark_experiment, explicit=bool(args.out) or args.force)
    check_output(out, "record")
    record = benchmark(config, args.repeats, args.threads, names) | dict(command=args.command_text)
    print()
    print(benchmark_markdown(record))
    print("wrote", shown(write_record(record, out)))


def run_time_to_accuracy(args: argparse.Namespace) -> None:
    """Time whole runs and levers and write the record, as the parsed flags say."""
    from ..files import check_output
    from ..project import shown
    from .records import TIME_TO_ACCURACY_RECORD, guard_replace, time_to_accuracy_experiment
    from .report import time_to_accuracy_markdown

    if args.only:
        raise S4Error("--only picks variants of the epoch benchmark; --time-to-accuracy always times every row")
    out = Path(args.out) if args.out else TIME_TO_ACCURACY_RECORD
    planned = time_to_accuracy_plan(*time_to_accuracy_configs(args.data_root), args.repeats, args.threads)
    guard_replace(out, planned, time_to_accuracy_experiment, explicit=bool(args.out) or args.force)
    check_output(out, "record")
    record = time_to_accuracy(args.data_root, args.repeats, args.threads) | dict(command=args.command_text)
    print()
    print(time_to_accuracy_markdown(record))
    print("wrote", shown(write_record(record, out)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m s4lib.lab.benchmark", description=__doc__)
    add_flags(p)
    # a child measures one variant in its own process (see run_child)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--option", default="", choices=OPTIONS, help=argparse.SUPPRESS)
    p.add_argument("--task", default="measure", choices=("measure", "peak", "profile", "run"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.command_text = "python -m s4lib.lab.benchmark " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.child:
        print(json.dumps(child_task(args.task, TrainConfig(**json.loads(args.child)), args.threads, args.option)))
    else:
        run(args)


def child_task(task: str, config: TrainConfig, num_threads: int, option: str) -> dict:
    """What one fresh process measures: a training epoch, the matmul peak, where a step's time goes, or a whole run."""
    from .flops import peak_gflops

    if num_threads:
        torch.set_num_threads(num_threads)
    if task == "peak":
        return dict(gflops=peak_gflops())
    if task == "profile":
        return dict(top=profile_steps(config))
    if task == "run":
        return whole_run(config)
    return measure_once(config, num_threads, option)


if __name__ == "__main__":
    main()
