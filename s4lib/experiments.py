"""Experiments beyond one run: the same schedule over several seeds, recorded as JSON for the README."""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import asdict, replace
from pathlib import Path

from .report import ROOT, write_record
from .train import TrainConfig, train

RESULTS = ROOT / "notebooks" / "results"
SEEDS = (1, 2, 3, 4, 5)


def seeds_record_path(preset: str) -> Path:
    """Where the seeds record of a preset lives."""
    return RESULTS / f"seeds_{preset}.json"


def summarise(runs: list[dict]) -> dict:
    """Min and mean of the final-epoch accuracies, and whether every seed met 99.4%."""
    finals = [r["final_test_acc"] for r in runs]
    return dict(min=min(finals), mean=statistics.mean(finals), all_at_least_99_4=min(finals) >= 0.994)


def run_seeds(config: TrainConfig, seeds=SEEDS, out: str | Path | None = None) -> dict:
    """Train config once per seed (full schedule); the record is rewritten after every seed."""
    from .benchmark import machine

    out = Path(out) if out else seeds_record_path(config.model)
    record = dict(command=f"python -m s4lib seeds --model {config.model} --seeds {' '.join(map(str, seeds))}",
                  machine=machine(), started=dt.datetime.now().isoformat(timespec="seconds"),
                  config=asdict(config), runs=[])
    for seed in seeds:
        print(f"--- {config.model}, seed {seed} ---", flush=True)
        result = train(replace(config, seed=seed))
        if result.interrupted:
            print("interrupted: the record keeps the seeds that finished", flush=True)
            break
        h = result.history
        record["runs"].append(dict(seed=seed, num_params=result.num_params, final_test_acc=h[-1].test_acc,
                                   last3_test_acc=[e.test_acc for e in h[-3:]],
                                   seconds=sum(e.seconds + e.test_seconds for e in h),
                                   history=result.to_dict()["history"]))
        record["summary"] = summarise(record["runs"])
        record["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        write_record(record, out)
    return record


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
    return "\n".join(lines)


# name -> (what it changes, TrainConfig overrides); every run shares ABLATION_EPOCHS and the seed
ABLATIONS: dict[str, tuple[str, dict]] = {
    "baseline": ("the main model and config", {}),
    "no BN": ("BatchNorm removed (convs get biases)", dict(model="s4-no-bn")),
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
}
ABLATION_EPOCHS = 5  # short on purpose: the whole set must fit in about an hour of 2 CPU cores


def run_ablations(base: TrainConfig, names=tuple(ABLATIONS), seeds=(1,), out: str | Path | None = None) -> dict:
    """Train each named variant of base for its short schedule; the record is rewritten after every run."""
    from .benchmark import machine

    out = Path(out) if out else RESULTS / "ablations.json"
    unknown = sorted(set(names) - set(ABLATIONS))
    if unknown:
        from .errors import S4Error
        raise S4Error(f"unknown ablation(s) {unknown}; choose from {sorted(ABLATIONS)}")
    record = dict(command="python -m s4lib ablations", machine=machine(),
                  started=dt.datetime.now().isoformat(timespec="seconds"), base=asdict(base), runs=[])
    for name in names:
        what, overrides = ABLATIONS[name]
        for seed in seeds:
            print(f"--- ablation {name!r} ({what}), seed {seed} ---", flush=True)
            result = train(replace(base, seed=seed, **overrides))
            if result.interrupted:
                return record
            h = result.history
            record["runs"].append(dict(name=name, what=what, seed=seed, num_params=result.num_params,
                                       final_test_acc=h[-1].test_acc, final_train_acc=h[-1].train_acc,
                                       final_test_loss=h[-1].test_loss,
                                       epoch_seconds=statistics.median(e.seconds for e in h),
                                       history=result.to_dict()["history"]))
            record["finished"] = dt.datetime.now().isoformat(timespec="seconds")
            write_record(record, out)
    return record


def ablations_markdown(record: dict) -> str:
    """One row per variant: mean final test accuracy over its seeds, train accuracy, epoch time."""
    lines = ["| variant | what changes | parameters | final test acc | final train acc | s / epoch |",
             "|---|---|---:|---:|---:|---:|"]
    names = list(dict.fromkeys(r["name"] for r in record["runs"]))
    for name in names:
        rs = [r for r in record["runs"] if r["name"] == name]
        mean = lambda key: statistics.mean(r[key] for r in rs)  # noqa: E731
        lines.append(f"| {name} | {rs[0]['what']} | {rs[0]['num_params']:,} | {100 * mean('final_test_acc'):.2f}% | "
                     f"{100 * mean('final_train_acc'):.2f}% | {mean('epoch_seconds'):.1f} |")
    return "\n".join(lines)
