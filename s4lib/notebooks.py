"""The committed notebooks as files: the address in their first cell, and no run metadata that changes every run."""
from __future__ import annotations

import json
import re
from pathlib import Path

ADDRESS_LINE = re.compile(r"^REPO_URL = .*$", re.M)
ADDRESS_COMMENT = "  # the project's GitHub address, written by `python -m s4lib readme`"


def read(path: Path) -> dict:
    """A notebook as JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(nb: dict, path: Path) -> None:
    """Save as Jupyter does (sorted keys, one-space indent), so an unchanged notebook keeps its bytes."""
    Path(path).write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def set_address(path: Path, github: str | None, dry_run: bool = False) -> bool:
    """Write the address (or None) into the REPO_URL line of the first code cell; True if the file changes."""
    nb = read(path)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(cell["source"])
    if not ADDRESS_LINE.search(source):
        raise ValueError(f"{path}: its first code cell has no `REPO_URL = ...` line")
    line = f"REPO_URL = {json.dumps(github) if github else 'None'}{ADDRESS_COMMENT}"
    new = ADDRESS_LINE.sub(lambda m: line, source, count=1)
    if new == source or dry_run:
        return new != source
    cell["source"] = new.splitlines(keepends=True)
    write(nb, path)
    return True


def notebook_address(nb: dict) -> str | None:
    """The address in the REPO_URL line of a notebook's first code cell (None where it holds None)."""
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    m = ADDRESS_LINE.search("".join(cell["source"]))
    if not m:
        raise ValueError("the notebook's first code cell has no `REPO_URL = ...` line")
    value = m.group(0).removeprefix("REPO_URL = ").split("  #")[0].strip()
    return None if value == "None" else json.loads(value)


def strip_timing(path: Path) -> None:
    """Drop the per-cell execution timestamps nbclient records, so a re-run changes only real outputs."""
    nb = read(path)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    write(nb, path)
