"""Op layers: what `x + residual`, `x[:, 0]` or `ops.mean(x, axis=1)` on symbolic KerasTensors
becomes (Keras 3 allows math on them). Each call is an `OpLayer` named after its op ("add",
"mean", ...), drawn and listed like any layer.

Its config is the op's name in a fixed table (`OP_FUNCTIONS`, filled by frontend.ops) and its
other arguments as JSON (arrays as nested lists with their dtype), so a saved model reloads
without running any code from the file.
"""

from __future__ import annotations

import numpy as np

from frontend import backend
from frontend.compat import suggest
from frontend.layers.base import Layer
from frontend.layers.tensor import KerasTensor
from graphc.ir import Node, user_site

# op name -> the function of graphc nodes (and constants) that computes it
OP_FUNCTIONS: dict = {}


def register_op(name: str, function) -> None:
    """Make `function` loadable as the op layer `name` (one definition per name)."""
    if name in OP_FUNCTIONS and OP_FUNCTIONS[name] is not function:
        raise ValueError(f"op layer function {name!r} is registered twice")
    OP_FUNCTIONS[name] = function


# ---- arguments as JSON --------------------------------------------------------------------------


def encode(value, tensors: list):
    """A JSON-able form of an argument; KerasTensors are appended to `tensors` and stand as
    {"tensor": index}."""
    if isinstance(value, KerasTensor):
        tensors.append(value)
        return {"tensor": len(tensors) - 1}
    if isinstance(value, Node):
        raise TypeError(
            f"cannot mix a graphc node ({value!r}) with symbolic KerasTensors in one op; "
            f"use layer outputs (KerasTensors) or NumPy constants (at {user_site()})"
        )
    if isinstance(value, (list, tuple)):
        items = [encode(v, tensors) for v in value]
        return items if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, tensors) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"slice": [encode(v, tensors) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, np.generic):
        return value.item()  # a NumPy scalar (an index, a factor) is stored as a JSON number
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"an op on symbolic KerasTensors got an argument it cannot store in the model: "
        f"{type(value).__name__} {value!r}; use numbers, strings, NumPy arrays, lists or tuples "
        f"(at {user_site()})"
    )


_DECODERS = {
    "tensor": lambda v, inputs: inputs[v["tensor"]],
    "tuple": lambda v, inputs: tuple(decode(i, inputs) for i in v["tuple"]),
    "dict": lambda v, inputs: {k: decode(i, inputs) for k, i in v["dict"].items()},
    "slice": lambda v, inputs: slice(*(decode(i, inputs) for i in v["slice"])),
    "ellipsis": lambda v, inputs: Ellipsis,
    "array": lambda v, inputs: np.asarray(v["array"], dtype=v["dtype"]),
}


def decode(value, inputs: list):
    """The argument `encode` stored, with the call's input nodes in place of the tensors."""
    if isinstance(value, list):
        return [decode(v, inputs) for v in value]
    if isinstance(value, dict):
        kind = next(iter(value), None)
        if kind not in _DECODERS:
            raise ValueError(f"op layer argument {value!r} is not one that graphc stores")
        return _DECODERS[kind](value, inputs)
    return value


# ---- the layer ------------------------------------------------------------------------------


class OpLayer(Layer):
    """One op of frontend.ops applied to KerasTensors; `function` names it, `arguments` holds
    {"args": [...], "kwargs": {...}} with {"tensor": i} for the i-th input."""

    def __init__(self, function, arguments=None, **kwargs):
        if function not in OP_FUNCTIONS:
            raise ValueError(
                f"OpLayer: unknown op {function!r}.{suggest(str(function), OP_FUNCTIONS)} "
                f"Known ops: {', '.join(sorted(OP_FUNCTIONS))}"
            )
        super().__init__(name=kwargs.pop("name", None) or backend.unique_name(function), **kwargs)
        self.function = function
        self.arguments = arguments or {"args": [], "kwargs": {}}

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        args = decode(self.arguments.get("args", []), inputs)
        kwargs = {k: decode(v, inputs) for k, v in self.arguments.get("kwargs", {}).items()}
        return OP_FUNCTIONS[self.function](*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "function": self.function, "arguments": self.arguments}


def call_op_layer(name: str, args: tuple, kwargs: dict):
    """Apply op `name` to arguments holding KerasTensors: a new OpLayer called on them."""
    tensors: list = []
    arguments = {"args": encode(list(args), tensors), "kwargs": encode(kwargs, tensors)["dict"]}
    return OpLayer(name, arguments)(tensors)
