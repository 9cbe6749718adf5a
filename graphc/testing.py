"""Test helpers shared by every backend and every op: the table of op test cases and a
finite-difference gradient checker.

`OP_CASES` maps each op in the table to inputs and attributes worth running it on. A test
fails when an op has no case (or a differentiable op has no gradient case), so adding an op
means adding its cases here, next to its definition's spirit: one block per op family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc.ops import OPS, make_node

# Ops that are not computed (bound by the executor or expanded by a pass) need no cases.
UNCOMPUTED = {name for name, op in OPS.items() if op.kind in ("leaf", "special")}


@dataclass(frozen=True)
class In:
    """One input of a case: its shape, how to sample it, and its dtype.

    kind: 'normal' | 'positive' (0.5..2) | 'away' (|x| in 0.1..2, off kinks) | 'int' (0..high)
          | 'bool' | 'key' (a scalar int64 random key) | 'like' (only its shape matters).
    """

    shape: tuple
    kind: str = "normal"
    dtype: str = "float64"
    high: int = 5

    @property
    def differentiable(self) -> bool:
        return self.dtype.startswith("float") and self.kind != "like"

    def sample(self, rng: np.random.Generator, dtype: str | None = None) -> np.ndarray:
        dtype = dtype if dtype and self.dtype.startswith("float") else self.dtype
        if self.kind == "int":
            return rng.integers(0, self.high, self.shape).astype(dtype)
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        if self.kind == "key":
            return np.array(rng.integers(0, 2**62), dtype=dtype)
        if self.kind == "positive":
            return rng.uniform(0.5, 2.0, self.shape).astype(dtype)
        if self.kind == "away":
            return (rng.uniform(0.1, 2.0, self.shape) * rng.choice([-1, 1], self.shape)).astype(
                dtype
            )
        return rng.standard_normal(self.shape).astype(dtype)


@dataclass(frozen=True)
class Case:
    inputs: tuple
    attrs: dict = field(default_factory=dict)
    grad: bool = True  # False: the op is not differentiable here (ints, bools, randomness)

    def sample(self, rng, dtype=None):
        return [spec.sample(rng, dtype) for spec in self.inputs]


def case(*inputs, grad=True, **attrs) -> Case:
    return Case(tuple(inputs), attrs, grad)


F = In  # shorthand inside the table
A34, A4 = In((3, 4), "away"), In((4,), "away")
SAME33 = {"padding": ((1, 1), (1, 1))}  # conv/pool cases: "same" for a 3x3 window
PAD_LR = {"padding": ((1, 0), (0, 1))}
ALL_AXES = None

OP_CASES: dict[str, list[Case]] = {
    # unary elementwise
    "neg": [case(F((3, 4)))],
    "abs": [case(A34)],
    "sign": [case(A34)],
    "exp": [case(F((3, 4)))],
    "log": [case(In((3, 4), "positive"))],
    "sqrt": [case(In((3, 4), "positive"))],
    "tanh": [case(F((3, 4)))],
    "sigmoid": [case(F((3, 4)))],
    "relu": [case(A34)],
    "softplus": [case(F((3, 4)))],
    "softsign": [case(F((3, 4)))],
    "hard_sigmoid": [case(A34)],
    "square": [case(F((3, 4)))],
    "erf": [case(F((3, 4)))],
    "sin": [case(F((3, 4)))],
    "cos": [case(F((3, 4)))],
    "elu": [case(A34, alpha=1.0), case(A34, alpha=0.5)],
    "selu": [case(A34)],
    "gelu": [case(F((3, 4)), approximate=False), case(F((3, 4)), approximate=True)],
    "cast": [
        case(F((3, 4)), dtype="float64"),
        case(In((3, 4), "int", "int32"), dtype="float64", grad=False),
        case(F((3, 4)), dtype="float32", grad=False),
        case(F((3, 4)), dtype="int32", grad=False),
    ],
    "clip": [case(A34, lo=-0.5, hi=0.5)],
    # binary elementwise, with broadcasting
    "add": [case(F((3, 4)), F((4,))), case(F((3, 1)), F((1, 4)))],
    "sub": [case(F((3, 4)), F((3, 1))), case(F(()), F((2, 3)))],
    "mul": [case(F((2, 3, 4)), F((3, 1)))],
    "div": [case(F((3, 4)), In((4,), "positive")), case(F(()), In((3,), "positive"))],
    "pow": [case(In((3, 4), "positive"), F((3, 4))), case(In((3, 4), "positive"), F(()))],
    "maximum": [case(F((3, 4)), F((4,)))],
    "minimum": [case(F((3, 4)), F((3, 1)))],
    "where": [case(In((3, 4), "bool", "bool"), F((3, 4)), F((4,)))],
    # comparisons and logic: no gradients
    **{
        name: [case(F((3, 4)), F((4,)), grad=False)]
        for name in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")
    },
    "logical_and": [case(In((3, 4), "bool", "bool"), In((4,), "bool", "bool"), grad=False)],
    "logical_or": [case(In((3, 4), "bool", "bool"), In((3, 1), "bool", "bool"), grad=False)],
    "logical_not": [case(In((3, 4), "bool", "bool"), grad=False)],
    # reductions
    "sum": [
        case(F((3, 4)), axis=ALL_AXES, keepdims=False),
        case(F((2, 3, 4)), axis=(0, 2), keepdims=True),
        case(F((3, 4)), axis=(1,), keepdims=False),
    ],
    "mean": [
        case(F((3, 4)), axis=ALL_AXES, keepdims=False),
        case(F((2, 3, 4)), axis=(1,), keepdims=True),
    ],
    "max": [
        case(F((3, 4)), axis=(1,), keepdims=False),
        case(F((2, 3, 4)), axis=ALL_AXES, keepdims=True),
    ],
    "min": [case(F((3, 4)), axis=(0,), keepdims=True)],
    "argmax": [
        case(F((3, 4)), axis=1, keepdims=False, grad=False),
        case(F((3, 4)), axis=None, keepdims=False, grad=False),
    ],
    "argmin": [case(F((3, 4)), axis=0, keepdims=True, grad=False)],
    "size": [case(F((3, 4)), axis=(0,), dtype="float64", grad=False)],
    # movement
    "reshape": [case(F((3, 4)), shape=(2, 6)), case(F((2, 3, 2)), shape=(-1,))],
    "transpose": [case(F((2, 3, 4)), axes=(2, 0, 1))],
    "expand_dims": [case(F((3, 4)), axis=(0, 2))],
    "broadcast_to": [case(F((3, 1)), shape=(2, 3, 4))],
    "broadcast_like": [case(F((3, 1)), In((2, 3, 4), "like"))],
    "concatenate": [
        case(F((2, 3)), F((2, 4)), axis=1),
        case(F((1, 3)), F((2, 3)), F((1, 3)), axis=0),
    ],
    "stack": [case(F((2, 3)), F((2, 3)), axis=1)],
    "getitem": [
        case(F((4, 5)), index=(("slice", 1, None, 2), ("int", -1))),
        case(F((3, 4)), index=(("newaxis",), ("slice", None, None, -1))),
        case(F((2, 3, 4)), index=(("int", 1), ("slice", 0, 2, None))),
    ],
    "getitem_grad": [
        case(
            F((2, 4)),
            In((4, 4), "like"),
            index=(("slice", 1, None, 2), ("slice", None, None, None)),
        )
    ],
    "take": [
        case(F((5, 3)), In((4,), "int", "int64", high=5), axis=0),
        case(F((2, 6)), In((2, 2), "int", "int32", high=6), axis=1),
    ],
    "take_grad": [case(F((4, 3)), In((4,), "int", "int64", high=5), In((5, 3), "like"), axis=0)],
    # neural-network ops
    "matmul": [
        case(F((3, 4)), F((4, 5)), transpose_a=False, transpose_b=False),
        case(F((4, 3)), F((4, 5)), transpose_a=True, transpose_b=False),
        case(F((3, 4)), F((5, 4)), transpose_a=False, transpose_b=True),
        case(F((4, 3)), F((5, 4)), transpose_a=True, transpose_b=True),
        case(F((2, 3, 4)), F((4, 5)), transpose_a=False, transpose_b=False),
    ],
    "softmax": [case(F((3, 4)), axis=-1), case(F((3, 4)), axis=0)],
    "log_softmax": [case(F((3, 4)), axis=-1), case(F((2, 3, 4)), axis=1)],
    "one_hot": [case(In((4,), "int", "int64", high=6), depth=5, dtype="float32", grad=False)],
    "random_uniform": [case(In((), "key", "int64"), In((3, 4), "like"), grad=False)],
    # convolution, padding, pooling (graphc/ops/conv.py, pooling.py): explicit (before, after) pads
    "conv1d": [
        case(F((2, 6, 3)), F((3, 3, 4)), strides=(1,), dilation=(1,), padding=((0, 0),)),
        case(F((2, 7, 2)), F((2, 2, 3)), strides=(2,), dilation=(2,), padding=((2, 0),)),
    ],
    "conv2d": [
        case(F((2, 5, 4, 2)), F((3, 3, 2, 3)), strides=(1, 1), dilation=(1, 1), **SAME33),
        case(F((2, 6, 5, 2)), F((2, 2, 2, 2)), strides=(2, 1), dilation=(1, 2), **PAD_LR),
    ],
    "conv1d_input_grad": [
        case(
            F((2, 4, 3)), F((2, 2, 3)), in_size=(7,), strides=(2,), dilation=(2,), padding=((2, 0),)
        ),
    ],
    "conv1d_weight_grad": [
        case(
            F((2, 7, 2)),
            F((2, 4, 3)),
            kernel_size=(2,),
            strides=(2,),
            dilation=(2,),
            padding=((2, 0),),
        ),
    ],
    "conv2d_input_grad": [
        case(
            F((2, 3, 4, 2)),
            F((2, 2, 2, 2)),
            in_size=(6, 5),
            strides=(2, 1),
            dilation=(1, 2),
            **PAD_LR,
        ),
    ],
    "conv2d_weight_grad": [
        case(
            F((2, 5, 4, 2)),
            F((2, 5, 4, 3)),
            kernel_size=(3, 3),
            strides=(1, 1),
            dilation=(1, 1),
            **SAME33,
        ),
    ],
    "pad": [case(F((2, 3, 2)), padding=((1, 2),)), case(F((1, 2, 3, 2)), padding=((0, 1), (2, 1)))],
    "max_pool1d": [case(F((2, 7, 3)), pool_size=(3,), strides=(2,), padding=((1, 1),))],
    "max_pool2d": [
        case(F((2, 4, 5, 2)), pool_size=(2, 2), strides=(2, 2), padding=((0, 0), (0, 1)))
    ],
    "avg_pool1d": [case(F((2, 7, 3)), pool_size=(3,), strides=(2,), padding=((1, 1),))],
    "avg_pool2d": [
        case(F((2, 5, 5, 2)), pool_size=(3, 2), strides=(2, 2), padding=((1, 1), (0, 1)))
    ],
    "max_pool1d_grad": [
        case(
            F((2, 7, 3)), F((2, 4, 3)), pool_size=(3,), strides=(2,), padding=((1, 1),), grad=False
        ),
    ],
    "max_pool2d_grad": [
        case(
            F((2, 4, 5, 2)),
            F((2, 2, 3, 2)),
            pool_size=(2, 2),
            strides=(2, 2),
            padding=((0, 0), (0, 1)),
            grad=False,
        ),
    ],
    "avg_pool1d_grad": [
        case(F((2, 4, 3)), in_size=(7,), pool_size=(3,), strides=(2,), padding=((1, 1),)),
    ],
    "avg_pool2d_grad": [
        case(
            F((2, 3, 3, 2)),
            in_size=(5, 5),
            pool_size=(3, 2),
            strides=(2, 2),
            padding=((1, 1), (0, 1)),
        ),
    ],
    # recurrences (graphc/ops/recurrent.py): P (batch, time, gates*units), states, U, (bias)
    "simple_rnn_seq": [
        case(F((2, 4, 3)), F((2, 3)), F((3, 3)), activation="tanh"),
        case(F((2, 3, 2)), F((2, 2)), F((2, 2)), activation="sigmoid"),
    ],
    "simple_rnn_seq_grad": [
        case(F((3, 3)), F((2, 4, 3)), F((2, 4, 3)), activation="tanh", grad=False)
    ],
    "lstm_seq": [case(F((2, 4, 12)), F((2, 3)), F((2, 3)), F((3, 12)))],
    "lstm_seq_grad": [case(F((2, 3)), F((3, 12)), F((2, 4, 18)), F((2, 4, 18)), grad=False)],
    "gru_seq": [case(F((2, 4, 9)), F((2, 3)), F((3, 9)), F((9,)))],
    "gru_seq_grad": [case(F((2, 3)), F((3, 9)), F((2, 4, 15)), F((2, 4, 15)), grad=False)],
}


def build_case(op: str, spec: Case, dtype: str | None = None, batch: bool = False):
    """Placeholders for a case's inputs and the op's node; with `batch`, the first input's
    leading dimension is known only at run time, as a batch is."""
    import graphc as gc

    placeholders = []
    for s in spec.inputs:
        d = dtype if dtype and s.dtype.startswith("float") else s.dtype
        first = not placeholders
        shape = (None,) + s.shape[1:] if batch and first and s.shape else s.shape
        placeholders.append(gc.placeholder(shape, d))
    return placeholders, make_node(op, placeholders, spec.attrs)


def numeric_gradient(fn, values, index, eps=1e-5) -> np.ndarray:
    """Central finite differences of the scalar fn(values) with respect to values[index]."""
    x = values[index]
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        saved = x[j]
        x[j] = saved + eps
        up = fn(values)
        x[j] = saved - eps
        down = fn(values)
        x[j] = saved
        grad[j] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """||a - b|| / (||a|| + ||b||), 0 when both are zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def check_gradient(op: str, spec: Case, seed: int = 0) -> list[float]:
    """Relative errors, per differentiable input, of the op's gradient rule (through
    graphc.grad and the interpreter) against finite differences of its NumPy reference."""
    import graphc as gc

    rng = np.random.default_rng(seed)
    values = spec.sample(rng, "float64")
    placeholders, node = build_case(op, spec, "float64")
    weights = rng.standard_normal(node.shape)
    cost = gc.sum(node * gc.constant(weights, dtype=node.dtype))
    wrt = [p for p, s in zip(placeholders, spec.inputs) if s.differentiable]
    analytic = gc.function(placeholders, gc.grad(cost, wrt, disconnected="zeros"), backend="numpy")(
        *values
    )
    impl = OPS[op].impl

    def projected(vals):
        return float(np.sum(np.asarray(impl(*vals, **spec.attrs), np.float64) * weights))

    indices = [i for i, s in enumerate(spec.inputs) if s.differentiable]
    return [
        relative_error(a, numeric_gradient(projected, values, i)) for a, i in zip(analytic, indices)
    ]
