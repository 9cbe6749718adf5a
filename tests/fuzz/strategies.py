"""The hypothesis strategy drawing fuzzer recipes (tests/fuzz/graphs.py), one step at a time:
each step is built and run in the interpreter as it is drawn, so later steps know every value's
run-time shape, and a step graphc refuses is dropped (refusing is not a finding)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st

import graphc as gc
from graphc.backends.numpy_backend import Interpreter
from tests.fuzz.graphs import input_array, make_node

SIZES = (1, 2, 3, 5, 1, 2, 0)  # run-time sizes: 1 often (broadcasting), 0 sometimes
FLOAT_UNARY = ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sigmoid", "relu", "softplus",
               "softsign", "hard_sigmoid", "erf", "sin", "cos", "elu", "selu", "gelu")
NUMERIC_UNARY = ("neg", "abs", "square", "sign")
BINARY = {"float": ("add", "sub", "mul", "div", "maximum", "minimum", "pow"),
          "int": ("add", "sub", "mul", "maximum", "minimum"),
          "bool": ("logical_and", "logical_or")}
COMPARISONS = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")
REFUSALS = (gc.ShapeError, gc.DtypeError, IndexError, ValueError, TypeError)


def kind(dtype: str) -> str:
    return "float" if dtype.startswith("float") else "bool" if dtype == "bool" else "int"


class Draft:
    """The steps drawn so far, with each value's node and its value in the interpreter."""

    def __init__(self, seed: int, specials: bool, dtype: str):
        self.seed, self.specials, self.dtype = seed, specials, dtype
        self.steps, self.nodes, self.values, self.placeholders, self.arrays = [], [], [], [], []

    def add(self, step) -> int | None:
        """Append `step` if graphc accepts it; its value number, or None."""
        try:
            node = make_node(step, self.nodes)
            placeholders, arrays = self.placeholders, self.arrays
            if step[0] == "input":
                array = input_array(step[2], step[3], self.seed + len(self.steps), self.specials)
                placeholders, arrays = placeholders + [node], arrays + [array]
            graph = gc.Graph(tuple(placeholders), (node,))
            with warnings.catch_warnings():  # the mean of nothing is NaN, as NumPy warns
                warnings.simplefilter("ignore", RuntimeWarning)
                value = Interpreter(graph).run(arrays)[id(node)]
        except REFUSALS:
            return None
        self.steps.append(step)
        self.nodes.append(node)
        self.values.append(np.asarray(value))
        self.placeholders, self.arrays = placeholders, arrays
        return len(self.steps) - 1

    def recipe(self):
        return (self.seed, self.specials, tuple(self.steps))

    def pick(self, draw, want=None, inputs_only=False, ndims=(0, 1, 2, 3, 4, 5)) -> int | None:
        """A value number (of kind `want`: 'float', 'int', 'bool', 'numeric'), or None."""
        fits = [k for k, n in enumerate(self.nodes)
                if (want is None or kind(n.dtype) == want
                    or (want == "numeric" and n.dtype != "bool"))
                and (not inputs_only or self.steps[k][0] == "input") and n.ndim in ndims]
        return draw(st.sampled_from(fits)) if fits else None


def draw_input(draw, d: Draft, dtype: str, sizes=None) -> int | None:
    if sizes is None:
        sizes = tuple(draw(st.lists(st.sampled_from(SIZES), max_size=3)))
    static = tuple(None if draw(st.booleans()) else s for s in sizes)
    return d.add(("input", static, sizes, dtype))


def broadcast_partner(draw, d: Draft, k: int, dtype: str) -> int | None:
    """Another value to combine with value k: an existing one or a new input whose shape
    broadcasts against k's (leading axes dropped, sizes set to 1)."""
    if draw(st.booleans()):
        return d.pick(draw, kind(dtype))
    shape = d.values[k].shape
    shape = shape[draw(st.integers(0, len(shape))):]
    sizes = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in shape)
    return draw_input(draw, d, dtype, sizes)


def step_input(draw, d):
    return draw_input(draw, d, draw(st.sampled_from([d.dtype] * 3 + ["int32", "int64", "bool"])))


def step_unary(draw, d):
    k = d.pick(draw, "numeric")
    if k is None:
        return None
    names = NUMERIC_UNARY + (FLOAT_UNARY if kind(d.nodes[k].dtype) == "float" else ())
    name = draw(st.sampled_from(names))
    kwargs = (("approximate", draw(st.booleans())),) if name == "gelu" else ()
    return d.add(("call", name, (k,), kwargs))


def step_binary(draw, d):
    k = d.pick(draw)
    j = broadcast_partner(draw, d, k, d.nodes[k].dtype)
    if j is None:
        return None
    name = draw(st.sampled_from(BINARY[kind(d.nodes[k].dtype)]))
    return d.add(("call", name, (k, j) if draw(st.booleans()) else (j, k), ()))


def step_where(draw, d):
    # conditions compare inputs only: values both backends hold bit for bit (a computed value
    # may differ by an ulp between them and flip the comparison, which is not a bug)
    a = d.pick(draw, inputs_only=True)
    b = broadcast_partner(draw, d, a, d.nodes[a].dtype) if a is not None else None
    if b is None or d.steps[b][0] != "input":
        return None
    cond = d.add(("call", draw(st.sampled_from(COMPARISONS)), (a, b), ()))
    x, y = d.pick(draw), d.pick(draw)
    if cond is None or d.nodes[x].dtype != d.nodes[y].dtype:
        return cond
    return d.add(("call", "where", (cond, x, y), ()))


def step_reduce(draw, d):
    k = d.pick(draw, "numeric")
    if k is None:
        return None
    ndim = d.nodes[k].ndim
    axes = draw(st.none() | st.lists(st.integers(0, ndim - 1), min_size=1, unique=True)
                .map(tuple)) if ndim else None
    name = draw(st.sampled_from(("sum", "mean", "max", "min")))
    return d.add(("call", name, (k,), (("axis", axes), ("keepdims", draw(st.booleans())))))


def step_matmul(draw, d):
    k = d.pick(draw, "float", ndims=(1, 2))
    if k is None:
        return None
    inner = d.values[k].shape[-1]
    w = draw_input(draw, d, d.nodes[k].dtype, (inner, draw(st.sampled_from(SIZES))))
    return None if w is None else d.add(("call", "matmul", (k, w), ()))


def step_reshape(draw, d):
    k = d.pick(draw)
    shape = d.values[k].shape
    targets = [(-1,), (-1, 1), (1, -1)] + ([(shape[0], -1)] if shape else [])
    return d.add(("call", "reshape", (k,), (("shape", draw(st.sampled_from(targets))),)))


def step_transpose(draw, d):
    k = d.pick(draw)
    axes = tuple(draw(st.permutations(range(d.nodes[k].ndim))))
    return d.add(("call", "transpose", (k,), (("axes", axes),)))


def step_index(draw, d):
    k = d.pick(draw)
    items = []
    for size in d.values[k].shape[:draw(st.integers(0, d.nodes[k].ndim))]:
        if size and draw(st.booleans()):
            items.append(("int", draw(st.integers(-size, size - 1))))
        else:
            bound = st.none() | st.integers(-3, 5)
            items.append(("slice", draw(bound), draw(bound),
                          draw(st.sampled_from([None, 1, 2, -1]))))
    return d.add(("index", k, tuple(items)))


def step_expand_dims(draw, d):
    k = d.pick(draw)
    ndim = d.nodes[k].ndim
    return d.add(("call", "expand_dims", (k,), (("axis", draw(st.integers(-ndim - 1, ndim))),)))


def step_concatenate(draw, d):
    k = d.pick(draw)
    shape = d.values[k].shape
    if not shape:
        return None
    axis = draw(st.integers(0, len(shape) - 1))
    sizes = shape[:axis] + (draw(st.sampled_from(SIZES)),) + shape[axis + 1:]
    j = k if draw(st.booleans()) else draw_input(draw, d, d.nodes[k].dtype, sizes)
    return None if j is None else d.add(("call", "concatenate", ((k, j),), (("axis", axis),)))


def step_softmax(draw, d):
    k = d.pick(draw, "float")
    if k is None or not d.nodes[k].ndim:
        return None
    axis = draw(st.integers(-d.nodes[k].ndim, d.nodes[k].ndim - 1))
    return d.add(("call", draw(st.sampled_from(("softmax", "log_softmax"))), (k,),
                  (("axis", axis),)))


def step_cast(draw, d):
    # floats become ints only straight from inputs without NaN/inf: NaN has no integer value,
    # and a computed 2.9999999 against 3.0 truncates differently (neither is a bug)
    k = d.pick(draw)
    targets = [d.dtype, "bool"] + (["int32", "int64"] if d.steps[k][0] == "input"
                                   and not d.specials else [])
    if kind(d.nodes[k].dtype) != "float":
        targets = ["float32", "float64", "int32", "int64", "bool"]
    return d.add(("call", "cast", (k,), (("dtype", draw(st.sampled_from(targets))),)))


STEPS = (step_input, step_unary, step_unary, step_binary, step_binary, step_where, step_where,
         step_reduce, step_reduce, step_matmul, step_matmul, step_reshape, step_transpose,
         step_index, step_index, step_expand_dims, step_concatenate, step_softmax, step_cast)


@st.composite
def recipes(draw, max_steps: int = 8):
    """A fuzzer recipe: a float input, then up to `max_steps` random steps."""
    d = Draft(draw(st.integers(0, 2**30)), draw(st.booleans()),
              draw(st.sampled_from(["float32", "float64"])))
    if draw_input(draw, d, d.dtype) is None:
        return d.recipe()
    for _ in range(draw(st.integers(1, max_steps))):
        draw(st.sampled_from(STEPS))(draw, d)
    return d.recipe()
