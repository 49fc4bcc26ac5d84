"""Fixtures shared by the training tests."""
import pytest

import s4lib.train as train_module


@pytest.fixture
def ctrl_c_at_epoch(monkeypatch):
    """ctrl_c_at_epoch(n) makes training epoch n raise KeyboardInterrupt as Ctrl-C would; it returns the undo."""
    real = train_module.train_one_epoch

    def install(n: int):
        calls = []

        def interrupted(*args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(train_module, "train_one_epoch", interrupted)
        return lambda: monkeypatch.setattr(train_module, "train_one_epoch", real)

    return install


def needs_libreoffice() -> None:
    """Skip a test that needs LibreOffice where it is missing (a laptop without apt); under CI it must be there."""
    import os
    import shutil

    if shutil.which("soffice") is None and shutil.which("libreoffice") is None and not os.environ.get("CI"):
        pytest.skip("LibreOffice is not installed (`make test` installs it; CI requires it)")


@pytest.fixture(autouse=True)
def runs_in_turn(monkeypatch):
    """Experiments under test run in this process, one at a time, whatever the committed placement record says."""
    import s4lib.lab.placement as placement

    real = placement.default_placement
    monkeypatch.setattr(placement, "default_placement", lambda: "in_turn")
    return real


@pytest.fixture(autouse=True)
def on_the_cpu(request, monkeypatch):
    """Every test but those marked gpu runs on the CPU, where runs repeat to the bit, whatever GPU the machine has."""
    if "gpu" not in request.keywords:
        import s4lib.device

        monkeypatch.setattr(s4lib.device, "available", lambda name: name == "cpu")
