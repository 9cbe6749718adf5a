"""Functional API with two inputs joined by `concatenate`.

A toy "ticket triage" model: each sample has a numeric feature vector and a bag-of-tags vector;
the model predicts which of three queues handles the ticket. Each input gets its own Dense
branch, the branches are concatenated, and a softmax head classifies.

    python examples/functional_multi_input.py            # native code (llvm backend)
    python examples/functional_multi_input.py --smoke --backend numpy
"""

from __future__ import annotations

import argparse

import numpy as np

import frontend as keras
from frontend.layers import Dense, Dropout, Input, concatenate
from frontend.models import Model


def make_data(n: int, rng: np.random.Generator):
    """Queue = which of three hidden directions the two inputs point to, plus noise."""
    queues = rng.integers(0, 3, n)
    numeric = rng.normal(0, 1, (n, 12)) + 3.0 * np.eye(3, 12)[queues]
    tags = (rng.random((n, 20)) < 0.1).astype("float32")
    tags[np.arange(n), queues * 5] = 1.0  # each queue has a telltale tag
    return [numeric.astype("float32"), tags], queues


def build_model() -> Model:
    numeric_in = Input(shape=(12,), name="numeric")
    tags_in = Input(shape=(20,), name="tags")
    numeric = Dense(32, activation="relu")(numeric_in)
    tags = Dense(16, activation="relu")(tags_in)
    joined = concatenate([numeric, tags])
    hidden = Dropout(0.2)(Dense(32, activation="relu")(joined))
    queue = Dense(3, activation="softmax", name="queue")(hidden)
    return Model(inputs=[numeric_in, tags_in], outputs=queue, name="ticket_triage")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, one epoch")
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(42)
    rng = np.random.default_rng(42)
    n_train, n_test, epochs = (200, 50, 1) if args.smoke else (4000, 1000, 5)
    x_train, y_train = make_data(n_train, rng)
    x_test, y_test = make_data(n_test, rng)

    model = build_model()
    model.summary()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        backend=args.backend,
    )
    model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=epochs,
        validation_split=0.1,
        verbose=2 if args.smoke else 1,
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    return {"loss": loss, "accuracy": accuracy}


if __name__ == "__main__":
    main()
