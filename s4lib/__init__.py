"""s4: backpropagation by hand and a tiny MNIST CNN, with every number reproducible."""
__version__ = "0.1.0"

# what a notebook or a script needs most, importable from s4lib itself (loaded on first use: torch is heavy);
# train() itself is s4lib.train.train, since s4lib.train is its module
_EXPORTS = {"TrainConfig": "train", "build_model": "model", "count_parameters": "model",
            "assignment_checks": "assignment", "checks_report": "assignment"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 's4lib' has no attribute {name!r}")
