"""Backends turn an optimized graph into something callable.

A backend module exposes `compile(run: PipelineRun) -> executable`, where the executable is
called with one array per graph input, returns one array per output, and applies the graph's
updates to the shared variables in place (computed from the values before the call).
"""

from __future__ import annotations

import importlib

BACKENDS = {"numpy": "graphc.backends.numpy_backend", "llvm": "graphc.backends.llvm"}


def get_backend(name: str):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(BACKENDS[name])
    except ModuleNotFoundError as err:
        if err.name != BACKENDS[name]:
            raise
        raise NotImplementedError(
            f"the {name!r} backend is not built yet; use backend='numpy'"
        ) from None
