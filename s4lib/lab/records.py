"""One home for records: where each lives, how it is written, the machine that made it, and what it holds."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Callable

import torch

from ..device import cpu_name, threads_phrase
from ..errors import S4Error
from ..files import atomic_write
from ..project import clone_root, shown
from ..train import SETTINGS_ADDED_LATER


def results_dir() -> Path:
    """notebooks/results of the clone; outside a clone (an installed s4lib), ./results."""
    root = clone_root()
    return root / "notebooks" / "results" if root else Path("results")


RESULTS = results_dir()
MAIN_RECORD = RESULTS / "s4_main.json"  # notebook 02's run: history per epoch
MAIN_WEIGHTS = RESULTS / "s4_main.pt"  # and its final weights
ABLATIONS_RECORD = RESULTS / "ablations.json"
BENCHMARK_RECORD = RESULTS / "benchmark.json"
TIME_TO_ACCURACY_RECORD = RESULTS / "time_to_accuracy.json"


def seeds_record_path(preset: str) -> Path:
    """Where the seeds record of a preset lives."""
    return RESULTS / f"seeds_{preset}.json"


def search_record_path(name: str) -> Path:
    """Where the record of a design search lives."""
    return RESULTS / f"search_{name}.json"


def partial_path(path: str | Path) -> Path:
    """Where an experiment keeps its finished runs until all are done (the record itself changes only then)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def machine() -> str:
    """A short description of where the numbers come from (torch threads named when not one per core)."""
    limited = f", {threads_phrase('torch thread')}" if torch.get_num_threads() != os.cpu_count() else ""
    cpu = ", ".join(part for part in (cpu_name(), platform.machine()) if part)
    return f"{os.cpu_count()} CPU cores{limited}, {cpu}, torch {torch.__version__}"


def load_record(path: str | Path = MAIN_RECORD) -> dict:
    """A JSON record, or a one-line error naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise S4Error(f"record {path} does not exist") from None
    except (OSError, ValueError) as e:
        raise S4Error(f"record {path} cannot be read ({e})") from None


def write_record(record: dict, path: str | Path = MAIN_RECORD) -> Path:
    """Write a JSON record (pretty, stable key order), atomically."""
    text = json.dumps(record, indent=1) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))




def where_free(config: dict | None) -> dict | None:
    """A config without the settings that say where it ran, not what (data folder, device); a setting it
    predates holds the value it ran with, as config_differences reads it too."""
    if config is None:
        return None
    return {k: v for k, v in (SETTINGS_ADDED_LATER | config).items() if k not in ("data_root", "device")}


def seeds_experiment(record: dict) -> tuple:
    """What makes two seeds records the same experiment: the config and the seeds."""
    seeds = record.get("seeds") or [r["seed"] for r in record.get("runs", [])]
    return where_free(record.get("config")), sorted(seeds)


def ablations_experiment(record: dict) -> tuple:
    """What makes two ablation records the same experiment: the base config, the variants and the seeds."""
    runs = record.get("runs", [])
    names = record.get("names") or [r["name"] for r in runs]
    seeds = record.get("seeds") or [r["seed"] for r in runs]
    return where_free(record.get("base")), sorted(set(names)), sorted(set(seeds))


def search_experiment(record: dict) -> tuple:
    """What makes two search records the same experiment: the search, its base config, candidates and seeds."""
    return (record.get("search"), where_free(record.get("base")), record.get("candidates"), record.get("seeds"))


def benchmark_experiment(record: dict) -> tuple:
    """What makes two benchmark records the same experiment: config, variants, rounds and threads."""
    return (where_free(record.get("config")), sorted(record.get("variants", {})), record.get("repeats"),
            record.get("threads", 0))


def time_to_accuracy_experiment(record: dict) -> tuple:
    """What makes two time-to-accuracy records the same experiment: each row's config, the levers, rounds, threads."""
    rows = {n: where_free(r.get("config")) for n, r in record.get("rows", {}).items()}
    levers = {n: r.get("overrides") for n, r in record.get("levers", {}).items()}
    return rows, levers, record.get("repeats"), record.get("threads", 0)


def guard_replace(path: Path, record: dict, experiment: Callable[[dict], tuple], explicit: bool) -> None:
    """Refuse to replace an existing record with another experiment unless the user said --out or --force."""
    if explicit or not path.exists():
        return
    try:
        old = experiment(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    if old != experiment(record):
        raise S4Error(f"{shown(path)} holds another experiment than this command would run, so nothing was run. "
                      "Write this one elsewhere with --out PATH, or replace it with --force")
