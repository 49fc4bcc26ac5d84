"""Where the project lives: the clone on disk (if any) and its public address, found at run time, never guessed."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOKS = ("01_backprop_by_hand.ipynb", "02_mnist_cnn.ipynb")
DEFAULT_BRANCH = "main"
# https://github.com/OWNER/REPO(.git), git@github.com:OWNER/REPO(.git), ssh://git@github.com/OWNER/REPO(.git)
GITHUB = re.compile(r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com(?::\d+)?/)"
                    r"(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")


def clone_root() -> Path | None:
    """The clone this s4lib was imported from, or None when it was installed (pip, Colab) without one."""
    root = PACKAGE_DIR.parent
    is_clone = (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir()
    return root if is_clone else None


def results_dir() -> Path:
    """Where the committed results live: notebooks/results of the clone; outside a clone (an installed s4lib),
    ./results."""
    root = clone_root()
    return root / "notebooks" / "results" if root else Path("results")


RESULTS = results_dir()
MAIN_RECORD = RESULTS / "s4_main.json"  # notebook 02's run: its history, epoch by epoch
MAIN_WEIGHTS = RESULTS / "s4_main.pt"  # and its final weights


def display_path(path: str | Path) -> str:
    """A path as printed or saved: relative to the clone when inside it, so no output names this machine's folders."""
    path = Path(path)
    root = clone_root()
    if root and path.is_absolute():
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            pass
    return str(path)


def git(*args: str, cwd: str | Path | None = None) -> str | None:
    """Output of one git command in cwd (default: the clone), or None when git or the answer is missing."""
    cwd = cwd or clone_root()
    if cwd is None:
        return None
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def github_url(url: str) -> str | None:
    """https://github.com/OWNER/REPO for any GitHub remote form (https or ssh, with or without .git), else None."""
    m = GITHUB.match(url.strip())
    return f"https://github.com/{m['owner']}/{m['repo']}" if m else None


def repo_url(cwd: str | Path | None = None) -> str | None:
    """The address pip can install s4lib from: $S4LIB_REPO_URL, else the clone's GitHub origin, else None."""
    if os.environ.get("S4LIB_REPO_URL", "").strip():
        return os.environ["S4LIB_REPO_URL"].strip()
    origin = git("remote", "get-url", "origin", cwd=cwd)
    return github_url(origin) if origin else None


def link_branch(cwd: str | Path | None = None) -> str:
    """The branch links point at: the one origin/HEAD names, else main."""
    head = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", cwd=cwd)
    return head.removeprefix("refs/remotes/origin/") if head else DEFAULT_BRANCH


def colab_url(github: str, branch: str, notebook: str) -> str:
    """The link that opens a notebook of a GitHub repository in Colab."""
    return f"https://colab.research.google.com/github/{github.removeprefix('https://github.com/')}" \
           f"/blob/{branch}/notebooks/{notebook}"


def colab_markdown(cwd: str | Path | None = None) -> str:
    """README lines: one 'Open in Colab' badge per notebook, or how the badges appear when no address is known."""
    url = repo_url(cwd)
    github = github_url(url) if url else None
    if not github:
        return ("No Colab badges yet: `python -m s4lib readme` writes them in a clone whose `origin` is on GitHub. By "
                "hand: replace `https://github.com/` at the start of a notebook's GitHub address with "
                "`https://colab.research.google.com/github/`.")
    branch = link_branch(cwd)
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return "\n".join(f"- [![Open In Colab]({badge})]({colab_url(github, branch, nb)}) `notebooks/{nb}`"
                     for nb in NOTEBOOKS)


def repository_address(root: str | Path | None = None) -> str | None:
    """The GitHub address of the repository these files are in: GitHub Actions names it (GITHUB_REPOSITORY), else
    $S4LIB_REPO_URL or the clone's origin, where that is on GitHub."""
    if os.environ.get("GITHUB_REPOSITORY", "").strip():
        return f"https://github.com/{os.environ['GITHUB_REPOSITORY'].strip()}"
    url = repo_url(root)
    return github_url(url) if url else None


def notebook_addresses(root: str | Path) -> dict[str, str | None]:
    """The address the first cell of each notebook holds (REPO_URL), by notebook."""
    from .notebooks import notebook_address, read

    return {nb: notebook_address(read(Path(root) / "notebooks" / nb)) for nb in NOTEBOOKS}


def address_problem(root: str | Path | None = None) -> str | None:
    """Why the notebooks' address (their Colab install and the README's badges) is not this repository's, or None."""
    root = Path(root or clone_root() or ".")
    want = repository_address(root)
    held = notebook_addresses(root)
    wrong = {nb: got for nb, got in held.items() if got != want}
    if not wrong:
        return None
    nb, got = next(iter(wrong.items()))
    return (f"notebooks/{nb} holds the address {got or 'None'} but this repository is {want or 'not on GitHub'}: "
            "run `python -m s4lib readme`, commit and push")


def main(argv: list[str] | None = None) -> int:
    """python -m s4lib.project --check: the address check, with nothing but Python (CI runs it before installing)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["--check"]:
        print("usage: python -m s4lib.project --check", file=sys.stderr)
        return 2
    problem = address_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"the notebooks' address is this repository's ({repository_address() or 'none: not on GitHub'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
