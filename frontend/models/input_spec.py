"""What a subclassed model takes: the names, shapes (batch dimension None) and dtypes of its
inputs and how they are arranged (one tensor, a list or a dict), learnt from the first call
or from `build(input_shape)`, so that compiled functions can make placeholders for them."""

from __future__ import annotations

from dataclasses import dataclass

import graphc as gc
from frontend.layers.tensor import flatten


@dataclass
class InputSpec:
    names: list
    shapes: list
    dtypes: list
    keys: object = None  # None: one tensor; "list"/"tuple": a sequence; a list of dict keys

    @classmethod
    def of_nodes(cls, structure) -> InputSpec:
        """The spec of the graphc nodes a model was first called on."""
        flat = flatten(structure)
        shapes = [(None,) + tuple(n.shape[1:]) for n in flat]
        return cls._arranged(structure, shapes, [n.dtype for n in flat])

    @classmethod
    def of_shapes(cls, input_shape, dtype) -> InputSpec:
        """The spec `build(input_shape)` describes: a shape, a list of shapes or a dict."""
        if isinstance(input_shape, dict):
            shapes = [tuple(s) for s in input_shape.values()]
        elif is_shape(input_shape):
            shapes = [tuple(input_shape)]
        else:
            shapes = [tuple(s) for s in input_shape]
        shaped = input_shape if not is_shape(input_shape) else None
        return cls._arranged(shaped, shapes, [dtype] * len(shapes))

    @classmethod
    def _arranged(cls, structure, shapes, dtypes) -> InputSpec:
        if isinstance(structure, dict):
            keys = list(structure)
            return cls([str(k) for k in keys], shapes, dtypes, keys)
        if isinstance(structure, (list, tuple)):
            names = [f"input_{i}" for i in range(len(shapes))]
            return cls(names, shapes, dtypes, type(structure).__name__)
        return cls(["input"], shapes, dtypes, None)

    def placeholders(self) -> list:
        return [
            gc.placeholder(shape, dtype, name=name)
            for name, shape, dtype in zip(self.names, self.shapes, self.dtypes)
        ]

    def arrange(self, nodes: list):
        """The flat input nodes in the structure the model's `call` takes."""
        if self.keys is None:
            return nodes[0]
        if isinstance(self.keys, list):
            return dict(zip(self.keys, nodes))
        return tuple(nodes) if self.keys == "tuple" else list(nodes)

    def to_config(self) -> dict:
        shapes = [list(s) for s in self.shapes]
        if isinstance(self.keys, list):
            shape = dict(zip(self.keys, shapes))
        else:
            shape = shapes[0] if self.keys is None else shapes
        return {"input_shape": shape, "dtypes": list(self.dtypes)}

    @classmethod
    def from_config(cls, config: dict) -> InputSpec:
        spec = cls.of_shapes(config["input_shape"], None)
        spec.dtypes = [gc.ir.normalize_dtype(d) for d in config["dtypes"]]
        return spec


def is_shape(value) -> bool:
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value)
