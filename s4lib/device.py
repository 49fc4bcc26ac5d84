"""Which device computes and how: the config names a device, a precision and a memory layout; this resolves them."""
from __future__ import annotations

import contextlib
import os
import platform

import torch

from .errors import S4Error

DEVICES = ("auto", "cpu", "cuda", "mps")
# fp32: float32 throughout (TF32 off on CUDA); tf32: CUDA's TF32 matmuls and convolutions (Ampere or newer);
# bf16: bfloat16 autocast; fp16: float16 autocast with a gradient scaler (CUDA); auto: bf16 where native, else fp32
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "auto")
MEMORY_FORMATS = ("nchw", "channels_last")


def available(name: str) -> bool:
    """Whether this torch can use the named device here."""
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return name == "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    """The device a run uses: "auto" is CUDA when there is one, else the CPU (MPS only when named)."""
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


def gpu_name() -> str | None:
    """The CUDA GPU's name, or None where there is none."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


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
    return cpuinfo("model name") or platform.processor()


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 in hardware (emulated bf16 is slow, and cuDNN may refuse it)."""
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # an older torch without the argument reports native support only
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    if device.type == "mps":
        return mps_computes(torch.bfloat16)
    return False


def mps_computes(dtype: torch.dtype) -> bool:
    """Whether autocast on MPS really computes in dtype (older torch or macOS fall back to float32 silently)."""
    try:
        with torch.autocast("mps", dtype=dtype):
            out = torch.ones(2, 2, device="mps") @ torch.ones(2, 2, device="mps")
        return out.dtype == dtype
    except (RuntimeError, TypeError):
        return False


def tf32_capable(device: torch.device) -> bool:
    """Whether the GPU has TF32 tensor cores (compute capability 8.0, Ampere, or newer)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run computes in, or one line saying why the device cannot."""
    if name not in PRECISIONS:
        raise S4Error(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "fp16" and device.type == "cpu":
        raise S4Error("precision fp16 needs a GPU (on a CPU use bf16, or auto)")
    if name == "fp16" and device.type == "mps" and not mps_computes(torch.float16):
        raise S4Error("precision fp16 is not computed on this Mac's MPS by this torch; use fp32")
    if name == "tf32" and not tf32_capable(device):
        raise S4Error("precision tf32 needs a CUDA GPU of compute capability 8.0 or newer (A100, RTX 30xx ...); "
                      "use fp32")
    if name == "bf16" and device.type != "cpu" and not native_bf16(device):
        alternative = "fp16" if device.type == "cuda" else "fp32"
        raise S4Error(f"this {device.type} device has no native bf16 ({describe(device)}); use {alternative}, "
                      "or auto")
    return name


def autocast(precision: str, device: torch.device):
    """The context the forward pass and loss run in: torch.autocast for bf16 and fp16, nothing otherwise."""
    if precision not in ("bf16", "fp16"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def torch_memory_format(name: str) -> torch.memory_format:
    """torch's name for a resolved layout; the input has one channel, so NCHW and NHWC batches are the same bytes."""
    return torch.channels_last if name == "channels_last" else torch.contiguous_format


@contextlib.contextmanager
def numerics(precision: str, deterministic: bool):
    """For the length of a run: TF32 only when asked for, and (deterministic) cuDNN's deterministic algorithms, no
    benchmark mode and deterministic kernels everywhere; torch's global settings are restored afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled())
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    if deterministic:
        # cuBLAS repeats its sums only with a fixed workspace; it reads this when CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic,
         torch.backends.cudnn.benchmark) = saved[:4]
        torch.use_deterministic_algorithms(saved[4])


@contextlib.contextmanager
def torch_threads(threads: int):
    """For the length of a run: torch computes with this many CPU threads (0: as many as it would anyway)."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def synchronize(device: torch.device) -> None:
    """Wait until the device has finished its queued work, so a clock read afterwards times it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def rng_states(device: torch.device) -> dict:
    """The random states a run draws from: the CPU's, and the GPU's where dropout draws on a GPU."""
    states = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda_rng"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        states["mps_rng"] = torch.mps.get_rng_state()
    return states


def set_rng_states(states: dict, device: torch.device) -> None:
    """Put back what rng_states saved."""
    torch.set_rng_state(states["torch_rng"])
    if device.type == "cuda" and states.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(states["cuda_rng"], device)
    elif device.type == "mps" and states.get("mps_rng") is not None:
        torch.mps.set_rng_state(states["mps_rng"])
