"""Runs on disk: configs as records keep them, trained weights, and training states to resume from; atomic writes,
weights_only loads, and one clear line for any bad file."""
from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .errors import S4Error
from .files import atomic_write, write_json
from .model import Architecture, build_model

if TYPE_CHECKING:
    from .results import TrainResult
    from .train import Run, TrainConfig


def config_record(config: TrainConfig, model_name: str | None = None) -> dict:
    """A config as records and checkpoints keep it: every setting, the data folder relative to the clone, and the
    network spelled out (None for a model of one's own, which is named by its class)."""
    from .project import display_path

    own = model_name is not None and model_name != config.model
    return asdict(config) | dict(data_root=display_path(config.data_root), model=model_name or config.model,
                                 architecture=None if own else config.architecture.to_dict())


def config_from_record(d: dict) -> TrainConfig:
    """The config a record holds, rebuilt from the record alone: every setting named, nothing else."""
    from .train import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    if not isinstance(d, dict) or set(d) != names:
        given = set(d) if isinstance(d, dict) else set()
        raise S4Error(f"a training config names every setting of TrainConfig; missing {sorted(names - given)}, "
                      f"unknown {sorted(given - names)}")
    if d["architecture"] is None:
        raise S4Error(f"this config trained a model of one's own ({d['model']}); its record cannot rebuild it")
    return TrainConfig(**(d | dict(architecture=Architecture.from_dict(d["architecture"]))))


def save_atomic(obj: dict, path: str | Path) -> Path:
    """torch.save to a temp file beside path, then rename: an interruption never leaves half a file."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def save_run(result: TrainResult, record: str | Path, weights: str | Path) -> None:
    """A finished run as the project keeps it: its record (JSON, every epoch) and its final weights."""
    save_atomic(result.checkpoint(), weights)  # weights first: a record that cannot be written must not cost them
    write_json(result.to_dict(), record)


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
    """Rebuild the network the checkpoint's config spells out and load its weights."""
    cfg = ckpt["config"]
    if ckpt.get("own_model") or cfg.get("architecture") is None:
        raise S4Error(f"checkpoint {path} holds a model of one's own ({cfg['model']}), not a preset: load it into an "
                      f"instance of that class with s4lib.checkpoint.load_weights(model, path), or give --model-file")
    try:
        config = config_from_record(cfg)
    except S4Error as e:
        raise S4Error(f"checkpoint {path}: {e}") from None
    return load_state(build_model(config.architecture, config.dropout), ckpt, path, f"{cfg['model']!r}")


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a checkpoint's weights into the model the caller passes (one's own, or a preset), in eval mode."""
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


# ---------------------------------------------------------------- resuming a run

def training_state(run: Run) -> dict:
    """Everything needed to continue after the last completed epoch exactly as if never stopped."""
    from .device import rng_states
    from .evaluate import model_device

    result, step = run.result, run.stepper
    device = model_device(run.model)
    # with a moving average the final model is the average; the live weights the optimizer moves are kept too
    averaged = {} if run.model is result.model else dict(live_state=run.model.state_dict())
    return result.checkpoint() | averaged | rng_states(device) | dict(
        optimizer_state=step.optimizer.state_dict(), scheduler_state=step.scheduler.state_dict(),
        loader_rng=run.batches.generator.get_state(), precision=result.precision, device_type=device.type,
        **({"scaler_state": step.scaler.state_dict()} if step.scaler is not None else {}))


def config_differences(then: dict, now: dict) -> dict:
    """Settings that differ between two recorded configs (now, then); the data folder by where it is, not how it is
    written; the device is where it runs, not what."""
    keys = (set(then) | set(now)) - {"device"}
    diff = {k: (now.get(k), then.get(k)) for k in sorted(keys) if then.get(k) != now.get(k)}
    if "data_root" in diff and Path(str(then.get("data_root"))).resolve() == Path(str(now["data_root"])).resolve():
        del diff["data_root"]
    return diff


def restore(ckpt: dict, run: Run, path: str | Path) -> None:
    """Load a training checkpoint written by the same config on the same kind of device into the run."""
    from .device import set_rng_states
    from .evaluate import model_device
    from .results import EpochLog

    result, step = run.result, run.stepper
    device = model_device(run.model)
    if ckpt.get("device_type", "cpu") != device.type:
        raise S4Error(f"checkpoint {path} was written on {ckpt.get('device_type', 'cpu')} and this run is on "
                      f"{device.type}: resume it there (--device {ckpt.get('device_type', 'cpu')}), or start a new one")
    diff = config_differences(ckpt["config"], config_record(result.config, result.model_name))
    if ckpt.get("precision", "fp32") != result.precision:  # "auto" may resolve differently on other hardware
        diff["precision (as computed)"] = (result.precision, ckpt.get("precision", "fp32"))
    if diff:
        raise S4Error(f"checkpoint {path} was written by a different config (now, then): {diff}; "
                      "resume with the same flags or start a new checkpoint")
    if "optimizer_state" not in ckpt:
        raise S4Error(f"checkpoint {path} holds final weights only, not a training state to resume")
    try:
        result.model.load_state_dict(ckpt["model_state"])
        if run.model is not result.model:
            run.model.load_state_dict(ckpt["live_state"])
        step.optimizer.load_state_dict(ckpt["optimizer_state"])
        step.scheduler.load_state_dict(ckpt["scheduler_state"])
        if step.scaler is not None and "scaler_state" in ckpt:
            step.scaler.load_state_dict(ckpt["scaler_state"])
        run.batches.generator.set_state(ckpt["loader_rng"])
        set_rng_states(ckpt, device)
        result.history = [EpochLog(**e) for e in ckpt["history"]]
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise S4Error(f"checkpoint {path} holds a training state of another shape ({type(e).__name__}: "
                      f"{str(e).splitlines()[0][:160] if str(e) else ''}); start a new checkpoint") from None


def stopped_summary(result: TrainResult, checkpoint: str | Path | None) -> str:
    """What a stopped run kept: its completed epochs, and what the checkpoint file really holds (read back)."""
    done = f"kept the history of {len(result.history)} completed epoch(s)"
    if not checkpoint:
        return done
    held = saved_epochs(checkpoint)
    if held is None:
        return f"{done}; no checkpoint was written to {checkpoint}"
    return f"{done}; checkpoint {checkpoint} holds {held} epoch(s): continue with --resume (resume=True in Python)"
