"""keras.ops' nn functions: activations (Keras 3's formulas, shared with
frontend/activations.py), softmax, log_softmax, one_hot, normalize and the crossentropies
(per sample, or per element for binary, as keras.ops computes them)."""

from __future__ import annotations

import graphc as gc
from frontend import activations, backend, losses
from frontend.ops.convert import float_operand, to_node
from frontend.ops.dispatch import op


def _activation(name: str, formula, doc: str):
    """The public op `name`: the activation `formula` on a float operand."""

    def fn(x, *args, **kwargs):
        return formula(float_operand(x), *args, **kwargs)

    fn.__name__, fn.__qualname__, fn.__doc__ = name, name, doc
    return op(name)(fn)


relu = _activation("relu", activations.relu, "max(x, 0).")
relu6 = _activation("relu6", activations.relu6, "min(max(x, 0), 6).")
sigmoid = _activation("sigmoid", activations.sigmoid, "1 / (1 + e**-x).")
silu = _activation("silu", activations.silu, "x * sigmoid(x).")
swish = silu
gelu = _activation("gelu", activations.gelu, "Gaussian error linear unit (approximate=False).")
elu = _activation("elu", activations.elu, "x if x > 0 else alpha * (e**x - 1).")
selu = _activation("selu", activations.selu, "Scaled exponential linear unit.")
softplus = _activation("softplus", activations.softplus, "log(1 + e**x).")
softsign = _activation("softsign", activations.softsign, "x / (1 + |x|).")
leaky_relu = _activation("leaky_relu", activations.leaky_relu, "x if x > 0 else slope * x.")
hard_sigmoid = _activation("hard_sigmoid", activations.hard_sigmoid, "relu6(x + 3) / 6.")
hard_silu = _activation("hard_silu", activations.hard_silu, "x * hard_sigmoid(x).")
hard_swish = hard_silu
log_sigmoid = _activation("log_sigmoid", activations.log_sigmoid, "log(sigmoid(x)).")
hard_tanh = _activation("hard_tanh", activations.hard_tanh, "x clipped to [-1, 1].")
mish = _activation("mish", activations.mish, "x * tanh(softplus(x)).")
celu = _activation("celu", activations.celu, "max(x, 0) + min(alpha * (e**(x/alpha) - 1), 0).")
tanh_shrink = _activation("tanh_shrink", activations.tanh_shrink, "x - tanh(x).")
squareplus = _activation("squareplus", activations.squareplus, "(x + sqrt(x**2 + b)) / 2.")
soft_shrink = _activation("soft_shrink", activations.soft_shrink, "x moved toward 0 by threshold.")
hard_shrink = _activation("hard_shrink", activations.hard_shrink, "x where |x| > threshold else 0.")
softmax = _activation("softmax", activations.softmax, "e**x normalised along `axis`.")
log_softmax = _activation("log_softmax", activations.log_softmax, "log(softmax(x)), stable.")


@op("glu")
def glu(x, axis=-1):
    """Gated linear unit: the first half of `axis` times the sigmoid of the second half."""
    x = float_operand(x)
    axis = axis % x.ndim
    half = x.shape[axis] // 2 if x.shape[axis] else None
    if half is None or x.shape[axis] % 2:
        raise ValueError(f"ops.glu: axis {axis} of {x.shape} must have an even, known length")
    lead = (slice(None),) * axis
    return x[lead + (slice(None, half),)] * gc.sigmoid(x[lead + (slice(half, None),)])


@op("one_hot")
def one_hot(x, num_classes, axis=-1, dtype=None):
    """Integer `x` as one-hot vectors of length `num_classes` (on the last axis)."""
    if axis not in (-1, to_node(x).ndim):
        raise ValueError(f"ops.one_hot: only axis=-1 is supported. Received: axis={axis!r}")
    return gc.one_hot(gc.cast(to_node(x), "int64"), num_classes, dtype=dtype or backend.floatx())


@op("normalize")
def normalize(x, axis=-1, order=2, epsilon=None):
    """`x` divided by its L1 (order=1) or L2 (order=2) norm along `axis`."""
    x = float_operand(x)
    if order not in (1, 2):
        raise ValueError(f"ops.normalize: order must be 1 or 2. Received: order={order!r}")
    if order == 1:
        norm = gc.sum(gc.abs(x), axis=axis, keepdims=True)
        return x / gc.maximum(norm, 1e-12 if epsilon is None else epsilon)
    squares = gc.sum(gc.square(x), axis=axis, keepdims=True)
    floor = 1e-12 if epsilon is None else epsilon
    return x / gc.sqrt(gc.maximum(squares, floor * floor))


TARGET_OUTPUT = ("target", "output")


@op("categorical_crossentropy", tensors=TARGET_OUTPUT)
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy of one-hot `target` and probabilities (or logits) `output`, per sample."""
    output = float_operand(output)
    return losses.categorical_crossentropy(to_node(target), output, from_logits, axis=axis)


@op("sparse_categorical_crossentropy", tensors=TARGET_OUTPUT)
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy of integer `target` classes and `output`, per sample."""
    output = float_operand(output)
    return losses.sparse_categorical_crossentropy(to_node(target), output, from_logits, axis)


@op("binary_crossentropy", tensors=TARGET_OUTPUT)
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy of `target` and probabilities (or logits) `output`."""
    output = float_operand(output)
    target = gc.cast(to_node(target), output.dtype)
    if from_logits:
        return gc.relu(output) - output * target + gc.softplus(-gc.abs(output))
    eps = backend.epsilon()
    p = gc.clip(output, eps, 1.0 - eps)
    return -(target * gc.log(p) + (1.0 - target) * gc.log(1.0 - p))
