"""Keras 2's backend math (`from frontend import backend as K; K.sum(x, axis=1)`), with Keras
2.3's signatures and defaults, on frontend.ops: each works on NumPy arrays, graph nodes and
symbolic KerasTensors. frontend.backend loads these names on first use.
"""

from __future__ import annotations

import builtins

import numpy as np

import graphc as gc
from frontend import ops
from frontend import random as frandom
from frontend.backend import default_backend
from frontend.layers.tensor import KerasTensor
from frontend.models import Model
from frontend.ops.convert import standard_array, to_node
from frontend.ops.dispatch import op
from frontend.variables import variable as frontend_variable
from graphc.ir import Node, user_site

# Same meaning and signature as in keras.ops.
sum, mean, max, min, prod = ops.sum, ops.mean, ops.max, ops.min, ops.prod  # noqa: A001
std, var, any, all = ops.std, ops.var, ops.any, ops.all  # noqa: A001
square, sqrt, abs, exp, log, sign = ops.square, ops.sqrt, ops.abs, ops.exp, ops.log, ops.sign  # noqa: A001
maximum, minimum, equal, not_equal = ops.maximum, ops.minimum, ops.equal, ops.not_equal
greater, greater_equal, less, less_equal = ops.greater, ops.greater_equal, ops.less, ops.less_equal
cast, reshape, transpose, stack, tile = ops.cast, ops.reshape, ops.transpose, ops.stack, ops.tile
softmax, relu_, sigmoid, tanh = ops.softmax, ops.relu, ops.sigmoid, ops.tanh
elu, softplus, softsign, hard_sigmoid = ops.elu, ops.softplus, ops.softsign, ops.hard_sigmoid
categorical_crossentropy = ops.categorical_crossentropy
sparse_categorical_crossentropy = ops.sparse_categorical_crossentropy
binary_crossentropy = ops.binary_crossentropy
shape, ndim, dtype, stop_gradient = ops.shape, ops.ndim, ops.dtype, ops.stop_gradient
ones_like, zeros_like, one_hot = ops.ones_like, ops.zeros_like, ops.one_hot
sin, cos, round = ops.sin, ops.cos, ops.round  # noqa: A001


def arange(start, stop=None, step=1, dtype="int32"):
    """Evenly spaced numbers in [start, stop) (Keras 2 default dtype int32)."""
    return ops.arange(start, stop, step, dtype=dtype)


def cumsum(x, axis=0):
    """Running sum along `axis` (Keras 2 default: the first)."""
    return ops.cumsum(x, axis=axis)


def bias_add(x, bias, data_format=None):
    """`x` plus `bias` on its last (channels) axis."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"K.bias_add: only channels_last. Received: data_format={data_format!r}")
    return ops.add(x, bias)


def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """1-D convolution, channels last."""
    return ops.conv(x, kernel, strides, padding, data_format, dilation_rate)


def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    """2-D convolution, channels last."""
    return ops.conv(x, kernel, strides, padding, data_format, dilation_rate)


def argmax(x, axis=-1):
    """Index of the largest element along `axis` (Keras 2 default: the last)."""
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1):
    """Index of the smallest element along `axis` (Keras 2 default: the last)."""
    return ops.argmin(x, axis=axis)


def pow(x, a):  # noqa: A001
    """Elementwise x ** a."""
    return ops.power(x, a)


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Keras 2's relu with leak `alpha`, cap `max_value` and `threshold`."""
    if alpha == 0.0 and max_value is None and threshold == 0.0:
        return relu_(x)
    return ops.relu(x, negative_slope=alpha, max_value=max_value, threshold=threshold)


def clip(x, min_value, max_value):
    """`x` limited to [min_value, max_value]."""
    return ops.clip(x, min_value, max_value)


def int_shape(x) -> tuple:
    """The static shape, None for sizes known only at run time."""
    return tuple(x.shape) if isinstance(x, (Node, KerasTensor)) else tuple(np.shape(x))


def concatenate(tensors, axis=-1):
    """`tensors` joined along `axis` (Keras 2 default: the last)."""
    return ops.concatenate(tensors, axis=axis)


def expand_dims(x, axis=-1):
    """`x` with a new axis of length 1 at `axis` (Keras 2 default: the last)."""
    return ops.expand_dims(x, axis)


def squeeze(x, axis):
    """`x` without its axis `axis` of length 1."""
    return ops.squeeze(x, axis)


def permute_dimensions(x, pattern):
    """`x` with its axes in the order `pattern`."""
    return ops.transpose(x, tuple(pattern))


def flatten(x):
    """`x` as one vector."""
    return ops.reshape(x, (-1,))


def batch_flatten(x):
    """`x` as (batch, everything else)."""
    size = int(np.prod([d for d in int_shape(x)[1:]]))
    return ops.reshape(x, (-1, size))


def repeat_elements(x, rep, axis):
    """Each slice of `x` along `axis` repeated `rep` times."""
    return ops.repeat(x, rep, axis=axis)


def gather(reference, indices):
    """Rows of `reference` at integer `indices`."""
    return ops.take(reference, indices, axis=0)


def l2_normalize(x, axis=None):
    """`x` divided by its L2 norm over `axis` (all axes when None)."""
    return ops.normalize(x, axis=axis, order=2)


def dot(x, y):
    """Keras 2's dot: the last axis of x with the second-to-last of y (numpy.dot)."""
    return ops.dot(x, y)


def switch(condition, then_expression, else_expression):
    """`then_expression` where `condition` holds, else `else_expression` (callables are
    called first, as Keras 2 allows)."""
    then_value = then_expression() if callable(then_expression) else then_expression
    else_value = else_expression() if callable(else_expression) else else_expression
    return ops.where(condition, then_value, else_value)


@op("batch_dot", tensors=("x", "y"))
def batch_dot(x, y, axes=None):
    """Keras 2's batch_dot for ranks 2 and 3: per sample, the dot of x's and y's `axes`
    (default: x's last with y's second-to-last, or last for a matrix y)."""
    x, y = to_node(x), to_node(y)
    if x.ndim not in (2, 3) or y.ndim not in (2, 3):
        raise ValueError(
            f"K.batch_dot supports inputs of rank 2 or 3. Received: x of shape {x.shape}, "
            f"y of shape {y.shape}; use ops.einsum for others (at {user_site()})"
        )
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 2 if y.ndim == 3 else y.ndim - 1)
    ax, ay = (axes, axes) if isinstance(axes, int) else tuple(axes)
    ax, ay = ax % x.ndim, ay % y.ndim
    if x.ndim == 2 and y.ndim == 2:
        return gc.sum(x * y, axis=1, keepdims=True)
    left = x if x.ndim == 2 else gc.transpose(x, [0, 3 - ax, ax]) if ax != 2 else x
    right = y if y.ndim == 2 else gc.transpose(y, [0, ay, 3 - ay]) if ay != 1 else y
    if x.ndim == 2:
        return gc.matmul(gc.expand_dims(left, 1), right)[:, 0]
    if y.ndim == 2:
        return gc.matmul(left, gc.expand_dims(right, 2))[:, :, 0]
    return gc.matmul(left, right)


def ones(shape, dtype=None, name=None):
    """A tensor of ones (a NumPy array outside a graph)."""
    return ops.ones(shape, dtype=dtype)


def zeros(shape, dtype=None, name=None):
    """A tensor of zeros (a NumPy array outside a graph)."""
    return ops.zeros(shape, dtype=dtype)


def eye(size, dtype=None, name=None):
    """The identity matrix."""
    return ops.eye(size, dtype=dtype)


def variable(value, dtype=None, name=None, constraint=None):
    """A shared variable holding `value` (floats in floatx)."""
    if constraint is not None:
        raise ValueError(f"K.variable: constraints are not supported. Received: {constraint!r}")
    return frontend_variable(standard_array(value, dtype), name=name)


def constant(value, dtype=None, shape=None, name=None):
    """A constant node holding `value` (broadcast to `shape` when given)."""
    array = standard_array(value, dtype)
    if shape is not None:
        array = np.broadcast_to(array, tuple(shape)).copy()
    return gc.constant(array)


def placeholder(shape=None, ndim=None, dtype=None, name=None):
    """A graph input of `shape` (None for sizes known at run time) for gc.function."""
    if shape is None:
        if ndim is None:
            raise ValueError("K.placeholder needs shape or ndim")
        shape = (None,) * ndim
    return gc.placeholder(shape, dtype or "float32", name=name)


def eval(x):  # noqa: A001
    """The value of a variable or constant expression, as NumPy."""
    if hasattr(x, "get_value"):
        return x.get_value()
    if isinstance(x, Node):
        return gc.function([], x, backend="numpy")()
    return np.asarray(x)


def batch_get_value(xs) -> list:
    """The values of several variables."""
    return [eval(x) for x in xs]


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normally distributed numbers (see frontend.random.normal)."""
    return frandom.normal(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform numbers in [minval, maxval) (see frontend.random.uniform)."""
    return frandom.uniform(shape, minval=minval, maxval=maxval, dtype=dtype, seed=seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal numbers within two standard deviations (see frontend.random)."""
    return frandom.truncated_normal(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    """A variable initialised with normal numbers."""
    return variable(random_normal(shape, mean, scale, dtype, seed), dtype, name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    """A variable initialised with uniform numbers."""
    return variable(random_uniform(shape, low, high, dtype, seed), dtype, name)


def set_learning_phase(value) -> None:
    """Keras 2's global train/test switch: 0 (inference) is what predict and evaluate use
    anyway; 1 is refused, since fit alone decides when layers run in training mode."""
    if value not in (0, False):
        raise ValueError(
            f"K.set_learning_phase({value!r}) is not supported: graphc runs layers in training "
            f"mode inside fit only; call layers with training=True for that (at {user_site()})"
        )


def is_keras_tensor(x) -> bool:
    """True for the symbolic tensors of the functional API."""
    return isinstance(x, KerasTensor)


def count_params(x) -> int:
    """The number of elements of a variable."""
    return int(np.prod(x.shape))


def function(inputs, outputs, updates=None, name=None):
    """Keras 2's K.function: a callable from a list of input arrays to a list of output
    arrays. On KerasTensors (`K.function([model.input], [layer.output])`) it runs the part of
    the model between them; on graph placeholders it compiles a graphc function (with
    `updates`) for the default backend."""
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if builtins.all(isinstance(t, KerasTensor) for t in inputs + outputs):
        if updates:
            raise ValueError("K.function: updates need graph placeholders, not KerasTensors")
        model = Model(inputs, outputs, name=name)
        run = lambda arrays: model.predict_on_batch(list(arrays))  # noqa: E731
    else:
        compiled = gc.function(inputs, outputs, updates=updates or [], backend=default_backend())
        run = lambda arrays: compiled(*arrays)  # noqa: E731

    def call(arrays):
        results = run(arrays)
        results = results if isinstance(results, (list, tuple)) else [results]
        return results[0] if single else list(results)

    return call
