"""MNIST with a multilayer perceptron: the Keras tutorial's model, end to end, on graphc.

Loads the digits, builds 784-500-500-10 (relu, relu, softmax), prints the summary, trains
with Adam on mini-batches of 100 (holding out 10% for validation), evaluates on the test
digits, predicts, saves and reloads the model (checking the predictions agree), and writes
into the output folder:

    model.png               the layers (frontend.utils.plot_model)
    train_step_fused.svg    the compiled training step after fusion, each kernel a cluster of
                            its ops (graphc.to_dot; with --backend numpy, the 'optimized'
                            stage: train_step_optimized.svg)
    train_step_kernels.svg  the same step, each kernel one box
    training.png            loss and accuracy per epoch (History.plot; needs matplotlib)
    mnist_mlp.zip           the saved model

Offline, mnist.load_data() uses the 5,000 digits shipped with graphc (4,000 train, 1,000 test).

    python examples/mnist_mlp.py [--epochs 20] [--backend llvm|numpy] [--out out] [--smoke]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import graphc as gc
from frontend.datasets import mnist
from frontend.layers import Dense, Input
from frontend.models import Sequential, load_model
from frontend.utils import plot_model, set_random_seed, to_categorical

TARGET_ACCURACY = 0.94  # on the 1,000 packaged test digits, after training on the 4,000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    parser.add_argument("--out", default="out", help="folder for the pictures and the model")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a quick run on 500 digits for one epoch (used by the tests)",
    )
    return parser.parse_args()


def load_digits(smoke: bool):
    """Images as float32 rows in [0, 1], labels one-hot."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if smoke:
        x_train, y_train, x_test, y_test = x_train[:400], y_train[:400], x_test[:100], y_test[:100]
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def build_model():
    model = Sequential(
        [
            Input(shape=(784,)),
            Dense(500, activation="relu"),
            Dense(500, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    return model


def save_and_reload(model, x, out: Path):
    """Save, load back, and check the reloaded model predicts exactly the same."""
    path = out / "mnist_mlp.zip"
    before = model.predict(x, verbose=0)
    model.save(path)
    after = load_model(path).predict(x, verbose=0)
    if not np.array_equal(before, after):
        raise SystemExit(
            f"the reloaded model predicts differently (max difference "
            f"{np.abs(before - after).max():.3g})"
        )
    print(f"saved to {path}; the reloaded model predicts the same")


def draw(model, history, out: Path):
    print("wrote", plot_model(model, to_file=str(out / "model.png"), show_shapes=True))
    train_step = model.train_function  # the graphc Function that fit compiled
    stage = train_step.stages[-1]  # 'fused' with the llvm backend
    step = gc.to_dot(train_step, stage=stage, show_constants=False)
    print("wrote", step.save(out / f"train_step_{stage}.svg"))
    if stage == "fused":  # the same step with each kernel as one box
        kernels = gc.to_dot(train_step, stage=stage, show_constants=False, collapse_kernels=True)
        print("wrote", kernels.save(out / "train_step_kernels.svg"))
    try:
        print("wrote", history.plot(str(out / "training.png")))
    except ImportError as err:  # matplotlib is an optional extra
        print(f"no training curves: {err}")


def main():
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(args.smoke)
    print(f"{len(x_train)} training and {len(x_test)} test digits")

    model = build_model()
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        backend=args.backend,
    )
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=100,
        epochs=1 if args.smoke else args.epochs,
        validation_split=0.1,
        verbose=2,
    )
    print(f"trained in {time.perf_counter() - start:.1f} s")

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    digits = model.predict(x_test[:10], verbose=0).argmax(axis=1)
    print(
        "first ten test digits predicted as",
        digits.tolist(),
        "- labelled",
        y_test[:10].argmax(axis=1).tolist(),
    )

    save_and_reload(model, x_test, out)
    draw(model, history, out)
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
