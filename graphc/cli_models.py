"""How the `graphc` command line loads and draws Keras-style models without importing a model
library: the library registers a `ModelSupport` (the frontend does so when it is imported);
for a saved model file the CLI first loads the libraries the `graphc.models` entry point names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "graphc.models"


@dataclass(frozen=True)
class ModelSupport:
    """What a model library gives the CLI: `load(path, allow_code) -> model` for `graphc
    summary/dot MODEL.zip` (allow_code: --unsafe-allow-code, the library's safe_mode=False),
    `draw(model, path, rankdir) -> path written` for `graphc dot`, and the exceptions by which
    `load` says the file is not a model file (exit code 2, not 1)."""

    name: str
    load: Callable[[str, bool], object]
    draw: Callable[[object, str, str], str]
    bad_file_errors: tuple[type[Exception], ...] = ()


REGISTERED: dict[str, ModelSupport] = {}


def register_model_support(support: ModelSupport) -> ModelSupport:
    REGISTERED[support.name] = support
    return support


def load_entry_points() -> None:
    """Import every installed model library that declares a `graphc.models` entry point."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        register_model_support(entry.load())


def model_support() -> ModelSupport:
    """The registered model library; ImportError naming the entry point group if none is."""
    if not REGISTERED:
        load_entry_points()
    if not REGISTERED:
        raise ImportError(
            f"no model library is registered (none imported, no `{ENTRY_POINT_GROUP}` "
            f"entry point installed)"
        )
    return next(iter(REGISTERED.values()))
