"""compile() settings as JSON and back (what `model.save` keeps so `load_model` recompiles)."""

from __future__ import annotations

import warnings

from frontend import losses, metrics, optimizers


def _loss_spec(spec):
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_loss_spec(s) for s in spec]
    if isinstance(spec, dict):
        return {k: _loss_spec(v) for k, v in spec.items()}
    return losses.serialize(losses.get(spec))


def _metric_spec(spec):
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_metric_spec(s) for s in spec]
    if isinstance(spec, dict):
        return {k: _metric_spec(v) for k, v in spec.items()}
    if isinstance(spec, metrics.Metric):
        if isinstance(spec, metrics.MeanMetricWrapper) and type(spec) is metrics.MeanMetricWrapper:
            return spec.name
        return metrics.serialize(spec)
    return getattr(spec, "__name__", str(spec))


def compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    args = model._compile_args
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": _loss_spec(args["loss"]),
        "loss_weights": args["loss_weights"],
        "metrics": _metric_spec(args["metrics"]),
        "weighted_metrics": _metric_spec(args["weighted_metrics"]),
        "backend": model.backend_name,
    }


def _loss_from(spec, custom_objects):
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_loss_from(s, custom_objects) for s in spec]
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _loss_from(v, custom_objects) for k, v in spec.items()}
    if spec.get("class_name") == "__function__":
        name = spec.get("config")
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        raise ValueError(
            f"The saved loss is the custom function {name!r}: pass it in "
            f"custom_objects={{'{name}': ...}}"
        )
    return losses.get(spec, custom_objects)


def _metric_from(spec, custom_objects):
    if spec is None:
        return None
    if isinstance(spec, str):
        return custom_objects.get(spec, spec) if custom_objects else spec
    if isinstance(spec, list):
        return [_metric_from(s, custom_objects) for s in spec]
    if "class_name" not in spec:
        return {k: _metric_from(v, custom_objects) for k, v in spec.items()}
    return metrics.get(spec, custom_objects=custom_objects)


def has_custom_compile(model) -> bool:
    """Whether the model's class (the user's, not graphc's) overrides compile()."""
    return any(
        "compile" in vars(cls) for cls in type(model).__mro__
        if not cls.__module__.startswith("frontend.")
    )


def compile_from_config(model, config, custom_objects=None) -> None:
    """Compile `model` with the saved settings; a model with its own compile() signature
    (keras.io's GAN) is left uncompiled with a warning, as Keras 3 does."""
    if has_custom_compile(model):
        warnings.warn(
            f"load_model: {type(model).__name__} overrides compile(), so the saved compile "
            f"settings cannot be applied to it; it is loaded uncompiled: call its compile() "
            f"yourself after loading",
            UserWarning,
            stacklevel=3,
        )
        return
    kwargs = dict(
        optimizer=optimizers.get(config["optimizer"]),
        loss=_loss_from(config["loss"], custom_objects),
        loss_weights=config.get("loss_weights"),
        metrics=_metric_from(config.get("metrics"), custom_objects),
        weighted_metrics=_metric_from(config.get("weighted_metrics"), custom_objects),
    )
    backend = config.get("backend") or "llvm"
    try:
        model.compile(**kwargs, backend=backend)
    except NotImplementedError as err:
        warnings.warn(
            f"The model was compiled with backend {backend!r}, which is not available "
            f"here ({err}); it is loaded uncompiled: call model.compile(..., "
            f"backend='numpy')",
            UserWarning,
            stacklevel=3,
        )
