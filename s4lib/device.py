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


PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 in hardware (a CPU without it would emulate it, slowly)."""
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # an older torch without the argument reports native support only
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def cpuinfo(field: str) -> str:
    """The first value of a field of /proc/cpuinfo ("" where there is none, as off Linux)."""
    try:
        text = open("/proc/cpuinfo", encoding="ascii", errors="replace").read()
    except OSError:
        return ""
    line = next((ln for ln in text.splitlines() if ln.split(":")[0].strip() == field), "")
    return line.partition(":")[2].strip()


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere: no native bf16 is assumed there)."""
    return set(cpuinfo("flags").split())


def cpu_name() -> str:
    """The CPU's model name, e.g. 'AMD EPYC', where the system tells it ("" elsewhere)."""
    import platform

    return cpuinfo("model name") or platform.processor()


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run computes in: "auto" is bf16 where the hardware runs it natively, else fp32."""
    if name not in PRECISIONS:
        raise S4Error(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise S4Error("precision fp16 needs a CUDA GPU (on a CPU use bf16, or auto)")
    return name


def autocast(precision: str, device: torch.device):
    """The context the forward pass and loss run in: torch.autocast for bf16 and fp16, nothing for fp32."""
    import contextlib

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
