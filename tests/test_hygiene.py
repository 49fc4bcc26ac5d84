"""What is committed names no folder of the machine that made it."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# absolute paths as they appear on Linux, macOS and Windows machines, and in this CI's folders
MACHINE_PATH = re.compile(r"(?<![\w.~])(/home/[a-z]\w*/|/root/|/Users/\w|/tmp/|/work/|[A-Z]:\\\\Users\\\\)")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if path.is_file() and name != "tests/test_hygiene.py":
            try:
                yield name, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # pictures, weights, the workbook: checked below where they can hold text
                continue


def machine_path_in(text: str) -> str | None:
    """The first absolute path of a machine in text, or the clone's own folder, or None."""
    m = MACHINE_PATH.search(text)
    return m.group(0) if m else (str(ROOT) if str(ROOT) in text else None)


def test_no_tracked_file_holds_a_path_of_this_machine():
    found = [f"{name}: {hit}" for name, text in tracked_text_files() if (hit := machine_path_in(text))]
    assert not found, found


def test_the_pattern_catches_the_paths_it_is_for():
    for path in ("/home/ann/s4/x.json", "/root/s4", "/Users/ann/s4", "/tmp/ci-check/data", "/work/main/x"):
        assert MACHINE_PATH.search(f"wrote {path}"), path
    for path in ("notebooks/results/s4_main.json", "~/.npm/_logs/x.log", "https://github.com/a/b"):
        assert not MACHINE_PATH.search(f"wrote {path}"), path


@pytest.mark.parametrize("nb", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_saved_notebooks_carry_no_execution_timestamps(nb):
    assert '"iopub.execute_input"' not in nb.read_text()
