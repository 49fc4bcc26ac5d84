"""Experiments beyond one run: the same schedule over several seeds, recorded as JSON for the README."""
from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Callable

from .errors import S4Error
from .files import check_output
from .project import shown
from .records import (ABLATIONS_RECORD, ablations_experiment, guard_replace, machine, partial_path, seeds_experiment,
                      seeds_record_path, write_record)
from .train import TrainConfig, TrainResult, config_record, train

SEEDS = (1, 2, 3, 4, 5)


def summarise(runs: list[dict]) -> dict:
    """Min and mean of the final-epoch accuracies, and whether every seed met 99.4%."""
    finals = [r["final_test_acc"] for r in runs]
    return dict(min=min(finals), mean=statistics.mean(finals), all_at_least_99_4=min(finals) >= 0.994)


def run_entry(result: TrainResult) -> dict:
    """What every experiment record keeps of one run: final numbers, timing and the whole history."""
    h = result.history
    return dict(seed=result.config.seed, num_params=result.num_params, final_test_acc=h[-1].test_acc,
                final_train_acc=h[-1].train_acc, final_test_loss=h[-1].test_loss,
                last3_test_acc=[e.test_acc for e in h[-3:]], seconds=sum(e.seconds + e.test_seconds for e in h),
                epoch_seconds=statistics.median(e.seconds for e in h), history=result.to_dict()["history"])


def run_and_record(configs: list[tuple[dict, TrainConfig]], record: dict, out: Path,
                   on_update: Callable[[dict], None] = lambda record: None) -> dict:
    """Train each config in turn, keeping finished runs in out's partial file; out itself is written once, complete.

    Ctrl-C (or a run that stops early) ends it: the partial file keeps the runs that finished, out is untouched.
    """
    progress = partial_path(out)
    for labels, config in configs:
        print(f"--- {' / '.join(map(str, labels.values()))}, seed {config.seed} ---", flush=True)
        result = train(config)
        if result.interrupted or result.diverged:
            record["incomplete"] = True
            kept = f"{shown(progress)} keeps the {len(record['runs'])} run(s) that finished; " if record["runs"] else ""
            print(f"stopped: {kept}{shown(out)} is unchanged", flush=True)
            return record
        record["runs"].append(labels | run_entry(result))
        record["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        on_update(record)
        write_record(record, progress)
    write_record(record, out)
    progress.unlink(missing_ok=True)
    print(f"wrote {shown(out)}", flush=True)
    return record


def new_record(command: str | None, **fields) -> dict:
    """The header every experiment record starts with: how to re-make it, where and when it ran."""
    return dict(command=command or "Python (no command line)", machine=machine(),
                started=dt.datetime.now().isoformat(timespec="seconds"), **fields, runs=[])


def prepare_out(out: str | Path | None, default: Path, record: dict, experiment: Callable[[dict], tuple],
                force: bool = False) -> Path:
    """The record's path, checked before any training: writable, and never another experiment's default record."""
    path = Path(out) if out else default
    guard_replace(path, record, experiment, explicit=bool(out) or force)
    check_output(path, "record")
    return path


def run_seeds(config: TrainConfig, seeds=SEEDS, out: str | Path | None = None, command: str | None = None,
              force: bool = False) -> dict:
    """Train config once per seed (full schedule) and record each run; the record is written when all are done."""
    record = new_record(command, config=config_record(config), seeds=list(seeds))
    out = prepare_out(out, seeds_record_path(config.model), record, seeds_experiment, force)
    runs = [(dict(model=config.model, seed=seed), replace(config, seed=seed)) for seed in seeds]
    return run_and_record(runs, record, out, lambda rec: rec.update(summary=summarise(rec["runs"])))


def seeds_markdown(records: list[dict]) -> str:
    """One table over all seed records: final and last-3 accuracies per seed, min and mean per preset."""
    lines = ["| model | parameters | seed | final-epoch test acc | last 3 epochs | minutes |",
             "|---|---:|---:|---:|---|---:|"]
    for rec in records:
        for r in rec["runs"]:
            last3 = ", ".join(f"{100 * a:.2f}" for a in r["last3_test_acc"])
            lines.append(f"| {rec['config']['model']} | {r['num_params']:,} | {r['seed']} | "
                         f"{100 * r['final_test_acc']:.2f}% | {last3} | {r['seconds'] / 60:.1f} |")
        s = rec["summary"]
        verdict = "every seed ≥ 99.4%" if s["all_at_least_99_4"] else "a seed < 99.4%"
        lines.append(f"| **{rec['config']['model']}** | | **min / mean** | **{100 * s['min']:.2f}% / "
                     f"{100 * s['mean']:.2f}%** | {verdict} | |")
    lines.append("")
    lines += [f"- {made_by(rec)}" for rec in records]
    return "\n".join(lines)


# name -> (what it changes, TrainConfig overrides); every run shares ABLATION_EPOCHS and the seed
ABLATIONS: dict[str, tuple[str, dict]] = {
    "baseline": ("the main model and config", {}),
    "no BN": ("BatchNorm removed (convs get biases)", dict(model="s4-no-bn")),
    "no BN, lr 0.02": ("BatchNorm removed, peak learning rate 0.02", dict(model="s4-no-bn", lr=0.02)),
    "dropout 0": ("no dropout", dict(dropout=0.0)),
    "dropout 0.1": ("dropout 0.1", dict(dropout=0.1)),
    "dropout 0.25": ("dropout 0.25", dict(dropout=0.25)),
    "batch 32": ("batch size 32", dict(batch_size=32)),
    "batch 64": ("batch size 64", dict(batch_size=64)),
    "batch 256": ("batch size 256", dict(batch_size=256)),
    "batch 512": ("batch size 512", dict(batch_size=512)),
    "pool early": ("max-pool after 2 convs (RF 5)", dict(model="s4-pool-early")),
    "pool late": ("max-pool after 4 convs (RF 9)", dict(model="s4-pool-late")),
    "no augmentation": ("no rotation or shift", dict(max_rotation_deg=0.0, max_shift_px=0.0)),
    "lr 0.02": ("peak learning rate 0.02", dict(lr=0.02)),
    "lr 0.05": ("peak learning rate 0.05", dict(lr=0.05)),
    "lr 0.2": ("peak learning rate 0.2", dict(lr=0.2)),
    "lr 0.4": ("peak learning rate 0.4", dict(lr=0.4)),
    "Dropout2d": ("dropout 0.05 drops whole channels", dict(model="s4-dropout2d")),
}
ABLATION_EPOCHS = 5  # short on purpose: the whole set must fit in about an hour of 2 CPU cores


def run_ablations(base: TrainConfig, names=tuple(ABLATIONS), seeds=(1,), out: str | Path | None = None,
                  command: str | None = None, force: bool = False) -> dict:
    """Train each named variant of base for its short schedule; the record holds exactly the runs of this call."""
    unknown = sorted(set(names) - set(ABLATIONS))
    if unknown:
        raise S4Error(f"unknown ablation(s) {unknown}; choose from {sorted(ABLATIONS)}")
    record = new_record(command, base=config_record(base), names=list(names), seeds=list(seeds))
    out = prepare_out(out, ABLATIONS_RECORD, record, ablations_experiment, force)
    runs = [(dict(name=name, what=ABLATIONS[name][0]), replace(base, seed=seed, **ABLATIONS[name][1]))
            for name in names for seed in seeds]
    return run_and_record(runs, record, out)


def ablation_order(name: str) -> int:
    """Position of a variant in ABLATIONS (unknown names last), so tables keep one order after re-runs."""
    return list(ABLATIONS).index(name) if name in ABLATIONS else len(ABLATIONS)


def ablation_group(name: str) -> str:
    """The design question a variant answers: 'bn', 'dropout', 'batch', 'pool', 'lr' ..."""
    return re.split(r"[ ,]+", name.removeprefix("no "))[0].lower().removesuffix("2d")


def made_by(record: dict) -> str:
    """One line under a table: the command that re-makes it, the machine and the date it ran."""
    return f"Made by `{record['command']}` on {record['machine']}, {record['started'][:10]}."


def ablations_markdown(record: dict) -> str:
    """One row per variant: mean final test accuracy over its seeds (and change from baseline), epoch time."""
    lines = ["| variant | what changes | parameters | final test acc | vs baseline | final train acc | s / epoch |",
             "|---|---|---:|---:|---:|---:|---:|"]
    names = sorted(dict.fromkeys(r["name"] for r in record["runs"]), key=ablation_order)
    mean = {name: {key: statistics.mean(r[key] for r in record["runs"] if r["name"] == name)
                   for key in ("final_test_acc", "final_train_acc", "epoch_seconds")} for name in names}
    base = mean.get("baseline", {}).get("final_test_acc")
    for name in names:
        r = next(r for r in record["runs"] if r["name"] == name)
        m = mean[name]
        delta = "" if base is None or name == "baseline" else f"{100 * (m['final_test_acc'] - base):+.2f}"
        lines.append(f"| {name} | {r['what']} | {r['num_params']:,} | {100 * m['final_test_acc']:.2f}% | {delta} | "
                     f"{100 * m['final_train_acc']:.2f}% | {m['epoch_seconds']:.1f} |")
    seeds = sorted({r["seed"] for r in record["runs"]})
    epochs = record["base"]["num_epochs"]
    lines += ["", f"{epochs} epochs per run, seed(s) {', '.join(map(str, seeds))}; test and train accuracy "
              "of the final epoch (train accuracy on augmented batches with dropout on). " + made_by(record)]
    return "\n".join(lines)
