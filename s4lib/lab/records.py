"""One home for records: where each lives, how it is written and read, the machine that made it, and what makes two
records the same experiment. Every run of a record holds its whole config, so the record alone re-makes it."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from ..checkpoint import config_from_record
from ..device import cpu_name, gpu_name, threads_phrase
from ..errors import S4Error
from ..files import write_json
from ..project import MAIN_RECORD, RESULTS, display_path
from ..train import TrainConfig

ABLATIONS_RECORD = RESULTS / "ablations.json"
TEST_SET_ABLATIONS_RECORD = RESULTS / "ablations_test-set.json"  # the first ablations, scored on the test set
BENCHMARK_RECORD = RESULTS / "benchmark.json"
TIME_TO_ACCURACY_RECORD = RESULTS / "time_to_accuracy.json"
PLACEMENT_RECORD = RESULTS / "placement.json"
PROFILE_RECORD = RESULTS / "profile.json"
GPU_CHECK_RECORD = RESULTS / "gpu_check.json"


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


def committed_records() -> list[Path]:
    """Every record in notebooks/results (progress files of unfinished experiments left out)."""
    return sorted(p for p in RESULTS.glob("*.json") if ".partial" not in p.name)


def machine() -> str:
    """A short description of where the numbers come from (torch threads named when not one per core, and the GPU
    when there is one)."""
    limited = f", {threads_phrase('torch thread')}" if torch.get_num_threads() != os.cpu_count() else ""
    cpu = ", ".join(part for part in (cpu_name(), platform.machine()) if part)
    gpu = f", GPU {gpu_name()}" if gpu_name() else ""
    return f"{os.cpu_count()} CPU cores{limited}, {cpu}{gpu}, torch {torch.__version__}"


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
    return write_json(record, path)


def record_runs(record: dict) -> list[dict]:
    """The runs of any record, each holding its config: a single run's record is its own one run."""
    if "history" in record:  # notebook 02's run: the record is the run
        return [record]
    if record.get("kind") == "profile":
        return [dict(design, name=name) for name, design in record["designs"].items()]
    if record.get("kind") == "gpu_check":
        return [dict(run, name=name) for name, run in record["epochs"].items()] + [record["main_run"]]
    return record.get("runs", []) + record.get("lever_runs", [])


def run_config(run: dict) -> TrainConfig:
    """The config a recorded run trained with, from the record alone."""
    return config_from_record(run["config"])


def what_ran(config: dict) -> dict:
    """A recorded config without the settings that say where it ran, not what (the data folder, the device)."""
    return {k: v for k, v in config.items() if k not in ("data_root", "device")}


def run_identity(run: dict) -> tuple:
    """What makes a run the same run: its labels and what it ran (not its numbers)."""
    labels = tuple((k, run.get(k)) for k in ("name", "model", "variant", "row", "lever", "seed", "option") if k in run)
    return labels, what_ran(run["config"])


def experiment_identity(record: dict) -> list[tuple]:
    """What makes two records the same experiment: the same runs, in the same order, on the same plan."""
    return [run_identity(r) for r in record_runs(record)] + [("repeats", record.get("repeats"))]


def guard_replace(path: Path, planned: dict, explicit: bool) -> None:
    """Refuse to replace an existing record with another experiment unless the user said --out or --force."""
    if explicit or not path.exists():
        return
    try:
        old = experiment_identity(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    if old != experiment_identity(planned):
        raise S4Error(f"{display_path(path)} holds another experiment than this command would run, so nothing was run. "
                      "Write this one elsewhere with --out PATH, or replace it with --force")
