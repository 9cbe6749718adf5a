"""Keras 3's `keras.ops` for graphc: `from frontend import ops` (or `keras.ops`).

Every function works three ways: on NumPy arrays (computed at once, arrays out), on graphc
nodes inside Lambda layers, custom layers, losses and metrics (graph nodes out), and on
symbolic KerasTensors while a functional model is built (the call becomes an op layer of the
model, saved and reloaded by name, without code). See frontend/ops/dispatch.py.
"""

from frontend.ops import tensor_operators
from frontend.ops.core import (
    cast,
    convert_to_numpy,
    convert_to_tensor,
    dtype,
    is_tensor,
    ndim,
    shape,
    size,
    stop_gradient,
)
from frontend.ops.creation import (
    arange,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    zeros,
    zeros_like,
)
from frontend.ops.linalg import dot, matmul, norm, outer, tensordot, vdot
from frontend.ops.math_ops import (
    abs,
    absolute,
    add,
    ceil,
    clip,
    cos,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    power,
    reciprocal,
    round,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    where,
)
from frontend.ops.nn import (
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    normalize,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    swish,
)
from frontend.ops.reductions import (
    all,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from frontend.ops.shape_ops import (
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    getitem,
    moveaxis,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tile,
    transpose,
)

amax, amin = max, min
tensor_operators.install()

__all__ = sorted(
    name for name, value in globals().items() if callable(value) and not name.startswith("_")
)
