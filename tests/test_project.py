"""The project's address is found, never guessed: Colab links for a GitHub clone, none (and a hint) without one."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from s4lib.cli import main
from s4lib.lab.report import read_block
from s4lib.notebooks import read
from s4lib.project import NOTEBOOKS, colab_markdown, github_url, link_branch, repo_url, display_path

ROOT = Path(__file__).resolve().parents[1]
COLAB = "https://colab.research.google.com/github"


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(autouse=True)
def no_address_from_the_environment(monkeypatch):
    monkeypatch.delenv("S4LIB_REPO_URL", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)


@pytest.fixture
def clone(tmp_path):
    """A git repository holding copies of the README and both notebooks, with no remote yet."""
    git(tmp_path, "init", "-q", "-b", "main")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "notebooks").mkdir()
    for nb in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / nb, tmp_path / "notebooks" / nb)
    return tmp_path


def first_cell(path):
    return "".join(next(c for c in read(path)["cells"] if c["cell_type"] == "code")["source"])


@pytest.mark.parametrize("remote", [
    "https://github.com/alice/s4-course.git", "https://github.com/alice/s4-course",
    "git@github.com:alice/s4-course.git", "ssh://git@github.com/alice/s4-course.git",
    "https://token@github.com/alice/s4-course/",
])
def test_every_github_remote_form_gives_the_same_address(remote):
    assert github_url(remote) == "https://github.com/alice/s4-course"


@pytest.mark.parametrize("remote", ["https://gitlab.com/alice/s4.git", "/srv/git/s4.git", "file:///srv/s4",
                                    "https://github.com/alice", "https://github.com.evil.org/alice/s4"])
def test_other_remotes_are_no_github_address(remote):
    assert github_url(remote) is None


@pytest.mark.parametrize("remote", ["https://github.com/alice/s4-course.git", "git@github.com:alice/s4-course.git"])
def test_readme_of_a_github_clone_gets_one_badge_per_notebook(clone, remote):
    git(clone, "remote", "add", "origin", remote)
    assert main(["readme", "--path", str(clone / "README.md")]) == 0
    block = read_block((clone / "README.md").read_text(), "colab")
    links = re.findall(r"\]\((https://colab.research.google.com/github/[^)]+)\)", block)
    assert links == [f"{COLAB}/alice/s4-course/blob/main/notebooks/{nb}" for nb in NOTEBOOKS]
    assert block.count("colab-badge.svg") == 2
    for nb in NOTEBOOKS:
        assert 'REPO_URL = "https://github.com/alice/s4-course"' in first_cell(clone / "notebooks" / nb)
    assert str(clone) not in (clone / "README.md").read_text()


def test_the_address_check_fails_in_one_line_naming_the_command_until_the_notebooks_hold_this_repository(
        clone, monkeypatch, capsys):
    from s4lib.project import address_problem
    from s4lib.project import main as check

    assert address_problem(clone) is None  # no GitHub address anywhere: nothing to disagree with
    git(clone, "remote", "add", "origin", "https://github.com/alice/s4-course.git")
    problem = address_problem(clone)
    assert "holds the address None but this repository is https://github.com/alice/s4-course" in problem
    assert "run `python -m s4lib readme`, commit and push" in problem
    assert main(["readme", "--path", str(clone / "README.md")]) == 0
    assert address_problem(clone) is None
    monkeypatch.setenv("GITHUB_REPOSITORY", "bob/fork")  # GitHub Actions, in a fork that has not refreshed them
    assert "this repository is https://github.com/bob/fork" in address_problem(clone)
    assert main(["readme", "--check", "--path", str(clone / "README.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bob/fork" in err
    monkeypatch.chdir(clone)
    import s4lib.project

    monkeypatch.setattr(s4lib.project, "clone_root", lambda: clone)
    assert check(["--check"]) == 1 and "bob/fork" in capsys.readouterr().err
    monkeypatch.setenv("GITHUB_REPOSITORY", "alice/s4-course")
    assert check(["--check"]) == 0


def test_links_follow_the_branch_origin_head_names(clone):
    git(clone, "remote", "add", "origin", "https://github.com/alice/s4-course")
    git(clone, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert link_branch(clone) == "trunk"
    assert f"{COLAB}/alice/s4-course/blob/trunk/notebooks/{NOTEBOOKS[0]}" in colab_markdown(clone)


def test_a_clone_without_remote_gets_no_link_and_says_how_links_appear(clone):
    assert repo_url(clone) is None
    assert main(["readme", "--path", str(clone / "README.md")]) == 0
    block = read_block((clone / "README.md").read_text(), "colab")
    assert "](" not in block  # no badge, no link: only how to open a notebook in Colab by hand
    assert "https://colab.research.google.com/github/" in block and "`python -m s4lib readme`" in block
    for nb in NOTEBOOKS:
        assert "\nREPO_URL = None  #" in "\n" + first_cell(clone / "notebooks" / nb)


def test_a_non_github_remote_gets_no_link(clone):
    git(clone, "remote", "add", "origin", "https://gitlab.com/alice/s4.git")
    assert "](" not in colab_markdown(clone)


def test_the_environment_variable_wins_and_may_be_any_git_url(clone, monkeypatch):
    git(clone, "remote", "add", "origin", "https://github.com/alice/s4-course")
    monkeypatch.setenv("S4LIB_REPO_URL", "file:///srv/s4")
    assert repo_url(clone) == "file:///srv/s4"
    assert "](" not in colab_markdown(clone)  # pip can use it, Colab cannot
    monkeypatch.setenv("S4LIB_REPO_URL", "https://github.com/bob/fork.git")
    assert f"{COLAB}/bob/fork/blob/main/notebooks/{NOTEBOOKS[1]}" in colab_markdown(clone)


def test_committed_readme_and_notebooks_agree_on_the_address():
    block = read_block((ROOT / "README.md").read_text(), "colab")
    addresses = {first_cell(ROOT / "notebooks" / nb).split("REPO_URL = ", 1)[1].split()[0] for nb in NOTEBOOKS}
    assert len(addresses) == 1
    (address,) = addresses
    if address == "None":
        assert "replace `https://github.com/`" in block and "](" not in block
    else:
        owner_repo = address.strip('"').removeprefix("https://github.com/")
        assert block.count(f"{COLAB}/{owner_repo}/blob/") == len(NOTEBOOKS)


def test_shown_paths_are_relative_to_the_clone():
    assert display_path(ROOT / "notebooks" / "results" / "s4_main.json") == "notebooks/results/s4_main.json"
    assert display_path("data") == "data"


def test_notebook_01_shows_the_workbook_pictures_as_outputs_and_the_code_beside_the_derivation():
    import base64

    from s4lib.workbook import SCREENSHOTS, SUMMARY_PICTURE

    nb = read(ROOT / "notebooks" / NOTEBOOKS[0])
    shown_pngs = [base64.b64decode(o["data"]["image/png"]) for c in nb["cells"] if c["cell_type"] == "code"
                  for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    for picture in (SUMMARY_PICTURE, *SCREENSHOTS):
        assert (ROOT / "images" / picture).read_bytes() in shown_pngs, picture
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert all(f"show_code({f})" in code for f in ("forward", "gradients", "step"))
    assert "attachment:" not in (ROOT / "notebooks" / NOTEBOOKS[0]).read_text()
