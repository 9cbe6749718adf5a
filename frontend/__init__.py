"""graphc's Keras-style frontend. Keras tutorial code runs with its imports changed:

    import frontend as keras                     # keras.layers.Dense, keras.optimizers.Adam ...
    from frontend.models import Sequential, Model, load_model
    from frontend.layers import Input, Dense, Dropout, Activation

Layers build graphc graphs; compile() turns the whole training step into one compiled
graphc function (backend "llvm" by default, "numpy" for the reference interpreter;
`frontend.backend.set_default_backend("numpy")` moves unchanged tutorial code to it).
"""

import importlib

from frontend import (  # cli: registers loading and drawing models with the `graphc` CLI
    activations,
    backend,
    callbacks,
    cli,
    config,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    utils,
)
from frontend.layers import Input
from frontend.models import Model, Sequential

__version__ = "0.1.0"


def __getattr__(name):
    # `datasets` is a separate package that may be absent; import it only when asked for.
    if name == "datasets":
        module = importlib.import_module("frontend.datasets")
        globals()["datasets"] = module
        return module
    raise AttributeError(f"module 'frontend' has no attribute {name!r}")


__all__ = [
    "activations",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "random",
    "regularizers",
    "utils",
    "Input",
    "Model",
    "Sequential",
    "datasets",
]
