"""Keras 3's `keras.ops` for graphc: `from frontend import ops` (or `keras.ops`).

Every function works three ways: on NumPy arrays (computed at once, arrays out), on graphc
nodes inside Lambda layers, custom layers, losses and metrics (graph nodes out), and on
symbolic KerasTensors while a functional model is built (the call becomes an op layer of the
model, saved and reloaded by name, without code). See frontend/ops/dispatch.py.
"""

from frontend.gradients import GradientTape, grad  # gradients inside a custom train_step
from frontend.ops import tensor_operators, unsupported
from frontend.ops.conv_ops import average_pool, conv, max_pool
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
from frontend.ops.linalg import dot, einsum, matmul, norm, outer, tensordot, vdot
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
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
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
    celu,
    elu,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    mish,
    normalize,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    squareplus,
    swish,
    tanh_shrink,
)
from frontend.ops.reductions import (
    all,
    any,
    argmax,
    argmin,
    average,
    count_nonzero,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    moments,
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
    ravel,
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
    tril,
    triu,
)

amax, amin = max, min
tensor_operators.install()

__all__ = sorted(
    name for name, value in globals().items() if callable(value) and not name.startswith("_")
)


def __getattr__(name: str):
    # keras.ops names graphc lacks say why (frontend/ops/unsupported.py)
    raise unsupported.refuse(name, __all__)
