"""Models: `from frontend.models import Sequential, Model, load_model`."""

from frontend.models.loading import load_model, model_from_json
from frontend.models.model import Model
from frontend.models.sequential import Sequential


def save_model(model, filepath, overwrite=True, include_optimizer=True, **kwargs):
    """Same as `model.save(filepath, ...)`."""
    model.save(filepath, overwrite=overwrite, include_optimizer=include_optimizer, **kwargs)


__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json"]
