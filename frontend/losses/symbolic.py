"""The public loss functions (`frontend.losses.binary_crossentropy`, ...) run three ways, as
keras.ops do (frontend/ops/dispatch.py): on graph nodes they build the graph; on symbolic
KerasTensors they become a layer of the functional model being built (the Keras 2 VAE's
`binary_crossentropy(inputs, outputs)` added with `model.add_loss`); on arrays they return
arrays."""

from __future__ import annotations

from frontend.ops.dispatch import op


def public_functions(functions: dict) -> dict:
    """{name: dispatching function} for {name: graph loss function}; aliases of one function
    share one op layer, named after the function."""
    wrapped: dict = {}
    for fn in functions.values():
        if id(fn) not in wrapped:
            name = f"loss_{fn.__name__}"
            wrapped[id(fn)] = op(name, tensors=("y_true", "y_pred"))(fn)
    return {name: wrapped[id(fn)] for name, fn in functions.items()}
