"""The command line: help for every command, readable errors, and the committed weights' accuracy."""
import pytest

from s4lib.cli import build_parser, main
from s4lib.lab.records import load_record
from s4lib.project import MAIN_RECORD, MAIN_WEIGHTS

COMMANDS = ["data", "workbook", "train", "evaluate", "seeds", "ablations", "search", "rerun", "benchmark", "gpucheck",
            "readme", "reproduce"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(([command] if command else []) + ["--help"])
    assert exit_.value.code == 0
    assert "usage: python -m s4lib" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--num-epochs", "0"], "num_epochs must be a whole number in 1..100"),
    (["train", "--lr", "-0.1"], "lr must be a positive finite number"),
    (["train", "--batch-size", "0"], "batch_size must be a whole number in 1..60000"),
    (["train", "--dropout", "1.5"], "dropout must be a number in [0, 1)"),
    (["train", "--resume"], "resume needs the checkpoint path"),
    (["evaluate", "no/such/weights.pt"], "no/such/weights.pt does not exist"),
])
def test_bad_input_gives_one_readable_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_workbook_with_nonsense_schedule_refuses_and_keeps_files(tmp_path, capsys):
    out = tmp_path / "mine.xlsx"
    out.write_bytes(b"keep me")
    assert main(["workbook", "--out", str(out), "--images", str(tmp_path), "--iterations", "0", "--no-render"]) == 2
    assert "iterations must be a whole number >= 1" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["workbook", "--out", str(out), "--images", str(tmp_path), "--lr", "0", "--no-render"]) == 2
    assert "learning rates must be positive" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_unknown_preset_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["train", "--model", "huge"])
    assert exit_.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_committed_weights_reach_the_committed_accuracy(capsys):
    recorded = load_record(MAIN_RECORD)["history"][-1]["test_acc"]
    assert main(["evaluate", str(MAIN_WEIGHTS)]) == 0
    out = capsys.readouterr().out
    correct = int(out.split("(")[1].split("/")[0])
    # evaluation is deterministic on one machine; allow 2 images for another CPU's float rounding
    assert abs(correct - round(recorded * 10000)) <= 2
    assert correct >= 9940
    assert out.count("digit ") == 10
    # each digit is counted over its own images: together they are the test set and its correct answers
    counts = [line.split("(")[1].rstrip(")").split("/") for line in out.splitlines() if "digit " in line]
    assert sum(int(total) for _, total in counts) == 10000
    assert sum(int(right) for right, _ in counts) == correct


def test_data_command_names_a_damaged_file(tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00" * 100)
    assert main(["data", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte" in err and "Traceback" not in err
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == b"\x00" * 100
