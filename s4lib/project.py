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


def shown(path: str | Path) -> str:
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
        return ("To open a notebook in Colab, open it on GitHub and replace `https://github.com/` at the start of its "
                "address with `https://colab.research.google.com/github/`. (A clone whose `origin` is on GitHub "
                "writes one \"Open in Colab\" badge per notebook here with `python -m s4lib readme`.)")
    branch = link_branch(cwd)
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return "\n".join(f"- [![Open In Colab]({badge})]({colab_url(github, branch, nb)}) `notebooks/{nb}`"
                     for nb in NOTEBOOKS)
