"""fit, evaluate and train_on_batch under DataParallel (or on one process without mpiexec):
prints rank 0's final weights, history and results as JSON; checks every rank ends with the
same weights.

argv: a JSON list of runs, each [optimizer name, backend, global batch size, number of samples
(, gradient buckets)]; prints a JSON list of their results.
"""

import json
import sys

import numpy as np

import frontend as keras
from frontend import distribution

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
}


def build(optimizer: str, backend: str):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((7,)),
        keras.layers.Dense(16, activation="tanh", kernel_regularizer=keras.regularizers.l2(1e-3)),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=OPTIMIZERS[optimizer](), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], backend=backend)
    return model


def data(samples: int):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(samples, 7)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1)
    return x, y


def run(optimizer, backend, batch_size, samples, buckets=1) -> dict:
    distribution.set_distribution(distribution.DataParallel(gradient_buckets=buckets))
    model = build(optimizer, backend)
    x, y = data(samples)
    history = model.fit(x, y, batch_size=batch_size, epochs=3, validation_split=0.25, verbose=0)
    evaluated = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    on_batch = model.train_on_batch(x[:batch_size], y[:batch_size])
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    everyone = distribution.distribution().world.allgather(weights)
    assert all(np.array_equal(w, weights) for w in everyone), "ranks' weights differ"
    return {"weights": weights.tolist(), "history": history.history, "evaluate": evaluated,
            "train_on_batch": on_batch}


if __name__ == "__main__":
    results = [run(*config) for config in json.loads(sys.argv[1])]
    if distribution.distribution().process_id == 0:
        print(json.dumps(results))
