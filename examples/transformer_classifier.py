"""A small Transformer text classifier on graphc: token + position embedding, two blocks of
MultiHeadAttention + LayerNormalization + feed-forward, global average pooling, a sigmoid.

The data are made here (the script runs offline) and need both attention and positions to
solve: each "sentence" is 24 random tokens from a vocabulary of 40 in which the marker tokens
1 and 2 occur exactly once each, at random places; the label says whether 1 comes before 2.
A bag of tokens cannot tell (both always occur); a model must relate the two positions.
It trains with Adam on the llvm backend, checks that the saved model reloads to the same
predictions, and fails if the held-out accuracy ends below 90% (chance is 50%).

With --mixed-bfloat16 it trains under Keras 3's "mixed_bfloat16" policy. With --int8 the
trained model is then quantized (model.quantize("int8")): the Dense layers and the attention's
query/key/value/output projections (EinsumDense) go int8, the attention scores, softmax and
embeddings stay float32 (the warning names them); it is evaluated again, drawn
(transformer_classifier_int8.png) and saved/reloaded as int8.

    python examples/transformer_classifier.py [--epochs 6] [--backend llvm|numpy] [--smoke]
                                              [--mixed-bfloat16] [--int8]
"""

import sys
import time

import numpy as np
from _common import (
    apply_precision,
    check_reload,
    evaluate_int8,
    example_arguments,
    output_folder,
    precision_arguments,
)

import graphc as gc
from frontend import layers
from frontend.models import Model

VOCAB, LENGTH, FIRST, SECOND = 40, 24, 1, 2
D_MODEL, HEADS, FEED_FORWARD = 32, 4, 64
TARGET_ACCURACY = 0.90


class TokenAndPositionEmbedding(layers.Layer):
    """Token embedding plus a learned embedding of each position (0 .. length - 1)."""

    def __init__(self, length, vocab_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.length, self.vocab_size, self.dim = length, vocab_size, dim
        self.tokens = layers.Embedding(vocab_size, dim)
        self.positions = layers.Embedding(length, dim)

    def call(self, inputs):
        positions = gc.constant(np.arange(self.length, dtype="int32"))
        return self.tokens(inputs) + self.positions(positions)

    def get_config(self):
        sizes = {"length": self.length, "vocab_size": self.vocab_size, "dim": self.dim}
        return {**super().get_config(), **sizes}


def transformer_block(x, index: int):
    """Post-norm block: x + attention, normalized; then + feed-forward, normalized."""
    attended = layers.MultiHeadAttention(HEADS, D_MODEL // HEADS, name=f"attention_{index}")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
    hidden = layers.Dense(FEED_FORWARD, activation="relu")(x)
    return layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, layers.Dense(D_MODEL)(hidden)]))


def build_model():
    tokens = layers.Input(shape=(LENGTH,), dtype="int32")
    x = TokenAndPositionEmbedding(LENGTH, VOCAB, D_MODEL)(tokens)
    for index in range(2):
        x = transformer_block(x, index)
    x = layers.GlobalAveragePooling1D()(x)
    return Model(tokens, layers.Dense(1, activation="sigmoid")(x))


def make_sentences(n: int, rng: np.random.Generator):
    """(n, LENGTH) int32 tokens and (n, 1) labels: 1 where token FIRST precedes token SECOND."""
    tokens = rng.integers(SECOND + 1, VOCAB, (n, LENGTH)).astype("int32")
    places = np.argsort(rng.random((n, LENGTH)), axis=1)[:, :2]
    rows = np.arange(n)
    tokens[rows, places[:, 0]] = FIRST
    tokens[rows, places[:, 1]] = SECOND
    return tokens, (places[:, 0] < places[:, 1]).astype("float32")[:, None]


def main():
    parser = example_arguments(__doc__, epochs=6, smoke_data="512 sentences")
    args = precision_arguments(parser).parse_args()
    apply_precision(args)
    out = output_folder(args)
    rng = np.random.default_rng(0)
    n_train, n_test = (512, 128) if args.smoke else (8000, 1000)
    x_train, y_train = make_sentences(n_train, rng)
    x_test, y_test = make_sentences(n_test, rng)

    model = build_model()
    model.summary()
    model.compile(
        optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], backend=args.backend
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=1 if args.smoke else args.epochs, verbose=2)
    print(f"trained in {time.perf_counter() - start:.1f} s on the {args.backend} backend")
    held_out = float(((model.predict(x_test, verbose=0) > 0.5) == (y_test > 0.5)).mean())
    print(f"held-out accuracy {held_out:.4f} (chance 0.5)")
    check_reload(model, x_test[:64], out / "transformer_classifier.zip")
    if args.int8:
        evaluate_int8(model, x_test, y_test, held_out, out, "transformer_classifier")
    if not args.smoke and held_out < TARGET_ACCURACY:
        sys.exit(f"held-out accuracy {held_out:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
