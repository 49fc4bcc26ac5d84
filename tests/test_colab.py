"""The notebooks run alone, as Colab runs them: in an empty folder, with a Python that cannot import s4lib.

The first cell must find no clone, install s4lib from S4LIB_REPO_URL (here: this clone, as a file:// git URL)
and go on; without an address it must stop with one sentence. The kernel's Python is a fresh venv that sees
every package of the test environment except s4lib, so nothing is downloaded but the build tools pip needs.
"""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from s4lib.notebooks import read, write

ROOT = Path(__file__).resolve().parents[1]
MODEL_CELL = "build_model("  # notebook 02 runs up to and including the cell that builds the model


def not_s4lib(name: str) -> bool:
    """Every entry of site-packages except s4lib's editable install and its metadata."""
    return not (name.startswith("__editable__") or name.split("-")[0] == "s4lib")


pytestmark = pytest.mark.slow  # each test builds or uses a fresh environment and executes a notebook


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A venv whose Python sees this environment's packages, but not s4lib."""
    base = tmp_path_factory.mktemp("colab-env")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    shared = base / "packages"
    shared.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not_s4lib(entry.name) and entry.suffix != ".pth":
            (shared / entry.name).symlink_to(entry)
    python = base / "venv" / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "shared-packages.pth").write_text(f"{shared}\n")
    # Colab's stack: a recent Python, numpy 2, a CUDA build of torch (where this machine's torch is one), no s4lib
    check = subprocess.run([python, "-c", "import numpy, torch, nbconvert, ipykernel; "
                                          "print(numpy.__version__, torch.version.cuda); import s4lib"], cwd=base,
                           capture_output=True, text=True)
    assert "No module named 's4lib'" in check.stderr, check.stderr[-2000:]
    numpy_version, cuda = check.stdout.split()
    assert int(numpy_version.split(".")[0]) >= 2
    assert (cuda != "None") == (torch_cuda_build())
    return python


def torch_cuda_build() -> bool:
    """Whether this environment's torch is a CUDA build (it is on the Linux machines CI runs on, as on Colab)."""
    import torch

    return torch.version.cuda is not None


def execute(python: Path, notebook: Path, env: dict) -> subprocess.CompletedProcess:
    """Execute a notebook in its own folder with nbconvert, the kernel being `python`."""
    return subprocess.run([python, "-m", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
                           "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=python3",
                           notebook.name], cwd=notebook.parent, env=env, capture_output=True, text=True)


def outputs(path: Path) -> str:
    """All text the executed notebook printed."""
    return "".join("".join(o.get("text", "")) for c in read(path)["cells"] for o in c.get("outputs", []))


def clean_env(**extra: str) -> dict:
    """The environment without anything that points Python at this clone."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "S4LIB_REPO_URL", "VIRTUAL_ENV")}
    return env | extra


def test_notebook_01_alone_stops_with_one_sentence_when_there_is_no_address(bare_python, tmp_path):
    nb = tmp_path / "01_backprop_by_hand.ipynb"
    nb.write_bytes((ROOT / "notebooks" / nb.name).read_bytes())
    done = execute(bare_python, nb, clean_env())
    assert done.returncode != 0
    assert "s4lib is not installed and this notebook is not in a clone of the project" in done.stderr
    assert "%pip install git+" in done.stderr


def test_notebook_01_alone_installs_s4lib_from_the_address_and_runs_to_the_end(bare_python, tmp_path):
    nb = tmp_path / "01_backprop_by_hand.ipynb"
    nb.write_bytes((ROOT / "notebooks" / nb.name).read_bytes())
    done = execute(bare_python, nb, clean_env(S4LIB_REPO_URL=ROOT.as_uri()))
    assert done.returncode == 0, done.stderr[-3000:]
    text = outputs(tmp_path / "executed.ipynb")
    assert "from an installed package" in text
    assert "max |difference|" in text  # the autograd check near the end ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_backprop_by_hand.ipynb", "executed.ipynb"]
    installed = subprocess.run([bare_python, "-c", "import s4lib; print(s4lib.__file__)"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout
    assert str(bare_python.parents[1]) in installed  # pip put it into the kernel's own environment


def test_notebook_02_alone_runs_up_to_its_model_with_mnist_in_dot_data(bare_python, tmp_path):
    # runs after the test above, so s4lib is already installed in the kernel's environment: the first branch
    nb = read(ROOT / "notebooks" / "02_mnist_cnn.ipynb")
    last = next(k for k, c in enumerate(nb["cells"]) if MODEL_CELL in "".join(c["source"]))
    nb["cells"] = nb["cells"][:last + 1]
    write(nb, tmp_path / "02_mnist_cnn.ipynb")
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (ROOT / "data" / "MNIST" / "raw").iterdir():  # what torchvision's download would have put there
        (raw / f.name).symlink_to(f)
    done = execute(bare_python, tmp_path / "02_mnist_cnn.ipynb", clean_env(S4LIB_REPO_URL=ROOT.as_uri()))
    assert done.returncode == 0, done.stderr[-3000:]
    text = outputs(tmp_path / "executed.ipynb")
    import torch

    device = "device cuda" if torch.cuda.is_available() else "device cpu"
    assert device in text and "writing results" not in text  # no housekeeping; nothing is written (below)
    assert "using the verified files in data/MNIST/raw" in text
    assert "Total params: 12,114" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_mnist_cnn.ipynb", "data", "executed.ipynb"]
    assert json.loads((tmp_path / "executed.ipynb").read_text())["cells"][-1]["outputs"]
