"""s4: backpropagation by hand and a tiny MNIST CNN, with every number reproducible."""
__version__ = "0.1.0"
