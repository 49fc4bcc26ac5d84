"""How an experiment's runs share the machine: one at a time in this process, or two at once in processes of their
own with one torch thread each; which finishes sooner is measured by `benchmark --placement`, not assumed.

A run's numbers depend on its config, its thread count included, never on what runs beside it: a one-thread run
gives the same numbers alone or in a pair."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..checkpoint import config_record
from ..errors import S4Error
from ..train import TrainConfig, train

PLACEMENTS = {"in_turn": "one run at a time", "pairs": "two runs at once, one torch thread each"}
EPOCH_LINE = re.compile(r"^epoch +\d+/\d+  ")  # a child's epoch lines are relayed; its progress bars are not


def default_placement() -> str:
    """Two runs at once where the committed measurement, made on a machine with as many cores, found it faster."""
    from .records import PLACEMENT_RECORD, load_record

    if not PLACEMENT_RECORD.exists():
        return "in_turn"
    record = load_record(PLACEMENT_RECORD)
    return record["faster"] if record.get("cpu_count") == os.cpu_count() else "in_turn"


def run_plan(configs: list[TrainConfig], placement: str, on_done: Callable[[int, dict], None],
             titles: list[str] | None = None) -> bool:
    """Train every config as placed, handing each finished (or diverged) run's record entry to on_done(index, entry);
    False when a run was interrupted (the finished ones have been handed on)."""
    if placement not in PLACEMENTS:
        raise S4Error(f"unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}")
    titles = titles or [f"run {k + 1} of {len(configs)} ({c.model}, seed {c.seed})" for k, c in enumerate(configs)]
    if placement == "in_turn":
        return run_in_turn(configs, on_done, titles)
    return run_side_by_side(configs, on_done, titles, at_once=2)


def run_in_turn(configs: list[TrainConfig], on_done: Callable[[int, dict], None], titles: list[str]) -> bool:
    """One run after another in this process."""
    from .experiments import run_entry

    for k, config in enumerate(configs):
        print(f"--- {titles[k]} ---", flush=True)
        result = train(config)
        if result.interrupted:
            return False
        on_done(k, run_entry(result))  # a diverged run is a result too: the record says where it diverged
    return True


def run_side_by_side(configs: list[TrainConfig], on_done: Callable[[int, dict], None], titles: list[str],
                     at_once: int) -> bool:
    """Up to at_once runs at a time, each in a fresh process (python -m s4lib.lab.worker); their epoch lines are
    relayed with the run's title. Ctrl-C stops them all; the finished ones have been handed on."""
    waiting, running, ok = list(range(len(configs))), {}, True
    with tempfile.TemporaryDirectory(prefix="s4-runs-") as tmp:
        try:
            while (waiting or running) and ok:
                while waiting and len(running) < at_once:
                    k = waiting.pop(0)
                    running[k] = start_worker(configs[k], Path(tmp) / f"{k}.json", titles[k])
                    print(f"--- started {titles[k]} ---", flush=True)
                time.sleep(0.2)
                for k, child in list(running.items()):
                    if child.poll() is None:
                        continue
                    del running[k]
                    out = Path(tmp) / f"{k}.json"
                    if child.returncode != 0 or not out.exists():
                        print(f"stopped: {titles[k]} ended with exit code {child.returncode}", flush=True)
                        ok = False
                        continue
                    on_done(k, json.loads(out.read_text()))
                    print(f"--- finished {titles[k]} ---", flush=True)
        finally:
            for child in running.values():
                child.terminate()
                child.wait()
    return ok


def start_worker(config: TrainConfig, out: Path, title: str) -> subprocess.Popen:
    """A fresh Python process that trains config and writes its record entry to out."""
    child = subprocess.Popen([sys.executable, "-m", "s4lib.lab.worker", str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    child.stdin.write(json.dumps(config_record(config)))
    child.stdin.close()
    threading.Thread(target=relay, args=(child, title), daemon=True).start()
    return child


def relay(child: subprocess.Popen, title: str) -> None:
    """Print a child's epoch lines (and its last words, if it fails) with its title in front."""
    last = ""
    for line in child.stdout:
        line = line.rstrip()
        if EPOCH_LINE.match(line) or line.startswith(("stopped", "warning", "error")):
            print(f"[{title}] {line}", flush=True)
        last = line or last


def measure(workload: TrainConfig, runs: int = 2, repeats: int = 3) -> dict:
    """Time `runs` runs of workload in turn (one process, torch's default threads) against side by side (two
    processes, one thread each), alternating `repeats` rounds; medians of one invocation."""
    import statistics

    from ..model import build_model, count_parameters

    rounds = []
    for k in range(repeats):
        for placement in PLACEMENTS:
            config = workload if placement == "in_turn" else replace(workload, threads=1)
            configs = [config] * runs
            t0 = time.perf_counter()
            if placement == "in_turn":
                for c in configs:
                    done = subprocess.run([sys.executable, "-m", "s4lib.lab.worker", os.devnull],
                                          input=json.dumps(config_record(c)), capture_output=True, text=True)
                    if done.returncode != 0:
                        raise S4Error(f"a placement run failed: {done.stdout.strip().splitlines()[-1:]}")
            elif not run_side_by_side(configs, lambda k, entry: None, [f"pair {j + 1}" for j in range(runs)], 2):
                raise S4Error("a placement run failed")
            rounds.append(dict(placement=placement, round=k + 1, config=config_record(config),
                               num_params=count_parameters(build_model(config.architecture, config.dropout)),
                               seconds=time.perf_counter() - t0))
            print(f"round {k + 1}/{repeats} {PLACEMENTS[placement]}: {rounds[-1]['seconds']:.1f} s", flush=True)
    median = {p: statistics.median(r["seconds"] for r in rounds if r["placement"] == p) for p in PLACEMENTS}
    return dict(runs=rounds, median=median, faster=min(median, key=median.get))


PLACEMENT_RUNS = 2  # runs per round and placement: one pair
WORKLOAD = dict(num_epochs=2, train_subset=20_000)  # a short run of the main config: seconds, not minutes


def placement_record(workload: TrainConfig, repeats: int, command: str) -> dict:
    """Measure both placements on workload and say which finished sooner, as the record keeps it."""
    import datetime as dt

    from .records import machine

    measured = measure(workload, PLACEMENT_RUNS, repeats)
    return dict(kind="placement", command=command, machine=machine(), date=dt.date.today().isoformat(),
                cpu_count=os.cpu_count(), repeats=repeats, runs_per_round=PLACEMENT_RUNS, placements=PLACEMENTS,
                **measured,
                ratio=measured["median"]["in_turn"] / measured["median"]["pairs"])


def run_placement(args) -> None:
    """`benchmark --placement`: measure, print, and write the record."""
    from ..files import check_output
    from ..project import display_path
    from .records import PLACEMENT_RECORD, write_record
    from .report import placement_markdown

    out = Path(args.out) if args.out else PLACEMENT_RECORD
    check_output(out, "record")
    workload = TrainConfig(data_root=args.data_root, **WORKLOAD)
    record = placement_record(workload, args.repeats, args.command_text)
    print()
    print(placement_markdown(record))
    print("wrote", display_path(write_record(record, out)))
