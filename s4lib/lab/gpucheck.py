"""python -m s4lib gpucheck: everything a CUDA GPU has to show in one prepared command, written to
notebooks/results/gpu_check.json: the environment, the GPU tests (pytest -m gpu), a full epoch's time per precision and
memory layout, and one whole run of the main preset's schedule. Under 8 minutes on one GPU."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..errors import S4Error
from ..project import clone_root, display_path
from ..train import TrainConfig
from .records import GPU_CHECK_RECORD, machine, write_record

# a full epoch of the main config on the GPU, once per arithmetic and layout: name -> TrainConfig settings
EPOCHS: dict[str, dict] = {
    "fp32, NCHW": dict(precision="fp32", memory_format="nchw"),
    "fp32, channels_last": dict(precision="fp32", memory_format="channels_last"),
    "tf32, NCHW": dict(precision="tf32", memory_format="nchw"),
    "fp16, NCHW": dict(precision="fp16", memory_format="nchw"),
    "bf16, NCHW": dict(precision="bf16", memory_format="nchw"),
}
TESTS_TIMEOUT_S = 300


def environment() -> dict:
    """What the GPU and its software are: torch, CUDA, cuDNN, the GPU, its compute capability, bf16 and TF32."""
    from ..device import native_bf16, tf32_capable

    device = torch.device("cuda")
    major, minor = torch.cuda.get_device_capability(device)
    return dict(torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                gpu=torch.cuda.get_device_name(device), compute_capability=f"{major}.{minor}",
                native_bf16=native_bf16(device), tf32=tf32_capable(device),
                memory_gib=round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1))


def gpu_tests() -> dict:
    """pytest -m gpu in a process of its own: its summary line and exit code."""
    root = clone_root()
    if root is None:
        return dict(skipped="not in a clone of the project: no tests to run")
    done = subprocess.run([sys.executable, "-m", "pytest", "tests", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
                          cwd=root, capture_output=True, text=True, timeout=TESTS_TIMEOUT_S)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed|error)", line)),
                   lines[-1] if lines else "no output")
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return dict(exit_code=done.returncode, summary=summary, failed=failed)


def run(args) -> int | None:
    """Check everything, print as it goes, write the record; without CUDA, one line and a non-zero exit."""
    from ..device import resolve_precision
    from .benchmark import named_run, run_child

    if not torch.cuda.is_available():
        raise S4Error("gpucheck needs a CUDA GPU and this torch sees none (torch.cuda.is_available() is False)")
    out = Path(args.out) if args.out else GPU_CHECK_RECORD
    env = environment()
    print(" ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    tests = dict(skipped="--skip-tests") if args.skip_tests else gpu_tests()
    print(f"gpu tests: {tests.get('summary', tests.get('skipped'))}", flush=True)
    base = TrainConfig(data_root=args.data_root, device="cuda")
    epochs = {}
    for name, settings in EPOCHS.items():
        config = replace(base, **settings)
        try:
            resolve_precision(config.precision, torch.device("cuda"))
        except S4Error as e:  # a precision this GPU does not compute: said, not timed
            epochs[name] = named_run(config) | dict(skipped=str(e))
            print(f"epoch {name}: skipped ({e})", flush=True)
            continue
        epochs[name] = named_run(config) | run_child(config)
        print(f"epoch {name}: {epochs[name]['train_s']:.1f} s, test pass {epochs[name]['test_s']:.2f} s", flush=True)
    full_schedule = TrainConfig.preset("s4", data_root=args.data_root, device="cuda")
    main_run = named_run(full_schedule) | run_child(full_schedule, task="run")
    print(f"the main preset's whole run: {main_run['run_s']:.0f} s, final test accuracy "
          f"{100 * main_run['final_test_acc']:.2f}%", flush=True)
    record = dict(kind="gpu_check", command="python -m s4lib gpucheck", machine=machine(),
                  date=dt.date.today().isoformat(), environment=env, tests=tests, epochs=epochs, main_run=main_run)
    print("wrote", display_path(write_record(record, out)))
    return 1 if tests.get("exit_code") else None
