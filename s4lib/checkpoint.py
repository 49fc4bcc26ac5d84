"""Saving and loading trained weights: atomic writes, weights_only loads, clear errors."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .errors import S4Error
from .model import build_model


def save_atomic(obj: dict, path: str | Path) -> Path:
    """torch.save to a temp file beside path, then rename: an interruption never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it owner-only; a saved model is an ordinary file
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True (no code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        raise S4Error(f"checkpoint {path} does not exist; train first (python -m s4lib train --save {path})")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated zip, a pickle with code, random bytes ...
        raise S4Error(f"checkpoint {path} cannot be read ({type(e).__name__}: {str(e)[:200]}); "
                      "it is corrupt or not an s4lib checkpoint: delete it and train again") from None
    if not isinstance(ckpt, dict) or "model_state" not in ckpt or "config" not in ckpt:
        raise S4Error(f"checkpoint {path} is not an s4lib checkpoint (no model_state/config inside)")
    return ckpt


def model_from_checkpoint(ckpt: dict, path: str | Path = "checkpoint") -> nn.Module:
    """Rebuild the model the checkpoint was trained as and load its weights."""
    cfg = ckpt["config"]
    model = build_model(cfg.get("model", "?"), cfg.get("dropout", 0.0))
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError as e:
        raise S4Error(f"checkpoint {path} holds weights of another model than preset "
                      f"{cfg.get('model')!r}: {str(e).splitlines()[0]}") from None
    return model.eval()
