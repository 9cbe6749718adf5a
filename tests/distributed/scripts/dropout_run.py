"""Training with dropout and noise layers under DataParallel (or on one process without
mpiexec): prints rank 0's final weights per backend as JSON; checks every rank ends with the
same weights. The global batches (5 rows, then 6) split unevenly across 2 ranks.

argv: the backends to run ("llvm", "numpy").
"""

import json
import sys

import numpy as np

import frontend as keras
from frontend import distribution


def build(backend: str):
    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        keras.Input((4, 6)),
        keras.layers.Dropout(0.5),
        keras.layers.SpatialDropout1D(0.3),
        keras.layers.GaussianNoise(0.2),
        keras.layers.GaussianDropout(0.2),
        keras.layers.LSTM(3, dropout=0.3, recurrent_dropout=0.3),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", backend=backend)
    return model


def run(backend: str) -> list:
    distribution.set_distribution(distribution.DataParallel())
    model = build(backend)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(17, 4, 6)).astype("float32"), rng.normal(size=(17, 1)).astype("f4")
    model.train_on_batch(x[:5], y[:5])
    model.fit(x[5:], y[5:], batch_size=6, epochs=1, shuffle=False, verbose=0)
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    everyone = distribution.distribution().world.allgather(weights)
    assert all(np.array_equal(w, weights) for w in everyone), "ranks' weights differ"
    return weights.tolist()


if __name__ == "__main__":
    results = [run(backend) for backend in sys.argv[1:]]
    if distribution.distribution().process_id == 0:
        print(json.dumps(results), flush=True)
