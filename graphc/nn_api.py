"""Public functions for convolution, pooling, padding, upsampling and recurrences.

They take Keras-style arguments ('valid'/'same'/'causal' padding, int-or-tuple sizes,
strides defaulting to the pool size) and build the explicit-padding ops of
graphc.ops.conv, graphc.ops.pooling and graphc.ops.recurrent. Layout is channels_last:
(batch, length, channels) and (batch, height, width, channels).

Example:
    x = gc.placeholder((None, 28, 28, 1))
    k = gc.shared(np.zeros((3, 3, 1, 8), "float32"))
    y = gc.max_pool2d(gc.relu(gc.conv2d(x, k, padding="same")), 2)
"""

from __future__ import annotations

import numpy as np

from graphc.api import as_node, expand_dims, matmul, reshape
from graphc.ir import Node, ShapeError, user_site
from graphc.ops import make_node
from graphc.ops.conv import resolve_padding
from graphc.ops.leaves import constant_node

ALL = ("slice", None, None, None)


def as_tuple(value, rank: int, name: str) -> tuple:
    """An int or a sequence of `rank` ints as a tuple of positive ints (Keras's convention)."""
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(
            f"{name} must be a positive int or {rank} positive ints. Received: {name}={value!r} "
            f"(at {user_site()})"
        )
    return tuple(int(v) for v in values)


def spatial_padding(x, padding, kernel, strides, dilation, what) -> tuple:
    if not isinstance(padding, str):
        raise ValueError(f"{what}: padding must be a string. Received: padding={padding!r}")
    try:
        return resolve_padding(padding, x.shape[1:-1], kernel, strides, dilation)
    except ShapeError as err:
        raise ShapeError(f"{what}: {err}. Input shape {x.shape} (at {user_site()})") from None


# ---- convolution ------------------------------------------------------------------------------


def conv(x, kernel, strides=1, padding="valid", dilation_rate=1, rank=2) -> Node:
    x, kernel = as_node(x), as_node(kernel)
    if kernel.ndim != rank + 2:
        raise ShapeError(
            f"conv{rank}d: kernel must be (*kernel_size, in_channels, filters), got shape "
            f"{kernel.shape} (at {user_site()})"
        )
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    if x.ndim != rank + 2:
        raise ShapeError(
            f"conv{rank}d: input must be {rank + 2}-d (batch, *spatial, channels), got shape "
            f"{x.shape} (at {user_site()})"
        )
    pads = spatial_padding(x, padding, kernel.shape[:rank], strides, dilation, f"conv{rank}d")
    return make_node(
        f"conv{rank}d", [x, kernel], {"strides": strides, "dilation": dilation, "padding": pads}
    )


def conv1d(x, kernel, strides=1, padding="valid", dilation_rate=1) -> Node:
    """1-D convolution as Keras Conv1D: x (batch, length, cin), kernel (kw, cin, cout).

    padding: 'valid', 'same' or 'causal' (output t sees inputs <= t only).
    Example: `y = gc.conv1d(x, k, strides=2, padding="same")`
    """
    return conv(x, kernel, strides, padding, dilation_rate, rank=1)


def conv2d(x, kernel, strides=1, padding="valid", dilation_rate=1) -> Node:
    """2-D convolution as Keras Conv2D: x (batch, h, w, cin), kernel (kh, kw, cin, cout).

    Example: `y = gc.conv2d(x, k, strides=(2, 2), padding="same")`
    """
    return conv(x, kernel, strides, padding, dilation_rate, rank=2)


# ---- pooling ------------------------------------------------------------------------------------


def pool(kind, x, pool_size, strides, padding, rank) -> Node:
    x = as_node(x)
    if x.ndim != rank + 2:
        raise ShapeError(
            f"{kind}_pool{rank}d: input must be {rank + 2}-d (batch, *spatial, channels), got "
            f"shape {x.shape} (at {user_site()})"
        )
    size = as_tuple(pool_size, rank, "pool_size")
    strides = size if strides is None else as_tuple(strides, rank, "strides")
    pads = spatial_padding(x, padding, size, strides, (1,) * rank, f"{kind}_pool{rank}d")
    attrs = {"pool_size": size, "strides": strides, "padding": pads}
    return make_node(f"{kind}_pool{rank}d", [x], attrs)


def max_pool1d(x, pool_size=2, strides=None, padding="valid") -> Node:
    """Max pooling over the length axis (Keras MaxPooling1D); strides default to pool_size."""
    return pool("max", x, pool_size, strides, padding, 1)


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid") -> Node:
    """Max pooling over height and width (Keras MaxPooling2D); strides default to pool_size."""
    return pool("max", x, pool_size, strides, padding, 2)


def avg_pool1d(x, pool_size=2, strides=None, padding="valid") -> Node:
    """Average pooling (Keras AveragePooling1D); 'same' padding is left out of the average."""
    return pool("avg", x, pool_size, strides, padding, 1)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid") -> Node:
    """Average pooling (Keras AveragePooling2D); 'same' padding is left out of the average."""
    return pool("avg", x, pool_size, strides, padding, 2)


def global_avg_pool(x, keepdims=False) -> Node:
    """Mean over every spatial axis: (batch, *spatial, c) -> (batch, c)."""
    x = as_node(x)
    return make_node("mean", [x], {"axis": tuple(range(1, x.ndim - 1)), "keepdims": keepdims})


def global_max_pool(x, keepdims=False) -> Node:
    """Max over every spatial axis: (batch, *spatial, c) -> (batch, c)."""
    x = as_node(x)
    return make_node("max", [x], {"axis": tuple(range(1, x.ndim - 1)), "keepdims": keepdims})


# ---- padding and upsampling -------------------------------------------------------------------


def zero_pad(x, padding) -> Node:
    """Zero padding of the spatial axes: `padding` is one (before, after) pair per axis.

    Example: `gc.zero_pad(images, ((1, 1), (2, 2)))`
    """
    x = as_node(x)
    pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    return make_node("pad", [x], {"padding": pairs})


def upsample(x, size) -> Node:
    """Repeat every spatial position `size` times per axis (Keras UpSampling1D/2D, nearest).

    Built from a broadcast multiply by ones and a reshape, so it needs no op of its own.
    """
    x = as_node(x)
    rank = x.ndim - 2
    size = as_tuple(size, rank, "size")
    spatial = x.shape[1:-1]
    if None in spatial:
        raise ShapeError(f"upsample needs static spatial sizes, got {x.shape} (at {user_site()})")
    widened = expand_dims(x, tuple(2 + 2 * i for i in range(rank)))  # (b, n1, 1, n2, 1, c)
    ones_shape = (1,) + sum(((1, s) for s in size), ()) + (1,)
    repeated = widened * constant_node(np.ones(ones_shape), x.dtype)
    out = tuple(n * s for n, s in zip(spatial, size))
    return reshape(repeated, (-1,) + out + (x.shape[-1],))


# ---- recurrences ------------------------------------------------------------------------------


def project(x, W, b=None) -> Node:
    """x @ W (+ b) for every time step at once: one large matmul outside the recurrence."""
    x, W = as_node(x), as_node(W)
    if x.ndim != 3:
        raise ShapeError(
            f"recurrent input must be (batch, time, features), got {x.shape} (at {user_site()})"
        )
    steps = x.shape[1]
    if steps is None:
        return matmul(x, W) if b is None else matmul(x, W) + as_node(b)
    rows = matmul(reshape(x, (-1, x.shape[2])), W)
    rows = rows if b is None else rows + as_node(b)  # before the reshape: the GEMM's epilogue
    return reshape(rows, (-1, steps, W.shape[1]))


def zero_state(P, units) -> Node:
    """Zeros of shape (batch, units), with the batch size taken from P at run time."""
    like = make_node("getitem", [P], {"index": (ALL, ("int", 0), ("slice", 0, units, None))})
    return make_node("broadcast_like", [constant_node(np.zeros((1, units)), P.dtype), like])


def last_step(Y, start, stop) -> Node:
    return make_node("getitem", [Y], {"index": (ALL, ("int", -1), ("slice", start, stop, None))})


def all_steps(Y, start, stop) -> Node:
    return make_node("getitem", [Y], {"index": (ALL, ALL, ("slice", start, stop, None))})


def simple_rnn(x, W, U, b=None, h0=None, activation="tanh", mask=None):
    """Keras SimpleRNN: h_t = activation(x_t W + b + h_{t-1} U); where the bool (batch, time)
    `mask` is False the state is held (so are LSTM's and GRU's below).

    Returns (every h: (batch, time, units), last h: (batch, units)).
    """
    P = project(x, W, b)
    units = as_node(U).shape[0]
    h0 = zero_state(P, units) if h0 is None else as_node(h0)
    Y = make_node("simple_rnn_seq", [P, h0, as_node(U), *masks(mask)], {"activation": activation})
    return Y, last_step(Y, 0, units)


def lstm(x, W, U, b=None, h0=None, c0=None, mask=None):
    """Keras LSTM (gates i, f, c, o; sigmoid gates, tanh cell).

    W (features, 4u), U (u, 4u), b (4u,). Returns (every h, last h, last c).
    """
    P = project(x, W, b)
    units = as_node(U).shape[0]
    h0 = zero_state(P, units) if h0 is None else as_node(h0)
    c0 = zero_state(P, units) if c0 is None else as_node(c0)
    Y = make_node("lstm_seq", [P, h0, c0, as_node(U), *masks(mask)])
    return all_steps(Y, 0, units), last_step(Y, 0, units), last_step(Y, units, 2 * units)


def gru(x, W, U, b=None, h0=None, mask=None):
    """Keras 3 GRU with reset_after=True (gates z, r, h).

    W (features, 3u), U (u, 3u), b (2, 3u): row 0 the input bias, row 1 the recurrent bias
    (which the reset gate multiplies). Returns (every h, last h).
    """
    U = as_node(U)
    units = U.shape[0]
    if b is None:
        b = constant_node(np.zeros((2, 3 * units)), U.dtype)
    b = as_node(b)
    P = project(x, W, b[0])
    h0 = zero_state(P, units) if h0 is None else as_node(h0)
    Y = make_node("gru_seq", [P, h0, U, b[1], *masks(mask)])
    return all_steps(Y, 0, units), last_step(Y, 0, units)


def masks(mask) -> list:
    """The recurrent ops' optional last input: the mask as bool, or nothing."""
    if mask is None:
        return []
    mask = as_node(mask)
    return [mask if mask.dtype == "bool" else make_node("cast", [mask], {"dtype": "bool"})]


def reverse_time(x) -> Node:
    """x[:, ::-1]: the sequence read backwards (go_backwards)."""
    return make_node("getitem", [as_node(x)], {"index": (ALL, ("slice", None, None, -1))})


def unfold_like(x, like, axes=2) -> Node:
    """x (n, *rest) reshaped to (*like.shape[:axes], *rest), whatever like's run-time sizes:
    undoes `reshape(like, (-1, *like.shape[axes:]))` (as TimeDistributed folds time steps into
    the batch)."""
    return make_node("unfold_like", [as_node(x), as_node(like)], {"axes": int(axes)})


__all__ = [
    "avg_pool1d",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "global_avg_pool",
    "global_max_pool",
    "gru",
    "lstm",
    "max_pool1d",
    "max_pool2d",
    "reverse_time",
    "simple_rnn",
    "unfold_like",
    "upsample",
    "zero_pad",
]
