"""Preprocessing layers that compile into the model (Keras 3 names and defaults): Rescaling,
Normalization (given mean/variance, or learned from data with `adapt`) and CategoryEncoding
(one_hot, multi_hot, count)."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from graphc.ir import user_site


class Rescaling(Layer):
    """inputs * scale + offset (integer inputs are cast to the layer's float dtype first).

    Example: `Rescaling(1.0 / 255)` maps pixel values to [0, 1].
    """

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = gc.cast(inputs, self.dtype)
        return inputs * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """(inputs - mean) / sqrt(variance), with one mean and variance per position of the kept
    `axis` (default -1: per feature); `invert=True` maps back.

    Give `mean` and `variance`, or call `adapt(data)` before training to compute them (they
    are then non-trainable weights named mean and variance, saved with the model).
    Example: `norm = Normalization(); norm.adapt(x_train); model = Sequential([norm, ...])`
    """

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            self.axis = ()
        else:
            self.axis = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: give both `mean` and `variance`, or neither (then call "
                f"adapt()). Received: mean={mean!r}, variance={variance!r}"
            )
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)
        self.input_rank = None

    def kept_axes(self, rank: int) -> tuple:
        axes = tuple(a % rank for a in self.axis)
        if any(a == 0 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(
                f"Normalization '{self.name}': `axis` must name distinct non-batch axes of "
                f"rank-{rank} inputs. Received: axis={self.axis}"
            )
        return tuple(sorted(axes))

    def statistics_shape(self, input_shape) -> tuple:
        """Per input axis: its size where kept, else 1 (what mean and variance broadcast as)."""
        kept = self.kept_axes(len(input_shape))
        shape = tuple(input_shape[a] if a in kept else 1 for a in range(len(input_shape)))
        if None in shape:
            raise ValueError(
                f"Normalization '{self.name}': the kept axes {kept} need known sizes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return shape

    def build(self, input_shape):
        shape = self.statistics_shape(input_shape)
        self.input_rank = len(input_shape)
        if self.input_mean is not None:
            self.mean = gc.constant(self.broadcast(self.input_mean, shape, "mean"))
            self.variance = gc.constant(self.broadcast(self.input_variance, shape, "variance"))
            return
        self.mean = self.add_weight(shape[1:], "zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape[1:], "ones", trainable=False, name="variance")

    def broadcast(self, value, shape, name):
        try:
            return np.broadcast_to(np.asarray(value, self.dtype), shape).copy()
        except ValueError:
            raise ValueError(
                f"Normalization '{self.name}': `{name}` of shape {np.shape(value)} does not "
                f"broadcast to the statistics shape {shape}"
            ) from None

    def adapt(self, data) -> None:
        """Set mean and variance from `data` (an array of samples, batch axis first)."""
        data = np.asarray(data, dtype="float64")
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization '{self.name}' was given mean and variance; adapt() would "
                f"replace them. Create it without them to adapt."
            )
        if not self.built:
            self._maybe_build(gc.constant(data[:1].astype(self.dtype)))
        if data.ndim != self.input_rank:
            raise ValueError(
                f"Normalization '{self.name}'.adapt: data of rank {self.input_rank} expected "
                f"(batch first). Received: data.shape={data.shape}"
            )
        kept = self.kept_axes(data.ndim)
        reduced = tuple(a for a in range(data.ndim) if a not in kept)
        self.mean.set_value(data.mean(axis=reduced, keepdims=True)[0].astype(self.dtype))
        self.variance.set_value(data.var(axis=reduced, keepdims=True)[0].astype(self.dtype))

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = gc.cast(inputs, self.dtype)
        scale = gc.maximum(gc.sqrt(self.variance), backend.epsilon())
        if self.invert:
            return self.mean + inputs * scale
        return (inputs - self.mean) / scale

    def get_config(self):
        def listed(value):
            return None if value is None else np.asarray(value).tolist()

        return {
            **super().get_config(),
            "axis": self.axis[0] if len(self.axis) == 1 else list(self.axis),
            "mean": listed(self.input_mean),
            "variance": listed(self.input_variance),
            "invert": self.invert,
        }


OUTPUT_MODES = ("one_hot", "multi_hot", "count")


class CategoryEncoding(Layer):
    """Integer tokens in [0, num_tokens) to vectors of length num_tokens: `one_hot` (each
    token), `multi_hot` (1 where a token of the sample occurs) or `count` (how often; with
    `count_weights`, their sum). Inputs: (batch,) or (batch, tokens).

    Example: `CategoryEncoding(num_tokens=4, output_mode="multi_hot")`
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = positive_int(num_tokens, "num_tokens", "CategoryEncoding")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"CategoryEncoding: `output_mode` must be one of {OUTPUT_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        if sparse:
            raise ValueError("CategoryEncoding: sparse outputs are not supported. Received: "
                             "sparse=True")
        self.output_mode, self.sparse = output_mode, False

    def call(self, inputs, count_weights=None):
        if inputs.ndim not in (1, 2):
            raise ValueError(
                f"CategoryEncoding '{self.name}' expects inputs of rank 1 or 2. "
                f"Received: input_shape={inputs.shape} (at {user_site()})"
            )
        if inputs.dtype not in ("int32", "int64"):
            inputs = gc.cast(inputs, "int32")
        if self.output_mode == "one_hot":
            if inputs.ndim == 2 and inputs.shape[1] == 1:
                inputs = inputs[:, 0]
            return gc.one_hot(inputs, self.num_tokens, dtype=self.dtype)
        if inputs.ndim == 1:
            inputs = gc.expand_dims(inputs, 1)
        hot = gc.one_hot(inputs, self.num_tokens, dtype=self.dtype)  # (batch, tokens, n)
        if self.output_mode == "multi_hot":
            return gc.max(hot, axis=1)
        if count_weights is not None:
            weights = gc.cast(gc.as_node(count_weights), self.dtype)
            hot = hot * gc.expand_dims(gc.reshape(weights, (-1, inputs.shape[1])), 2)
        return gc.sum(hot, axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": False,
        }


__all__ = ["Rescaling", "Normalization", "CategoryEncoding"]
