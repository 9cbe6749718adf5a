"""What the `graphc` command line needs from the frontend (loading a saved model, drawing a
model's layers), registered with graphc's CLI so graphc never imports the frontend."""

from __future__ import annotations

from frontend.models import load_model
from frontend.models.archive import FileFormatError
from frontend.models.config_check import ConfigError
from frontend.utils import plot_model
from graphc.cli_models import ModelSupport, register_model_support


def load_for_cli(path: str, allow_code: bool):
    """load_model, with the Lambda refusal's advice spelt as the command line's option."""
    try:
        return load_model(path, safe_mode=not allow_code)
    except ConfigError as err:
        text = str(err).replace("pass safe_mode=False to load_model", "add --unsafe-allow-code")
        raise ConfigError(text) from err


def draw_model(model, path: str, rankdir: str) -> str:
    return plot_model(model, to_file=path, show_shapes=True, rankdir=rankdir)


# The `graphc.models` entry point (pyproject.toml) names this object.
MODEL_SUPPORT = register_model_support(
    ModelSupport("frontend", load_for_cli, draw_model, (FileFormatError, ConfigError))
)
