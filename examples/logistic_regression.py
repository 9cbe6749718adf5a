"""Logistic regression, Theano style: placeholders, shared weights, gc.grad, a function with
updates, and a mini-batch loop. Classifies two classes of MNIST digits (0 vs 1) or, with
--synthetic, a generated problem.

    python examples/logistic_regression.py [--epochs 10] [--backend llvm|numpy] [--smoke]
"""

import argparse

import numpy as np

import graphc as gc


def load_digits():
    """0/1 digits as float32 rows in [0, 1], for training and for testing."""
    from frontend.datasets import mnist  # only for the data: the model below is graphc alone

    def zeros_and_ones(x, y):
        keep = y < 2
        return x[keep].reshape(-1, 784).astype("float32") / 255, y[keep].astype("float32")

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return zeros_and_ones(x_train, y_train), zeros_and_ones(x_test, y_test)


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
    if args.synthetic:
        train_set, test_set = synthetic(2000, rng), synthetic(500, rng)
    else:
        train_set, test_set = load_digits()
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
