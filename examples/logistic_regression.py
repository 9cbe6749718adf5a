"""Logistic regression, Theano style: placeholders, shared weights, gc.grad, a function with
updates, and a mini-batch loop. Classifies two classes of MNIST digits (0 vs 1) or, with
--synthetic, a generated problem.

    python examples/logistic_regression.py [--epochs 10] [--backend llvm|numpy] [--smoke]
"""

import argparse
import gzip
import os

import numpy as np

import graphc as gc

MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist-5k")


def load_digits(kind: str):
    """0/1 digits from the IDX files, scaled to [0, 1]; None when the files are absent."""
    images = os.path.join(MNIST, f"{kind}-images-idx3-ubyte.gz")
    labels = os.path.join(MNIST, f"{kind}-labels-idx1-ubyte.gz")
    if not os.path.exists(images):
        return None
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    keep = y < 2
    return x[keep].astype("float32") / 255, y[keep].astype("float32")


def synthetic(n: int, rng):
    x = rng.standard_normal((n, 784)).astype("float32")
    w = rng.standard_normal(784).astype("float32")
    return x, (x @ w > 0).astype("float32")


def build(learning_rate: float, backend: str):
    x, y = gc.matrix("x"), gc.vector("y")
    w = gc.shared(np.zeros(784, "float32"), name="w")
    b = gc.shared(0.0, name="b")
    p = gc.sigmoid(gc.dot(x, w) + b)  # probability of class 1
    xent = -y * gc.log(p) - (1 - y) * gc.log(1 - p)
    cost = gc.mean(xent) + 0.01 * gc.sum(w**2)
    gw, gb = gc.grad(cost, [w, b])
    train = gc.function(
        [x, y],
        cost,
        backend=backend,
        updates=[(w, w - learning_rate * gw), (b, b - learning_rate * gb)],
    )
    predict = gc.function([x], p > 0.5, backend=backend)
    return train, predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny run for the tests")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    train_set, test_set = load_digits("train"), load_digits("t10k")
    if args.synthetic or train_set is None:
        train_set, test_set = synthetic(2000, rng), synthetic(500, rng)
    if args.smoke:
        train_set, test_set, args.epochs = (train_set[0][:300], train_set[1][:300]), test_set, 1
    train, predict = build(0.1, args.backend)
    x_train, y_train = train_set
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        costs = [
            train(x_train[batch], y_train[batch])
            for batch in np.array_split(order, max(1, len(order) // args.batch_size))
        ]
        print(f"epoch {epoch + 1}: cost {np.mean(costs):.4f}")
    accuracy = float(np.mean(predict(test_set[0]) == test_set[1]))
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
