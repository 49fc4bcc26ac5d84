"""Saving and loading trained weights: atomic writes, weights_only loads, and one clear line for any bad file."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .errors import S4Error
from .files import atomic_write
from .model import build_model, known_models


def save_atomic(obj: dict, path: str | Path) -> Path:
    """torch.save to a temp file beside path, then rename: an interruption never leaves half a file."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True (no code runs from the file) and check its structure."""
    path = Path(path)
    if not path.is_file():
        raise S4Error(f"checkpoint {path} does not exist; train first (python -m s4lib train --save {path})")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated zip, a pickle with code, random bytes ...
        # torch's own message ends in advice to load with weights_only=False, i.e. to run the file's code: not ours
        reason = str(e).split("\n")[0].split(". ")[0][:160]
        raise S4Error(f"checkpoint {path} cannot be read safely ({type(e).__name__}: {reason}); "
                      "it is corrupt or not an s4lib checkpoint: delete it and train again") from None
    problem = structure_problem(ckpt)
    if problem:
        raise S4Error(f"checkpoint {path} is not an s4lib checkpoint ({problem})")
    return ckpt


def structure_problem(ckpt) -> str | None:
    """What is wrong with the shape of a loaded checkpoint, or None."""
    if not isinstance(ckpt, dict):
        return f"it holds a {type(ckpt).__name__}, not a dict"
    if not isinstance(ckpt.get("config"), dict) or not isinstance(ckpt.get("config", {}).get("model"), str):
        return "no config with a model name inside"
    state = ckpt.get("model_state")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        return "no model_state of named tensors inside"
    history = ckpt.get("history", [])
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        return "its history is not a list of epochs"
    return None


def model_from_checkpoint(ckpt: dict, path: str | Path = "checkpoint") -> nn.Module:
    """Rebuild the preset the checkpoint was trained as and load its weights."""
    cfg = ckpt["config"]
    if ckpt.get("own_model") or cfg["model"] not in known_models():
        raise S4Error(f"checkpoint {path} holds a model of one's own ({cfg['model']}), not a preset: load it into an "
                      f"instance of that class with s4lib.checkpoint.load_weights(model, path), or give --model-file")
    dropout = cfg.get("dropout", 0.0)
    if not isinstance(dropout, (int, float)):
        raise S4Error(f"checkpoint {path} holds a dropout of type {type(dropout).__name__}, not a number")
    return load_state(build_model(cfg["model"], float(dropout)), ckpt, path, f"preset {cfg['model']!r}")


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a checkpoint's weights into the model the caller passes (a model of one's own, or a preset), in eval mode."""
    return load_state(model, load_checkpoint(path), path)


def load_state(model: nn.Module, ckpt: dict, path: str | Path, what: str | None = None) -> nn.Module:
    """Load an already-read checkpoint's weights into model, in eval mode; weights of another shape are one line."""
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError as e:
        what = what or f"{type(model).__name__} (they are {ckpt['config']['model']}'s)"
        raise S4Error(f"checkpoint {path} holds weights of another model than {what}: {str(e).splitlines()[0]}") \
            from None
    return model.eval()


def saved_epochs(path: str | Path) -> int | None:
    """How many completed epochs the checkpoint at path really holds (read back), or None if there is none."""
    try:
        return len(load_checkpoint(path).get("history", []))
    except S4Error:
        return None
