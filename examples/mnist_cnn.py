"""MNIST with a small convnet: Keras's "Simple MNIST convnet" example, end to end, on graphc.

Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) ->
Flatten -> Dropout(0.5) -> Dense(10, softmax), trained with Adam on mini-batches of 128
(10% held out for validation), then evaluated on the test digits, saved and reloaded.

Offline, mnist.load_data() gives the 5,000 digits shipped with graphc: 4,000 to train on and
1,000 to test on; the script fails if the test accuracy ends below 95%.

    python examples/mnist_cnn.py [--epochs 15] [--backend llvm|numpy] [--out out] [--smoke]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from frontend.datasets import mnist
from frontend.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from frontend.models import Sequential, load_model
from frontend.utils import set_random_seed, to_categorical

TARGET_ACCURACY = 0.95  # on the 1,000 packaged test digits, after training on the 4,000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    parser.add_argument("--out", default="out", help="folder for the saved model")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a quick run on 300 digits for one epoch (used by the tests)",
    )
    return parser.parse_args()


def load_digits(smoke: bool):
    """Images as (n, 28, 28, 1) float32 in [0, 1] (channels_last, as Keras), labels one-hot."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if smoke:
        x_train, y_train, x_test, y_test = x_train[:300], y_train[:300], x_test[:100], y_test[:100]
    x_train = x_train[..., None].astype("float32") / 255
    x_test = x_test[..., None].astype("float32") / 255
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def build_model():
    model = Sequential(
        [
            Input(shape=(28, 28, 1)),
            Conv2D(32, kernel_size=(3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)),
            Conv2D(64, kernel_size=(3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)),
            Flatten(),
            Dropout(0.5),
            Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    return model


def save_and_reload(model, x, out: Path):
    """Save, load back, and check the reloaded model predicts exactly the same."""
    path = out / "mnist_cnn.zip"
    before = model.predict(x, verbose=0)
    model.save(path)
    after = load_model(path).predict(x, verbose=0)
    if not np.array_equal(before, after):
        raise SystemExit(
            f"the reloaded model predicts differently (max difference "
            f"{np.abs(before - after).max():.3g})"
        )
    print(f"saved to {path}; the reloaded model predicts the same")


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
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=1 if args.smoke else args.epochs,
        validation_split=0.1,
        verbose=2,
    )
    print(f"trained in {time.perf_counter() - start:.1f} s on the {args.backend} backend")

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    save_and_reload(model, x_test[:200], out)
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
