"""The command line used carelessly: nothing committed is replaced by another experiment, no run's work is lost,
bad paths and nonsense settings are refused before any training, and every failure is one line, never a traceback."""
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import s4lib.train as train_module
from s4lib.checkpoint import config_differences, config_record, load_checkpoint, save_atomic
from s4lib.cli import main, stops_held
from s4lib.errors import S4Error
from s4lib.lab.records import ABLATIONS_RECORD, BENCHMARK_RECORD, RESULTS, seeds_record_path
from s4lib.results import EpochLog, TrainResult
from s4lib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = str(ROOT / "data")
TINY_RUN = ["--num-epochs", "2", "--batch-size", "64", "--train-subset", "640", "--test-subset", "200",
            "--data-root", DATA]


def fingerprint(*folders: Path) -> dict:
    """Every file in the folders with its md5: what must be byte-identical after a refused command."""
    return {str(p): hashlib.md5(p.read_bytes()).hexdigest() for f in folders for p in sorted(Path(f).rglob("*"))
            if p.is_file()}


def one_line_error(capsys, code: int, expected: int = 2) -> str:
    """The command failed with the expected code and said why in one line, without a traceback."""
    err = capsys.readouterr().err
    assert code == expected, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a command starts training: refusals must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(train_module, "train", refuse)
    import s4lib.lab.placement
    monkeypatch.setattr(s4lib.lab.placement, "train", refuse)
    monkeypatch.setattr(s4lib.lab.placement, "run_side_by_side", refuse)


def hand_made(config: TrainConfig, epochs: int = 2) -> TrainResult:
    from s4lib.model import build_model

    history = [EpochLog(k, 0.01, 1.0, 0.5, 0.9, 0.8 + k / 100, 1.0, 0.1) for k in range(1, epochs + 1)]
    return TrainResult(config, 12114, history=history, model=build_model())


# ---------------------------------------------------------------- committed records

@pytest.mark.parametrize("argv", [
    ["seeds", "--seeds", "1", "--num-epochs", "1", "--train-subset", "1000"],
    ["seeds", "--model", "tiny", "--seeds", "1", "2"],
    ["ablations", "--only", "baseline"],
    ["ablations", "--lr", "0.05"],
    ["benchmark", "--only", "default", "--repeats", "1"],
    ["benchmark", "--time-to-accuracy", "--repeats", "1"],
])
def test_another_experiment_never_replaces_a_committed_record(argv, capsys, no_training):
    before = fingerprint(RESULTS, ROOT / "images")
    line = one_line_error(capsys, main(argv))
    assert "holds another experiment" in line and "--out" in line and "--force" in line
    assert fingerprint(RESULTS, ROOT / "images") == before


def test_time_to_accuracy_times_every_row_or_none(capsys, no_training):
    line = one_line_error(capsys, main(["benchmark", "--time-to-accuracy", "--only", "default"]))
    assert "--only" in line and "every row" in line


def test_a_record_names_exactly_the_command_that_ran(tmp_path, capsys, monkeypatch):
    import s4lib.lab.placement

    monkeypatch.setattr(s4lib.lab.placement, "train", hand_made)
    out = tmp_path / "s.json"
    assert main(["seeds", "--seeds", "1", "--num-epochs", "2", "--train-subset", "1000",
                 "--lr", str(TrainConfig().lr), "--data-root", DATA, "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    # --lr as the default: left out; --data-root and --out say where, not what: left out
    assert record["command"] == "python -m s4lib seeds --num-epochs 2 --train-subset 1000 --seeds 1"
    assert record["runs"][0]["config"]["data_root"] == "data"  # relative to the clone, never this machine's folder
    assert main(["seeds", "--model", "tiny", "--seeds", "1", "2", "3", "4", "5", "--data-root", DATA, "--out",
                 str(out)]) == 0
    assert json.loads(out.read_text())["command"] == "python -m s4lib seeds --model tiny"


# ---------------------------------------------------------------- a run's progress

def test_an_existing_checkpoint_is_not_replaced_without_resume_or_force(tmp_path, capsys, no_training):
    ckpt = tmp_path / "progress.pt"
    ckpt.write_bytes(b"another run's progress")
    line = one_line_error(capsys, main(["train", "--checkpoint", str(ckpt), *TINY_RUN]))
    assert "exists" in line and "--resume" in line and "--force" in line
    assert ckpt.read_bytes() == b"another run's progress"


@pytest.mark.parametrize("other", ["--record", "--save"])
def test_two_outputs_on_one_path_are_refused(tmp_path, capsys, no_training, other):
    path = tmp_path / "run.pt"
    line = one_line_error(capsys, main(["train", "--checkpoint", str(path), other, str(path), *TINY_RUN]))
    assert "name the same file" in line
    assert not path.exists()


# ---------------------------------------------------------------- bad output paths, before the work

@pytest.mark.parametrize("flag", ["--checkpoint", "--save", "--record"])
@pytest.mark.parametrize("bad", ["missing/dir/x.pt", "a_folder", "a_file/x.pt"])
def test_a_bad_output_path_is_refused_before_training(tmp_path, capsys, no_training, flag, bad):
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("keep me")
    before = fingerprint(tmp_path)
    line = one_line_error(capsys, main(["train", flag, str(tmp_path / bad), *TINY_RUN]))
    assert flag in line
    assert fingerprint(tmp_path) == before


def test_a_failing_record_does_not_cost_the_weights(tmp_path, capsys, monkeypatch):
    import s4lib.files

    monkeypatch.setattr(train_module, "train", lambda config, **kw: hand_made(config))

    def disk_full(record, path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(s4lib.files, "write_json", disk_full)
    code = main(["train", "--record", str(tmp_path / "r.json"), "--save", str(tmp_path / "w.pt"), *TINY_RUN])
    line = one_line_error(capsys, code)
    assert "No space left on device" in line
    assert len(load_checkpoint(tmp_path / "w.pt")["history"]) == 2


# ---------------------------------------------------------------- honest messages

def test_ctrl_c_while_saving_a_checkpoint_reports_what_the_file_really_holds(tmp_path, capsys, monkeypatch):
    import s4lib.checkpoint

    real_save, saves = torch.save, []

    def interrupted_on_second_save(obj, path):
        saves.append(path)
        if len(saves) == 2:
            Path(path).write_bytes(b"half")
            raise KeyboardInterrupt
        real_save(obj, path)
    monkeypatch.setattr(s4lib.checkpoint.torch, "save", interrupted_on_second_save)
    ckpt = tmp_path / "progress.pt"
    assert main(["train", "--checkpoint", str(ckpt), *TINY_RUN]) == 130
    out = capsys.readouterr().out
    assert f"checkpoint {ckpt} holds 1 epoch(s)" in out
    assert len(load_checkpoint(ckpt)["history"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.pt"]  # no half-written temp file left


def test_ctrl_c_before_the_first_checkpoint_says_none_was_written(tmp_path, capsys, monkeypatch):
    import s4lib.checkpoint

    def interrupted(obj, path):
        raise KeyboardInterrupt
    monkeypatch.setattr(s4lib.checkpoint.torch, "save", interrupted)
    assert main(["train", "--checkpoint", str(tmp_path / "p.pt"), *TINY_RUN]) == 130
    assert f"no checkpoint was written to {tmp_path / 'p.pt'}" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [("--weight-decay", "nan"), ("--max-rotation-deg", "nan"),
                                         ("--max-shift-px", "inf"), ("--train-subset", "-59000"),
                                         ("--test-subset", "-1"), ("--lr", "inf"), ("--max-momentum", "1.5"),
                                         ("--num-epochs", "100000"), ("--weight-decay", "-0.1")])
def test_nonsense_settings_are_refused_before_anything_runs(capsys, no_training, flag, value):
    line = one_line_error(capsys, main(["train", flag, value]))
    assert flag[2:].replace("-", "_") in line


def test_a_loss_that_turns_nan_stops_at_once_with_one_line(capsys, tmp_path):
    rec = tmp_path / "r.json"
    line = one_line_error(capsys, main(["train", "--lr", "1e30", "--record", str(rec), *TINY_RUN]))
    assert "the training loss became" in line and "of epoch 1/2" in line and "learning rate" in line
    assert not rec.exists()  # no epoch was completed, so there is nothing to keep


def test_a_network_that_does_not_learn_is_flagged_after_100_steps(capsys):
    from dataclasses import replace

    no_bn = replace(TrainConfig().architecture, batchnorm=False)
    config = TrainConfig(model="s4-no-bn", architecture=no_bn, num_epochs=1, batch_size=16, train_subset=1600,
                         test_subset=100, lr=1e-6, data_root=DATA)
    train_module.train(config, verbose=True)
    out = capsys.readouterr().out
    assert out.count("warning: after 100 steps the training loss is still") == 1


# ---------------------------------------------------------------- one line, never a traceback

@pytest.mark.parametrize("argv, where", [
    (["data", "--root", "x"], "s4lib.data.ensure_mnist"),
    (["train", *TINY_RUN], "s4lib.data.ensure_mnist"),
    (["evaluate", str(RESULTS / "s4_main.pt"), "--data-root", DATA], "s4lib.data.ensure_mnist"),
])
def test_ctrl_c_anywhere_is_one_line_and_exit_130(capsys, monkeypatch, argv, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(where, interrupted)
    line = one_line_error(capsys, main(argv), expected=130)
    assert line.startswith("interrupted")


def test_readme_path_that_is_missing_is_one_line(capsys, tmp_path):
    line = one_line_error(capsys, main(["readme", "--path", str(tmp_path / "missing.md")]))
    assert "missing.md" in line


def test_a_failing_benchmark_process_says_why(capsys):
    from s4lib.errors import S4Error
    from s4lib.lab.benchmark import run_child

    with pytest.raises(S4Error, match="benchmark process .* failed with exit code .*: .*"):
        run_child(TrainConfig(data_root=str(ROOT / "no-such-folder-for-mnist" / "x" / "\0")))


@pytest.mark.parametrize("content", [
    {"config": {"model": "s4"}, "model_state": "not weights"},
    {"config": "s4", "model_state": {}},
    {"config": {"model": "s4", "dropout": "high"}, "model_state": {}},
    {"config": {"model": "s4"}, "model_state": {}, "history": "all of it"},
    [1, 2, 3],
])
def test_a_checkpoint_of_the_wrong_structure_is_one_line(capsys, tmp_path, content):
    path = tmp_path / "odd.pt"
    torch.save(content, path)
    line = one_line_error(capsys, main(["evaluate", str(path), "--data-root", DATA]))
    assert "odd.pt" in line


def test_an_unsafe_checkpoint_is_refused_without_advice_to_run_its_code(capsys, tmp_path):
    path = tmp_path / "code.pt"
    torch.save({"config": {"model": "s4"}, "model_state": {}, "x": Path("a")}, path)  # a class, not plain data
    line = one_line_error(capsys, main(["evaluate", str(path)]))
    assert "cannot be read safely" in line and "weights_only" not in line


def test_resume_accepts_the_same_data_folder_written_another_way(monkeypatch):
    monkeypatch.chdir(ROOT)
    then = config_record(TrainConfig(data_root="data"))
    now = config_record(TrainConfig(data_root=str(ROOT / "data")))
    assert config_differences(then, now) == {}
    assert "lr" in config_differences(then, config_record(TrainConfig(lr=0.2)))


def test_a_recorded_config_names_every_setting_or_it_is_refused_in_one_line():
    from s4lib.checkpoint import config_from_record

    recorded = config_record(TrainConfig.preset("tiny"))
    assert config_from_record(recorded) == TrainConfig.preset("tiny")
    with pytest.raises(S4Error, match=r"missing \['ema'\]"):
        config_from_record({k: v for k, v in recorded.items() if k != "ema"})  # a record from before a setting
    with pytest.raises(S4Error, match=r"unknown \['channels_last'\]"):
        config_from_record(recorded | {"channels_last": True})
    with pytest.raises(S4Error, match="model of one's own"):
        config_from_record(recorded | {"architecture": None})


def test_a_kill_during_a_save_leaves_no_temporary_file(tmp_path):
    script = (f"import os, signal, s4lib.cli as cli\n"
              f"from s4lib.files import atomic_write\n"
              f"signal.signal(signal.SIGTERM, cli.stop_on_sigterm)\n"
              f"def write(tmp):\n"
              f"    tmp.write_bytes(b'half')\n"
              f"    os.kill(os.getpid(), signal.SIGTERM)\n"
              f"try:\n"
              f"    atomic_write({str(tmp_path / 'w.pt')!r}, write)\n"
              f"except KeyboardInterrupt:\n"
              f"    print('stopped')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "stopped", done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_saved_model_is_an_ordinary_file(tmp_path):
    umask = os.umask(0o022)
    try:
        path = save_atomic({"w": torch.ones(1)}, tmp_path / "w.pt")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_help_says_what_is_written_where(capsys):
    for command, words in (("seeds", "notebooks/results/seeds_MODEL.json"), ("ablations", "images/ablations.png"),
                           ("benchmark", "notebooks/results/benchmark.json"), ("train", "--force")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert words in capsys.readouterr().out


def test_every_training_setting_has_a_flag(capsys):
    from dataclasses import fields

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for f in fields(TrainConfig):
        if f.name != "architecture":  # --model picks it; a network of one's own comes with --model-file
            assert f"--{f.name.replace('_', '-')}" in text, f.name


def test_signal_handler_is_restored_after_main(capsys):
    before = signal.getsignal(signal.SIGTERM)
    main(["readme", "--path", "/nonexistent/README.md"])
    capsys.readouterr()
    assert signal.getsignal(signal.SIGTERM) == before


def test_default_records_live_in_the_clone():
    assert seeds_record_path("s4") == ROOT / "notebooks" / "results" / "seeds_s4.json"
    assert ABLATIONS_RECORD.parent == BENCHMARK_RECORD.parent == RESULTS == ROOT / "notebooks" / "results"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_torch_imports_is_held_until_the_import_ends(stop):
    reached_the_end = False
    before = signal.getsignal(stop)
    with pytest.raises(KeyboardInterrupt):
        with stops_held():
            os.kill(os.getpid(), stop)
            reached_the_end = True
    assert reached_the_end and signal.getsignal(stop) == before


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.3, 1.0, 2.0, 4.0, 8.0])
def test_ctrl_c_at_any_moment_of_a_command_even_while_torch_imports_is_one_line_and_exit_130(after):
    """A real Ctrl-C (SIGINT) sent to `python -m s4lib train` at moments from the import of torch to the training."""
    import time

    child = subprocess.Popen([sys.executable, "-m", "s4lib", "train", *TINY_RUN], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode in (0, 130), err  # 0: the run finished before the signal, which then changes nothing
    if child.returncode == 0:
        assert "final" in out and "Traceback" not in err
        return
    assert "Traceback" not in err + out
    assert len([line for line in err.splitlines() if line.strip()]) <= 1
