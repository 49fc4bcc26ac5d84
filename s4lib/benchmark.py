"""Speed benchmark: seconds per training epoch and test pass, and peak memory, per batch pipeline.

Each measurement runs in a fresh subprocess so its peak resident memory is its own; pipelines alternate
so that a busy spell of the machine hits both, and the report gives medians and their ratio.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace

import torch

from .train import TrainConfig


def measure_once(config: TrainConfig, num_threads: int = 0) -> dict:
    """One training epoch and one test pass in this process: seconds and peak RSS."""
    from .data import load_mnist
    from .model import build_model
    from .train import evaluate, make_train_batches, train_one_epoch

    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(config.seed)
    X_train, y_train, X_test, y_test = load_mnist(config.data_root, verbose=False)
    model = build_model(config.model, config.dropout)
    batches = make_train_batches(config, X_train, y_train)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    t0 = time.perf_counter()
    train_one_epoch(model, batches, optimizer, scheduler, desc=f"{config.loader} epoch")
    t1 = time.perf_counter()
    evaluate(model, X_test, y_test)
    t2 = time.perf_counter()
    return dict(loader=config.loader, train_s=t1 - t0, test_s=t2 - t1, threads=torch.get_num_threads(),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_child(config: TrainConfig, num_threads: int) -> dict:
    """measure_once in a fresh Python process."""
    cmd = [sys.executable, "-m", "s4lib.benchmark", "--child", json.dumps(asdict(config)),
           "--threads", str(num_threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def benchmark(config: TrainConfig, repeats: int = 3, num_threads: int = 0) -> dict:
    """Alternate the in-memory and torchvision pipelines `repeats` times each; medians and ratio."""
    runs = []
    for k in range(repeats):
        for loader in ("memory", "torchvision"):
            r = run_child(replace(config, loader=loader), num_threads)
            print(f"run {k + 1}/{repeats} {loader:11s}: epoch {r['train_s']:6.1f} s, test {r['test_s']:4.1f} s, "
                  f"peak RSS {r['peak_rss_mib']:6.0f} MiB", flush=True)
            runs.append(r)
    summary = {}
    for loader in ("memory", "torchvision"):
        rs = [r for r in runs if r["loader"] == loader]
        summary[loader] = {key: statistics.median(r[key] for r in rs) for key in ("train_s", "test_s", "peak_rss_mib")}
    summary["speedup_train"] = summary["torchvision"]["train_s"] / summary["memory"]["train_s"]
    import datetime as dt

    return dict(command="python -m s4lib benchmark", date=dt.date.today().isoformat(), config=asdict(config),
                repeats=repeats, machine=machine(), runs=runs, median=summary)


def machine() -> str:
    """A short description of where the numbers come from."""
    import os

    return f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m s4lib.benchmark", description=__doc__)
    p.add_argument("--repeats", type=int, default=3, help="runs per pipeline (default 3)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    p.add_argument("--out", help="write the JSON record here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure_once(TrainConfig(**json.loads(args.child)), args.threads)))
        return
    record = benchmark(TrainConfig(batch_size=args.batch_size), args.repeats, args.threads)
    m = record["median"]
    print(f"\nmedian of {args.repeats} ({record['machine']}):")
    for loader in ("memory", "torchvision"):
        print(f"  {loader:11s} epoch {m[loader]['train_s']:6.1f} s  test {m[loader]['test_s']:4.1f} s  "
              f"peak RSS {m[loader]['peak_rss_mib']:6.0f} MiB")
    print(f"  in-memory pipeline is {m['speedup_train']:.2f}x faster per training epoch")
    if args.out:
        from .report import write_record

        print("wrote", write_record(record, args.out))


if __name__ == "__main__":
    main()
