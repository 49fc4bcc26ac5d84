"""The README's commands are what CI runs, and its generated tables are what the code makes now."""
import re
from pathlib import Path

import pytest

from s4lib.report import generated_blocks, read_block

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def make_recipe(target):
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{target}:.*\n((?:\t.*\n?)+)", text, re.M)
    return m.group(1)


def test_quick_start_has_exactly_the_two_commands():
    assert quick_start_commands() == ["make reproduce", "make test"]


def test_ci_runs_the_readme_test_command():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in lines


def test_make_test_runs_the_whole_suite_with_notebooks_under_nbval():
    recipe = make_recipe("test")
    assert "pytest tests notebooks --nbval-lax" in recipe
    assert re.search(r"^test: setup", (ROOT / "Makefile").read_text(), re.M)


def test_make_reproduce_regenerates_everything():
    assert "-m s4lib reproduce" in make_recipe("reproduce")


@pytest.mark.parametrize("name", sorted(generated_blocks()))
def test_readme_tables_are_what_the_code_makes_now(name):
    assert read_block(README, name) == generated_blocks()[name], \
        f"README block {name} is stale: run `python -m s4lib readme`"


def test_readme_links_and_pictures_exist():
    for ref in re.findall(r"\]\(((?!https?:)[^)\s#]+)\)", README):
        assert (ROOT / ref).exists(), ref
