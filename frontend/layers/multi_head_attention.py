"""MultiHeadAttention (Keras 3): query, key and value projected per head by EinsumDense layers
named 'query', 'key' and 'value' (kernels (features, heads, key_dim)), scaled dot-product
attention over the sequence axes, and the heads merged by 'attention_output'. The attention
runs as gc.flash_attention (blocked: the (T, S) scores never held) unless the scores are
returned, dropout is drawn (training with dropout > 0) or a length is unknown; then as batched
GEMMs around gc.masked_softmax.

Called on several tensors (`mha(query, value, key=..., attention_mask=...)`), the layer packs
them into one dict so a functional model records, saves and replays every input.

Masks, as Keras 3 combines them: `query_mask` (batch, T), `value_mask` and `key_mask`
(batch, S) - each given, or else the Keras mask the input carries (`Embedding(mask_zero=True)`,
`Masking`) - are ANDed with `attention_mask` (batch, T, S) and the causal mask; the output
carries the query's mask. A query no key counts for (e.g. a padded one) attends uniformly to
all keys, as Keras 3's dot_product_attention; where Keras takes its masked Softmax layer
instead (scores returned, dropout > 0, several attention axes) its weights are zeros, here too.
"""

from __future__ import annotations

import math

import graphc as gc
from frontend.layers.arguments import positive_int
from frontend.layers.attention_scores import as_bool_mask, check_mask, flash_applies
from frontend.layers.base import Layer
from frontend.layers.core import Dropout
from frontend.layers.einsum_dense import EinsumDense
from frontend.layers.masks import get_keras_mask
from frontend.layers.weight_options import set_weight_options, weight_options_config
from frontend.quantizers.einsum import projections_quantization_config
from graphc.ir import user_site

_TENSOR_ARGUMENTS = (
    "query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask"
)
# Where each input's (batch, length) mask gains an axis to broadcast to (batch, T, S).
_SEQUENCE_MASK_AXES = {"query": -1, "value": -2, "key": -2}


class MultiHeadAttention(Layer):
    """Example: `MultiHeadAttention(num_heads=4, key_dim=32)(x, x, use_causal_mask=True)`."""

    # what model.quantize("int8") leaves float32 (frontend/quantizers/einsum.py)
    int8_float_part = ("the attention scores q k^T, their softmax and the weighted sum of values "
                       "stay float32; its query/key/value/output projections are int8")

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        self._projection_quantization = kwargs.pop("quantization", None) or {}  # int8 reload
        super().__init__(**kwargs)
        owner = "MultiHeadAttention"
        self.num_heads = positive_int(num_heads, "num_heads", owner)
        self.key_dim = positive_int(key_dim, "key_dim", owner)
        self.value_dim = positive_int(value_dim, "value_dim", owner) if value_dim else key_dim
        if not 0 <= dropout < 1:
            raise ValueError(f"{owner}: `dropout` must be in [0, 1). Received: dropout={dropout}")
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        self._output_shape = _optional_shape(output_shape)
        self.attention_axes = _optional_shape(attention_axes)
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )
        self._dropout_layer = Dropout(self.dropout, seed=seed)

    def __call__(self, query=None, value=None, key=None, query_mask=None, value_mask=None,
                 key_mask=None, attention_mask=None, **kwargs):
        if isinstance(query, dict) and value is None:  # a replayed or reloaded call
            return super().__call__(query, **kwargs)
        if query is None or value is None:
            raise TypeError(
                f"MultiHeadAttention '{self.name}': `query` and `value` are required "
                f"(at {user_site()})"
            )
        tensors = (query, value, key, query_mask, value_mask, key_mask, attention_mask)
        given = dict(zip(_TENSOR_ARGUMENTS, tensors))
        return super().__call__({k: v for k, v in given.items() if v is not None}, **kwargs)

    # ---- building ---------------------------------------------------------------------------

    def build(self, input_shape):
        query, value = input_shape["query"], input_shape["value"]
        key = input_shape.get("key", value)
        self._check_shapes(query, value, key)
        self._seq_axes = tuple(range(1, len(query) - 1))
        self._sequence_shapes = {name: tuple(shape[1:-1]) for name, shape in
                                 (("query", query), ("value", value), ("key", key))}
        self._check_attention_axes(len(query))
        heads = (self.num_heads, self.key_dim)
        self.query_dense = self._projection("query", query, heads)
        self.key_dense = self._projection("key", key, heads)
        self.value_dense = self._projection("value", value, (self.num_heads, self.value_dim))
        out = self._output_shape or (query[-1],)
        seq, letters = "bcdefg"[: len(query) - 2], "uvwxyz"[: len(out)]
        self.output_dense = self._dense(
            f"a{seq}hk,hk{letters}->a{seq}{letters}",
            (*query[1:-1], *out),
            letters if self.use_bias else None,
            "attention_output",
        )
        _build(self.output_dense, (*query[:-1], self.num_heads, self.value_dim))

    def _check_shapes(self, query, value, key):
        problem = None
        if len(query) < 3 or len(value) != len(query) or len(key) != len(query):
            problem = "query, value and key must have one rank, 3 or more"
        elif tuple(value[1:-1]) != tuple(key[1:-1]):
            problem = "value and key must have the same sequence shape"
        elif None in (query[-1], value[-1], key[-1]):
            problem = "the last (feature) axis of each input must be known"
        if problem:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': {problem}. Received: query_shape={query}, "
                f"value_shape={value}, key_shape={key} (at {user_site()})"
            )

    def _check_attention_axes(self, query_rank):
        if self.attention_axes is None:
            return
        rank = query_rank + 1  # the projected (batch, sequence..., heads, dim) tensors
        axes = tuple(sorted(a % (rank - 1) if a < 0 else a for a in self.attention_axes))
        if axes != self._seq_axes:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': only attention over all sequence axes "
                f"{self._seq_axes} is supported. Received: attention_axes={self.attention_axes} "
                f"for a query of rank {query_rank} (at {user_site()})"
            )

    def _dense(self, equation, output_shape, bias_axes, name):
        options = weight_options_config(self, "kernel", "bias")
        return EinsumDense(
            equation, output_shape, bias_axes=bias_axes, name=name, dtype=self.dtype,
            quantization=self._projection_quantization.get(name), **options
        )

    def _projection(self, name, shape, heads):
        """'abc,cde->abde' (one sequence axis), as Keras 3 names and shapes it."""
        seq = "bcdefg"[: len(shape) - 2]
        equation = f"a{seq}x,xyz->a{seq}yz"
        dense = self._dense(equation, (*shape[1:-1], *heads), "yz" if self.use_bias else None, name)
        _build(dense, shape)
        return dense

    # ---- calling ----------------------------------------------------------------------------

    def call(self, inputs, training=False, return_attention_scores=False, use_causal_mask=False):
        query, value = inputs["query"], inputs["value"]
        key = inputs.get("key", value)
        # the projections run as plain functions: the masks are this layer's to combine
        q, k, v = (dense.call(x) for dense, x in
                   ((self.query_dense, query), (self.key_dense, key), (self.value_dense, value)))
        mask = self._mask(inputs, q, k)
        heads = [self._flatten_sequence(t) for t in (q, k, v)]
        # Keras runs these through its masked Softmax layer, which zeroes keyless rows
        softmax_layer = return_attention_scores or self.dropout > 0 or q.ndim != 4
        keyless_rows = "zeros" if softmax_layer and mask is not None else "uniform"
        if keyless_rows == "zeros" or return_attention_scores or not flash_applies(
                heads, self.dropout, training):
            context, probabilities = self._attend(*heads, mask, use_causal_mask, training,
                                                  keyless_rows)
        else:  # blocked attention: the (T, S) scores are never held
            context = gc.transpose(gc.flash_attention(
                *heads, mask, scale=1.0 / math.sqrt(self.key_dim), causal=use_causal_mask
            ), (0, 2, 1, 3))
        seq_shape = tuple(-1 if d is None else d for d in query.shape[:-1])
        context = gc.reshape(context, seq_shape + (self.num_heads, self.value_dim))
        output = self.output_dense(context)
        return (output, probabilities) if return_attention_scores else output

    def _flatten_sequence(self, x):
        """(batch, seq..., heads, dim) as (batch, heads, seq, dim)."""
        if x.ndim > 4:  # several sequence axes attend as one
            x = gc.reshape(x, (-1, _length(x.shape[1:-2]), x.shape[-2], x.shape[-1]))
        return gc.transpose(x, (0, 2, 1, 3))

    def _attend(self, q, k, v, mask, causal, training, keyless_rows):
        """softmax(q k^T / sqrt(key_dim)) v per head (scale, mask and softmax in one kernel),
        dropout on the probabilities."""
        scores = gc.matmul(q, k, transpose_b=True)
        scale = 1.0 / math.sqrt(self.key_dim)
        probabilities = gc.masked_softmax(scores, mask, scale=scale, causal=causal,
                                          keyless_rows=keyless_rows)
        dropped = self._dropout_layer.call(probabilities, training=training)
        context = gc.matmul(dropped, v)  # (batch, heads, seq, value_dim)
        return gc.transpose(context, (0, 2, 1, 3)), probabilities

    def _mask(self, inputs, q, k):
        """(batch, 1, T, S), (batch, 1, 1, S) or (T, S) booleans or None: attention_mask ANDed
        with the query's, value's and key's masks (T and S the flattened sequence lengths)."""
        lengths = {"query": _length(q.shape[1:-2]), "value": _length(k.shape[1:-2])}
        lengths["key"] = lengths["value"]
        combined = inputs.get("attention_mask")
        if combined is not None:
            check_mask(self, combined, (q.shape[0], lengths["query"], lengths["key"]),
                       "attention_mask")
            combined = as_bool_mask(combined)
        for name, axis in _SEQUENCE_MASK_AXES.items():
            mask = self.input_mask(inputs, name)
            if mask is not None:
                mask = gc.expand_dims(self._sequence_mask(mask, name, q.shape[0], lengths), axis)
                combined = mask if combined is None else gc.logical_and(combined, mask)
        if combined is None:
            return None
        return gc.expand_dims(combined, 1) if combined.ndim == 3 else combined

    @staticmethod
    def input_mask(inputs, name):
        """The `<name>_mask` given to the call, or else the Keras mask `<name>` carries."""
        given = inputs.get(f"{name}_mask")
        return given if given is not None else get_keras_mask(inputs.get(name))

    def _sequence_mask(self, mask, name, batch, lengths):
        """An input's mask as (batch, length) booleans, its sequence axes flattened."""
        mask = gc.as_node(mask)
        check_mask(self, mask, (batch, *self._sequence_shapes[name]), f"{name}_mask")
        if mask.ndim > 2:
            mask = gc.reshape(mask, (-1, lengths[name]))
        return as_bool_mask(mask)

    def compute_mask(self, inputs, previous_mask):
        """As Keras 3: the output carries the query's mask (None for the scores)."""
        mask = self.input_mask(inputs, "query")
        return None if mask is None else as_bool_mask(mask)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            **weight_options_config(self, "kernel", "bias"),
            "seed": self.seed,
            **projections_quantization_config(self._sublayers()),
        }


def _build(layer, input_shape):
    layer.build(tuple(input_shape))
    layer.built = True


def _length(dims):
    return None if None in dims else math.prod(dims)


def _optional_shape(value):
    if value is None:
        return None
    return (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)
