"""workbook and readme from the command line: one line and untouched files on bad input, learning rates as given."""
import math
import os
import shutil

import pytest

import s4lib.backprop
import s4lib.workbook  # noqa: F401 - imported now, it keeps the real run_all when a test patches s4lib.backprop
from s4lib.backprop import (LEARNING_RATES, MAX_ITERATIONS, MAX_LEARNING_RATE, MAX_LEARNING_RATES, Problem,
                            check_schedule, error_table_markdown, run, run_all)
from s4lib.cli import main
from s4lib.errors import S4Error

OLD_BOOK, OLD_PNG = b"an earlier workbook", b"an earlier picture"


def snapshot(folder):
    """Every file under folder, hidden ones too, by relative path: its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def job(tmp_path):
    """A folder for the workbook and one for the pictures, each holding an earlier run's file."""
    (tmp_path / "out").mkdir()
    (tmp_path / "img").mkdir()
    (tmp_path / "out" / "b.xlsx").write_bytes(OLD_BOOK)
    (tmp_path / "img" / "error_curves.png").write_bytes(OLD_PNG)
    return tmp_path


def workbook_argv(job, *extra):
    """A workbook command that writes only under job; extra flags come last and win."""
    return ["workbook", "--out", str(job / "out" / "b.xlsx"), "--images", str(job / "img"), *extra]


def refused(argv, capsys, root, message):
    """main(argv) fails with one line holding message, and every file under root is as it was."""
    before = snapshot(root)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    assert message in captured.err
    assert "wrote" not in captured.out
    assert snapshot(root) == before


def test_table_prints_learning_rates_as_given(job, capsys):
    assert main(workbook_argv(job, "--lr", "0.05", "0.01", "0.15", "--no-render")) == 0
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("| 0")]
    assert rows == ["| 0.05", "| 0.01", "| 0.15"]


def test_default_learning_rates_keep_their_readme_form():
    histories = {lr: {"E_total": [0.0] * 101} for lr in LEARNING_RATES}
    labels = [line.split(" | ")[0] for line in error_table_markdown(histories).splitlines()[2:]]
    assert labels == ["| 0.1", "| 0.2", "| 0.5", "| 0.8", "| 1.0", "| 2.0"]


@pytest.mark.parametrize("lrs, message", [
    (["1e8"], "learning rates must be at most 1000"),
    (["0.1", "1000.5"], "learning rates must be at most 1000"),
    (["inf"], "learning rates must be positive numbers"),
    (["nan"], "learning rates must be positive numbers"),
    (["-0.5"], "learning rates must be positive numbers"),
    (["0.1", "0.1"], "learning rates must differ"),
    (["0.1", "0.10000001"], "give two sheets the same name"),
    ([str(k) for k in range(1, MAX_LEARNING_RATES + 2)], f"give at most {MAX_LEARNING_RATES} learning rates"),
])
def test_bad_learning_rates_are_refused_before_writing(job, capsys, lrs, message):
    refused(workbook_argv(job, "--no-render", "--lr", *lrs), capsys, job, message)


@pytest.mark.parametrize("n", ["900000", str(MAX_ITERATIONS + 1), "0", "-1"])
def test_bad_iteration_counts_are_refused_before_writing(job, capsys, n):
    refused(workbook_argv(job, "--no-render", "--iterations", n), capsys, job,
            f"iterations must be a whole number >= 1 and <= {MAX_ITERATIONS:,}")


def test_schedule_limits_are_shared_with_the_library():
    check_schedule([MAX_LEARNING_RATE, 200.0, 1e-12], MAX_ITERATIONS)
    for lrs, n in [([MAX_LEARNING_RATE * 1.001], 10), ([1e8], 10), ([0.1], MAX_ITERATIONS + 1), ([0.1], True)]:
        with pytest.raises(ValueError):
            check_schedule(lrs, n)
        with pytest.raises(ValueError):
            run_all(lrs, n)


def test_the_largest_learning_rate_stays_finite():
    h = run(MAX_LEARNING_RATE, 1000)
    assert all(all(math.isfinite(v) for v in a) for a in h.values())


def test_an_overflow_becomes_a_readable_error():
    # weights this large push the net inputs past what math.exp takes, whatever the learning rate
    with pytest.raises(S4Error, match="overflows"):
        run(0.1, 3, Problem(w=(-1e5,) * 8))


def test_a_nan_becomes_a_readable_error():
    # an infinite input gives 0 * inf = NaN in a gradient, which raises nothing by itself
    with pytest.raises(S4Error, match="non-finite"):
        run(0.1, 3, Problem(i1=float("inf")))


def test_the_history_is_computed_before_the_workbook_is_written(job, capsys, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(s4lib.backprop, "run_all", no_memory)
    refused(workbook_argv(job, "--no-render"), capsys, job, "not enough memory")


@pytest.mark.parametrize("out, message", [
    ("missing/deeper/b.xlsx", "cannot write into"),
    ("out", "is a folder"),
    ("out/b.txt", "must end in .xlsx"),
    ("out/b.xlsx/inner.xlsx", "cannot write into"),  # a folder that is a file: refused even for root
])
def test_bad_workbook_paths_are_refused_before_writing(job, capsys, out, message):
    refused(workbook_argv(job, "--no-render", "--out", str(job / out)), capsys, job, message)


def test_a_missing_folder_is_named(job, capsys):
    assert main(workbook_argv(job, "--no-render", "--out", str(job / "no" / "such" / "b.xlsx"))) == 2
    assert str(job / "no" / "such") in capsys.readouterr().err
    assert not (job / "no").exists()


@pytest.mark.parametrize("dpi", ["-5", "0", "29", "601", "100000"])
def test_bad_dpi_is_refused_before_writing(job, capsys, dpi):
    refused(workbook_argv(job, "--no-render", "--dpi", dpi), capsys, job, "--dpi must be between 30 and 600")


@pytest.mark.parametrize("images, message", [
    ("out/b.xlsx", "give the folder for the pictures"),
    ("out/b.xlsx/sub", "cannot write into"),  # under a regular file: refused even for root
    ("no/such/folder", "cannot write into"),
])
def test_bad_picture_folders_are_refused_before_writing(job, capsys, images, message):
    refused(workbook_argv(job, "--no-render", "--images", str(job / images)), capsys, job, message)


def test_a_picture_path_taken_by_a_folder_is_refused(job, capsys):
    (job / "img" / "error_curves.png").unlink()
    (job / "img" / "error_curves.png").mkdir()
    refused(workbook_argv(job, "--no-render"), capsys, job, "is a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_picture_folder_is_refused(job, capsys):
    (job / "img").chmod(0o555)
    try:
        refused(workbook_argv(job, "--no-render"), capsys, job, "cannot write into")
    finally:
        (job / "img").chmod(0o755)


def test_a_screenshot_of_a_missing_sheet_is_refused_before_writing(job, capsys):
    refused(workbook_argv(job, "--lr", "0.5", "--screenshot-lr", "2"), capsys, job, "--screenshot-lr 2")


def test_missing_libreoffice_is_reported_before_writing(job, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(job / "no-tools"))
    refused(workbook_argv(job, "--lr", "1"), capsys, job, "not found on PATH")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_rendering_writes_the_workbook_and_pictures_narrow_enough_for_github(job, capsys):
    from PIL import Image

    from s4lib.libreoffice import MAX_WIDTH
    from s4lib.workbook import SCREENSHOTS, SUMMARY_PICTURE

    argv = workbook_argv(job, "--lr", "0.5", "1", "--iterations", "3", "--dpi", "170")
    assert main(argv) == 0
    assert capsys.readouterr().out.count("wrote ") == 2 + 1 + len(SCREENSHOTS)
    assert (job / "out" / "b.xlsx").read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in (job / "img").iterdir()) == sorted(["error_curves.png", SUMMARY_PICTURE,
                                                                      *SCREENSHOTS])
    widths = {name: Image.open(job / "img" / name).width for name in (SUMMARY_PICTURE, *SCREENSHOTS)}
    assert all(w <= MAX_WIDTH for w in widths.values()), widths
    # each crop shows its columns beside the iteration column: more columns, a wider picture
    crops = sorted(SCREENSHOTS, key=lambda name: len(SCREENSHOTS[name]))
    assert [widths[name] for name in crops] == sorted(widths[name] for name in crops)


@pytest.mark.parametrize("name, message", [
    ("missing.md", "no such file"),
    ("docs", "is a folder"),
    ("binary.md", "is not a text file"),
    ("plain.md", "has no block"),
])
def test_readme_refuses_what_it_cannot_refresh(tmp_path, capsys, name, message):
    (tmp_path / "docs").mkdir()
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "plain.md").write_text("# no generated blocks here\n")
    refused(["readme", "--path", str(tmp_path / name)], capsys, tmp_path, message)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_readme_refuses_a_read_only_file(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# read only\n")
    readme.chmod(0o444)
    refused(["readme", "--path", str(readme)], capsys, tmp_path, "not writable")
