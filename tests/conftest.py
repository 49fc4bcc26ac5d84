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
