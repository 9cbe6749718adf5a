"""Attention (Luong-style dot or concat scores) and AdditiveAttention (Bahdanau-style), with
Keras 3's arguments: called on `[query, value]` or `[query, value, key]`, optional
`mask=[query_mask, value_mask]`, `use_causal_mask`, `return_attention_scores`.

A call with masks packs inputs and masks into one dict, so a functional model records, saves and
replays the masks as inputs too.
"""

from __future__ import annotations

import graphc as gc
from frontend.layers.attention_scores import as_bool_mask, check_mask, flash_applies
from frontend.layers.base import Layer
from frontend.layers.core import Dropout
from graphc.ir import user_site


class Attention(Layer):
    """softmax(scores(query, key)) @ value. Example: `Attention()([query, value])`."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__}: `score_mode` must be 'dot' or 'concat'. "
                f"Received: score_mode={score_mode!r}"
            )
        if not 0 <= dropout < 1:
            raise ValueError(
                f"{type(self).__name__}: `dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed
        self._dropout_layer = Dropout(self.dropout, seed=seed)

    def __call__(self, inputs=None, mask=None, **kwargs):
        masks = dict(zip(("query_mask", "value_mask"), mask or ()))
        masks = {k: m for k, m in masks.items() if m is not None}
        return super().__call__({"inputs": inputs, **masks} if masks else inputs, **kwargs)

    def build(self, input_shape):
        shapes = input_shape["inputs"] if isinstance(input_shape, dict) else input_shape
        self._check_inputs(shapes)
        self.scale = self.add_weight((), "ones", name="scale") if self.use_scale else None
        self.concat_score_weight = (
            self.add_weight((), "ones", name="concat_score_weight")
            if self.score_mode == "concat"
            else None
        )

    def _check_inputs(self, shapes):
        problem = None
        if not isinstance(shapes, (list, tuple)) or len(shapes) not in (2, 3):
            problem = "it must be called on a list [query, value] or [query, value, key]"
        else:
            query, value, key = shapes[0], shapes[1], shapes[-1]
            if any(len(s) < 2 for s in shapes) or len(value) != len(key):
                problem = "query, value and key must have 2 or more axes, value and key one rank"
            elif tuple(value[:-1]) != tuple(key[:-1]) and None not in value[:-1] + key[:-1]:
                problem = "value and key must agree on all axes but the last"
            elif query[-1] != key[-1]:
                problem = "query and key must have the same last (feature) axis"
        if problem:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': {problem}. Received shapes: "
                f"{shapes} (at {user_site()})"
            )

    def call(self, inputs, training=False, return_attention_scores=False, use_causal_mask=False):
        masks = inputs if isinstance(inputs, dict) else {}
        tensors = inputs["inputs"] if isinstance(inputs, dict) else inputs
        query, value, key = tensors[0], tensors[1], tensors[-1]
        if not return_attention_scores and self._flash_applies(query, value, key, training):
            result, weights = self._flash(query, value, key, masks, use_causal_mask), None
        else:
            scores = self._scores(query, key)
            mask = self._value_mask(masks.get("value_mask"), key)
            weights = gc.masked_softmax(scores, mask, causal=use_causal_mask)
            weights = self._dropout_layer.call(weights, training=training)
            result = gc.matmul(weights, value)
        if masks.get("query_mask") is not None:
            query_mask = gc.cast(as_bool_mask(masks["query_mask"]), result.dtype)
            result = result * gc.expand_dims(query_mask, -1)
        return [result, weights] if return_attention_scores else result

    def _flash_applies(self, query, value, key, training):
        """Dot scores of (batch, length, dim) tensors: the blocked kernel serves the call."""
        if self.score_mode != "dot" or not query.ndim == value.ndim == key.ndim == 3:
            return False
        heads = [gc.expand_dims(t, 1) for t in (query, key, value)]
        return flash_applies(heads, self.dropout, training)

    def _flash(self, query, value, key, masks, causal):
        """softmax(query key^T) value as one head of gc.flash_attention (a learned scale
        multiplies the query: (s q) k^T = s (q k^T))."""
        if self.scale is not None:
            query = query * self.scale
        mask = self._value_mask(masks.get("value_mask"), key)
        heads = [gc.expand_dims(t, 1) for t in (query, key, value)]
        mask = None if mask is None else gc.expand_dims(mask, 1)
        context = gc.flash_attention(*heads, mask, causal=causal)
        return gc.reshape(context, (-1, query.shape[1], value.shape[2]))

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = gc.matmul(query, key, transpose_b=True)
            return scores * self.scale if self.scale is not None else scores
        pairs = gc.expand_dims(query, -2) + gc.expand_dims(key, -3)
        if self.scale is not None:
            pairs = pairs * self.scale
        return self.concat_score_weight * gc.sum(gc.tanh(pairs), axis=-1)

    def _value_mask(self, value_mask, key):
        """The (batch, Tv) mask as (batch, 1, Tv) booleans over the scores, or None."""
        if value_mask is None:
            return None
        check_mask(self, value_mask, key.shape[:-1], "value_mask")
        return gc.expand_dims(as_bool_mask(value_mask), -2)

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Scores sum(scale * tanh(query + key)) over the features, `scale` a learned vector."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)  # fixed, as in Keras 3
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        shapes = input_shape["inputs"] if isinstance(input_shape, dict) else input_shape
        self._check_inputs(shapes)
        features = shapes[0][-1]
        self.scale = (
            self.add_weight((features,), "glorot_uniform", name="scale") if self.use_scale else None
        )

    def _flash_applies(self, query, value, key, training):
        return False  # additive scores are no dot product: the blocked kernel cannot serve them

    def _scores(self, query, key):
        pairs = gc.tanh(gc.expand_dims(query, -2) + gc.expand_dims(key, -3))
        return gc.sum(pairs * self.scale if self.scale is not None else pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode")
        return config
