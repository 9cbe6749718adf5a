"""What the `graphc` command line needs from the frontend (loading a saved model, drawing a
model's layers), registered with graphc's CLI so graphc never imports the frontend."""

from __future__ import annotations

from frontend.models import load_model
from frontend.utils import plot_model
from graphc.cli_models import ModelSupport, register_model_support


def draw_model(model, path: str, rankdir: str) -> str:
    return plot_model(model, to_file=path, show_shapes=True, rankdir=rankdir)


# The `graphc.models` entry point (pyproject.toml) names this object.
MODEL_SUPPORT = register_model_support(ModelSupport("frontend", load_model, draw_model))
