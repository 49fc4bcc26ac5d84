"""Writing files without losing any: atomic replacement, and every output checked before the work that fills it."""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from .errors import S4Error

PROBE_BYTES = 4096  # written and removed by check_output: a full disk refuses it before hours of training


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Let write() fill a temp file beside path, then rename it over path: a reader sees the old file or the new one.

    Any failure or interruption (Ctrl-C, SIGTERM turned into KeyboardInterrupt by the command line) removes the
    temp file and leaves the old one untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # mode 0o666 and the umask give an ordinary file's permissions (tempfile.mkstemp would give 0600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_json(obj, path: str | Path) -> Path:
    """A JSON file (one-space indent, keys in the order given), written atomically."""
    text = json.dumps(obj, indent=1) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Bytes to path, atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def check_output(path: str | Path, what: str) -> Path:
    """Make sure a file can be written at path (its folder exists and takes a file), or say why in one line."""
    path = Path(path)
    if path.is_dir():
        raise S4Error(f"{what} {path} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        hint = "it is a file" if folder.exists() else "it does not exist"
        raise S4Error(f"{what} {path}: cannot write into {folder} ({hint}); create the folder first or choose another")
    probe = folder / f".{path.name}.{secrets.token_hex(6)}.probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise S4Error(f"{what} {path}: cannot write into {folder} ({e.strerror or e})") from None
    finally:
        if probe.exists():
            probe.unlink()
    return path


def check_distinct(outputs: dict[str, str | Path | None]) -> None:
    """Refuse two outputs that name the same file: the second would overwrite the first."""
    seen: dict[Path, str] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise S4Error(f"{seen[key]} and {what} name the same file {path}; give each its own")
        seen[key] = what
