"""Which device computes: the config names one ("auto", "cpu", "cuda", "mps"), this turns it into a torch.device."""
from __future__ import annotations

import torch

from .errors import S4Error

DEVICES = ("auto", "cpu", "cuda", "mps")


def available(name: str) -> bool:
    """Whether this torch can use the named device here."""
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return name == "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    """The device a run uses: "auto" is CUDA when there is one, else the CPU; a named one must be present."""
    if name not in DEVICES:
        raise S4Error(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if available("cuda") else "cpu")
    if not available(name):
        raise S4Error(f"device {name!r} is not available to this torch ({torch.__version__}); "
                      "use --device cpu, or auto to take a GPU only when there is one")
    return torch.device(name)


def describe(device: torch.device) -> str:
    """One phrase naming the device, e.g. 'cuda (Tesla T4)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({threads_phrase()})"
    return device.type


def threads_phrase(noun: str = "thread") -> str:
    """How many threads torch computes with on the CPU, e.g. '1 thread' or '2 threads'."""
    threads = torch.get_num_threads()
    return f"{threads} {noun}{'s' * (threads > 1)}"
