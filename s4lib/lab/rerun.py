"""python -m s4lib rerun RECORD: re-make a record's runs from the record alone; every run holds its whole config, so
no name is looked up in the code."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..checkpoint import config_record
from ..errors import S4Error
from ..project import display_path
from ..train import TrainConfig
from .records import load_record, machine, record_runs, run_config, write_record

LABELS = ("name", "model", "variant", "row", "lever")


def run_title(run: dict) -> str:
    """How a run is named in a listing: its label and seed."""
    label = next((f"{run[k]}" for k in LABELS if k in run and k != "model"), None) or run["config"]["model"]
    if "placement" in run:
        label = f"{run['placement']}, round {run['round']}"
    return f"{label}, seed {run['config']['seed']}"


def differences(config: dict) -> str:
    """How a recorded config differs from TrainConfig()'s defaults, in one line ('' when it does not)."""
    default = config_record(TrainConfig())
    words = []
    for key, value in config.items():
        if key in ("data_root", "device", "seed", "model") or value == default[key]:
            continue
        if key == "architecture":
            words += [f"architecture.{k} {v}" for k, v in value.items() if v != default[key][k]]
        else:
            words.append(f"{key} {value}")
    return ", ".join(words) or "the defaults"


def dry_run_lines(record: dict, picked: list[int]) -> list[str]:
    """One line per run: its number, title, network name and how its config differs from the defaults."""
    runs = record_runs(record)
    return [f"{k + 1:3d}  {run_title(runs[k])} ({runs[k]['config']['model']}): {differences(runs[k]['config'])}"
            for k in picked]


def pick(record: dict, numbers: list[int] | None) -> list[int]:
    """The runs asked for, as indices (numbers count from 1, as --dry-run lists them)."""
    total = len(record_runs(record))
    if not numbers:
        return list(range(total))
    bad = [n for n in numbers if not 1 <= n <= total]
    if bad:
        raise S4Error(f"--runs {' '.join(map(str, bad))}: the record has runs 1 to {total}")
    return sorted({n - 1 for n in numbers})


def rerun(path: str | Path, numbers: list[int] | None = None, dry_run: bool = False,
          out: str | Path | None = None) -> int | None:
    """List (dry_run) or re-make the picked runs of the record at path; write the record to out (default: path)."""
    path = Path(path)
    record = load_record(path)
    picked = pick(record, numbers)
    for run in record_runs(record):  # every config must rebuild before anything is trained
        run_config(run)
    if dry_run:
        print("\n".join(dry_run_lines(record, picked)))
        return None
    remade = remake(record, picked)
    if remade is None:
        return 130
    remade |= dict(machine=machine(), rerun=dict(date=dt.date.today().isoformat(), runs=[k + 1 for k in picked]))
    target = Path(out) if out else path
    write_record(remade, target)
    print(f"wrote {display_path(target)}")
    return None


def remake(record: dict, picked: list[int]) -> dict | None:
    """The record with the picked runs made again (None when Ctrl-C or a NaN stopped it), by the record's kind."""
    kind = record.get("kind") or ("run" if "history" in record else None)
    if kind == "run":
        return remake_single(record)
    if kind in ("seeds", "search", "ablations"):
        return remake_experiment(record, picked)
    if kind == "benchmark":
        return remake_benchmark(record, picked)
    if kind == "time_to_accuracy":
        return remake_time_to_accuracy(record, picked)
    if kind == "profile":  # its designs are timed against one peak: re-made whole
        from .profile import profile_record

        return profile_record({name: run_config(d) for name, d in record["designs"].items()}, record["command"],
                              record["repeats"])
    if kind == "placement":  # its runs are rounds of one measurement: re-made whole
        from .placement import placement_record

        return placement_record(run_config(record["runs"][0]), record["repeats"], record["command"])
    raise S4Error(f"a record of kind {kind!r} has no runs to re-make")


def remake_single(record: dict) -> dict | None:
    """Notebook 02's run, trained again from its config."""
    from ..train import train

    result = train(run_config(record))
    return None if result.interrupted or result.diverged else result.to_dict()


def remake_experiment(record: dict, picked: list[int]) -> dict | None:
    """The picked runs of a seeds, search or ablations record, placed as the record says."""
    from .experiments import summarise
    from .placement import run_plan

    runs = [dict(r) for r in record["runs"]]

    def keep(j: int, entry: dict) -> None:
        k = picked[j]
        runs[k] = {key: runs[k][key] for key in ("name", "what", "model") if key in runs[k]} | entry

    configs = [run_config(record["runs"][k]) for k in picked]
    if not run_plan(configs, record["placement"], keep, [run_title(record["runs"][k]) for k in picked]):
        return None
    remade = record | dict(runs=runs, finished=dt.datetime.now().isoformat(timespec="seconds"))
    if "summary" in record:
        remade["summary"] = summarise(runs)
    return remade


def remake_benchmark(record: dict, picked: list[int]) -> dict:
    """The picked rounds of the epoch benchmark, each in a fresh process, and the medians again."""
    from .benchmark import benchmark_medians, run_child

    runs = [dict(r) for r in record["runs"]]
    for k in picked:
        r = runs[k]
        runs[k] = {key: r[key] for key in ("variant", "option", "sync_every", "config", "num_params")} | run_child(
            run_config(r), r.get("option", ""), sync_every=r["sync_every"])
    return record | dict(runs=runs, median=benchmark_medians(runs), date=dt.date.today().isoformat())


def remake_time_to_accuracy(record: dict, picked: list[int]) -> dict:
    """The picked whole runs and levers, each in a fresh process, and the medians again."""
    from .benchmark import time_lever, time_to_accuracy_medians, time_whole_run

    runs, levers = [dict(r) for r in record["runs"]], [dict(r) for r in record["lever_runs"]]
    for k in picked:
        if k < len(runs):
            runs[k] = time_whole_run(runs[k]["row"], run_config(runs[k]))
        else:
            j = k - len(runs)
            levers[j] = time_lever(levers[j]["lever"], run_config(levers[j]))
    remade = record | dict(runs=runs, lever_runs=levers, date=dt.date.today().isoformat())
    return remade | time_to_accuracy_medians(remade)

