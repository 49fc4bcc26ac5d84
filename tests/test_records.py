"""Every committed record re-makes itself: each run holds its whole config, which rebuilds its network with the
parameter count the record holds, and `rerun --dry-run` lists exactly its runs."""
import json

import pytest

from s4lib.cli import main
from s4lib.lab.records import committed_records, load_record, record_runs, run_config
from s4lib.lab.rerun import differences, run_title
from s4lib.model import build_model, count_parameters
from s4lib.project import display_path

RECORDS = committed_records()


def test_there_are_records_of_every_kind():
    kinds = {load_record(p).get("kind", "run") for p in RECORDS}
    assert {"run", "seeds", "search", "ablations", "benchmark", "time_to_accuracy"} <= kinds


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_every_run_rebuilds_its_network_with_the_recorded_parameter_count(path):
    runs = record_runs(load_record(path))
    assert runs
    for run in runs:
        config = run_config(run)  # every setting named, the architecture spelled out
        assert count_parameters(build_model(config.architecture, config.dropout)) == run["num_params"], run_title(run)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_a_dry_run_lists_exactly_the_records_runs_and_trains_nothing(path, capsys, monkeypatch):
    import s4lib.lab.placement
    import s4lib.train

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run trained")
    monkeypatch.setattr(s4lib.train, "train", refuse)
    monkeypatch.setattr(s4lib.lab.placement, "run_plan", refuse)
    before = path.read_bytes()
    assert main(["rerun", display_path(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    runs = record_runs(load_record(path))
    assert len(lines) == len(runs)
    for k, (line, run) in enumerate(zip(lines, runs), start=1):
        assert line.startswith(f"{k:3d}  {run_title(run)} ({run['config']['model']}): ")
        assert line.endswith(differences(run["config"]))
    assert path.read_bytes() == before


def test_a_dry_run_says_how_a_run_differs_from_the_defaults(capsys):
    assert main(["rerun", "notebooks/results/search_speed.json", "--dry-run", "--runs", "1"]) == 0
    line = capsys.readouterr().out.rstrip("\n")
    assert line.startswith("  1  pool after 3, seed 1 (s4-pool-3): architecture.block1 [8, 16, 16], "
                           "architecture.block2 [16, 16, 16, 16], lr 0.1, dropout 0.05, validation 10000")


def test_rerun_re_makes_the_picked_runs_from_the_record_alone(tmp_path, capsys, monkeypatch):
    """A seeds record of two short runs: rerun --runs 2 trains run 2 again, as the record says, and nothing else."""
    import s4lib.lab.placement as placement
    from s4lib.lab.experiments import run_seeds
    from s4lib.train import TrainConfig

    config = TrainConfig(num_epochs=1, train_subset=640, test_subset=200, batch_size=64)
    original = run_seeds(config, seeds=(1, 2), out=tmp_path / "s.json", placement="in_turn")
    seen = []
    real = placement.train
    monkeypatch.setattr(placement, "train", lambda c: seen.append(c) or real(c))
    assert main(["rerun", str(tmp_path / "s.json"), "--runs", "2", "--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert seen == [run_config(original["runs"][1])]
    assert again["runs"][0] == original["runs"][0]  # run 1 is kept as it was
    for key in ("final_test_acc", "final_test_loss", "first_losses"):  # run 2 repeats to the bit on one machine
        assert again["runs"][1][key] == original["runs"][1][key]
    assert again["rerun"]["runs"] == [2] and again["summary"] == original["summary"]


def test_a_run_number_the_record_does_not_have_is_one_line(capsys):
    assert main(["rerun", "notebooks/results/seeds_s4.json", "--runs", "9", "--dry-run"]) == 2
    assert "the record has runs 1 to 5" in capsys.readouterr().err


def images_right(groups: dict[str, list[dict]]) -> dict[str, list[int]]:
    """Each candidate's held-out images right, seed by seed (of 10,000: whole numbers, where a bar is compared)."""
    return {name: [round(r["final_test_acc"] * 10_000) for r in runs] for name, runs in groups.items()}


def quickest(groups: dict[str, list[dict]], names: list[str]) -> str:
    """Of the named candidates, the one whose runs took the least median time: how the fast searches decide."""
    import statistics

    return min(names, key=lambda name: statistics.median(r["wall_seconds"] for r in groups[name]))


def test_the_precision_of_fast_4_was_timed_by_the_time_to_accuracy_and_fast_computes_in_float32():
    """search_fast-4's rule on its record: of the candidates whose mean and lowest seed are at most 3 images in 10,000
    below the reference's, the one with the least median run time; the time to accuracy times that choice as whole
    runs of the same design, beside it in float32 NCHW, and the report says what its rule decides. fast's later
    design was never searched in another precision, so it computes in float32 NCHW."""
    import statistics

    from s4lib.lab.experiments import runs_by_name
    from s4lib.lab.report import time_to_accuracy_values
    from s4lib.train import TrainConfig

    record = load_record("notebooks/results/search_fast-4.json")
    groups = runs_by_name(record["runs"])
    images = images_right(groups)
    ref = images["fast as it is"]
    accurate = [name for name, got in images.items()
                if statistics.mean(got) >= statistics.mean(ref) - 3 and min(got) >= min(ref) - 3]
    won = groups[quickest(groups, accurate)][0]["config"]
    choice = (won["precision"].replace("bf16", "auto"), won["memory_format"])
    whole = load_record("notebooks/results/time_to_accuracy.json")
    rows = {r["row"]: r["config"] for r in whole["runs"]}
    timed, reference = rows["pool_first_20_bf16_cl"], rows["pool_first_20"]
    assert (timed["precision"], timed["memory_format"]) == choice and timed["architecture"] == won["architecture"]
    assert (reference["precision"], reference["memory_format"]) == ("fp32", "nchw")
    assert reference["architecture"] == won["architecture"]
    seconds = {name: [r["run_s"] for r in whole["runs"] if r["row"] == name] for name in rows}
    faster = all(a < b for a, b in zip(seconds["pool_first_20_bf16_cl"], seconds["pool_first_20"]))
    said = time_to_accuracy_values(whole)["pool_first_20:decision"]
    assert said.startswith("it would have taken bf16") if faster else said.startswith("it kept float32")
    config = TrainConfig.preset("fast")
    assert (config.precision, config.memory_format) == ("fp32", "nchw")


def test_fast_is_the_design_the_searches_fast_5_to_fast_11_chose_by_their_bar():
    """Their rule on their records: of the candidates whose every seed and mean reach the bar, the one with the least
    median run time becomes fast; the reference row, fast as it was, keeps it. Each starts from the last's choice:
    fast-5 to fast-9 kept the reference, fast-10 changed it, and fast-11, by its own bar, starts from that choice;
    fast-11's choice is the preset."""
    import statistics

    from s4lib.checkpoint import config_record
    from s4lib.lab.experiments import FAST_5_BAR, FAST_11_BAR, runs_by_name
    from s4lib.train import TrainConfig

    def recipe(config: dict) -> dict:  # what a preset fixes: not the seed, the split, the threads or the folder
        return {k: v for k, v in config.items() if k not in ("seed", "validation", "threads", "data_root", "device")}

    def chosen(name: str, bar: dict) -> dict:
        groups = runs_by_name(load_record(f"notebooks/results/search_{name}.json")["runs"])
        bar = {k: round(v * 10_000) for k, v in bar.items()}
        accurate = [c for c, got in images_right(groups).items()
                    if min(got) >= bar["every_seed"] and statistics.mean(got) >= bar["mean"]]
        # fast-8's rule: a candidate in bf16 where native counts only if its float32 twin is accurate enough too
        twin = {c: recipe(g[0]["config"] | dict(precision="fp32")) for c, g in groups.items()}
        floats = [twin[c] for c in accurate if groups[c][0]["config"]["precision"] == "fp32"]
        accurate = [c for c in accurate if groups[c][0]["config"]["precision"] != "auto" or twin[c] in floats]
        assert "fast as it is" in groups
        won = quickest(groups, accurate)
        return dict(reference=recipe(groups["fast as it is"][0]["config"]), won=recipe(groups[won][0]["config"]))

    searches = [chosen(f"fast-{k}", FAST_5_BAR) for k in range(5, 11)]
    for search, after in zip(searches, searches[1:]):
        assert search["reference"] == after["reference"]  # each started from fast as it was
    assert all(search["won"] == search["reference"] for search in searches[:-1])  # fast-5 to fast-9 kept it
    assert searches[-1]["won"] != searches[-1]["reference"]  # fast-10 changed it
    last = chosen("fast-11", FAST_11_BAR)
    assert last["reference"] == searches[-1]["won"]  # fast-11 started from fast-10's choice
    # and, as its report says, its reference row repeated fast-10's runs of that design seed by seed
    again = runs_by_name(load_record("notebooks/results/search_fast-11.json")["runs"])["fast as it is"]
    then = runs_by_name(load_record("notebooks/results/search_fast-10.json")["runs"])["first conv of 6"]
    assert [(r["seed"], r["final_test_acc"]) for r in again] == [(r["seed"], r["final_test_acc"]) for r in then]
    # the preset is the last choice's design and recipe, under the preset's name
    assert recipe(config_record(TrainConfig.preset("fast"))) == last["won"] | dict(model="fast")


def test_a_command_that_named_a_preset_or_file_since_renamed_says_what_the_name_meant():
    """The seeds of fast's earlier design ran as `--model fast` into a file since renamed: the line under the table
    says so; a command whose names still hold gets no such note."""
    from s4lib.lab.experiments import made_by

    path = "notebooks/results/seeds_pool-first-20-bf16.json"
    line = made_by(load_record(path), path)
    assert "`fast` then named the design the records call `pool-first-20`" in line
    assert "the record has since been renamed" in line
    path = "notebooks/results/seeds_fast.json"
    assert "then named" not in made_by(load_record(path), path) and "(" not in made_by(load_record(path), path)


def test_the_seeds_intro_names_the_rows_that_ran_two_at_a_time():
    """The seeds table's minutes are wall times as each record placed its runs: the intro names the paired ones."""
    from s4lib.lab.report import minutes_sentence

    def record(model: str, placement: str) -> dict:
        return {"placement": placement, "runs": [{"config": {"model": model}}]}

    said = minutes_sentence([record("s4", "in_turn"), record("fast", "pairs"), record("fast", "pairs")])
    assert "in the rows of `fast` and one at a time" in said and "`s4`" not in said
    assert minutes_sentence([record("s4", "in_turn")]) == ""


def test_the_precision_reading_counts_the_rounds_in_which_bf16_was_faster():
    from s4lib.lab.report import in_words, time_to_accuracy_values

    whole = load_record("notebooks/results/time_to_accuracy.json")
    seconds = {lever: [r["train_s_per_epoch"] for r in whole["lever_runs"] if r["lever"] == lever]
               for lever in ("bf16", "fp32")}
    faster = sum(a < b for a, b in zip(seconds["bf16"], seconds["fp32"]))
    assert time_to_accuracy_values(whole)["bf16:rounds"] == \
        f"faster in {in_words(faster)} of its {in_words(len(seconds['fp32']))} rounds"
