"""Sequence classification with Conv1D (or an LSTM, or both combined), Keras style, on graphc.

The data are made here, so the script runs offline: length-40 signals of four shapes (sine,
square, sawtooth, triangle) with random frequency, phase and amplitude under Gaussian noise;
the task is to tell the shape. Models:

    conv1d      Conv1D(32, 5, relu, same) -> MaxPooling1D(2) -> Conv1D(64, 3, relu, same)
                -> GlobalAveragePooling1D -> Dense(4, softmax)
    lstm        LSTM(32) -> Dense(4, softmax)
    conv_lstm   Conv1D(32, 5, relu, same) -> MaxPooling1D(2) -> LSTM(32) -> Dense(4, softmax)

It trains with Adam, evaluates on held-out signals, saves and reloads the model, and fails if
the test accuracy ends below 90% (75% for the lone LSTM).

    python examples/conv1d_classifier.py [--model conv1d|lstm|conv_lstm] [--epochs 15]
                                         [--backend llvm|numpy] [--out out] [--smoke]
"""

import sys
import time

import numpy as np
from _common import check_reload, example_arguments, output_folder

from frontend.layers import LSTM, Conv1D, Dense, GlobalAveragePooling1D, Input, MaxPooling1D
from frontend.models import Sequential
from frontend.utils import to_categorical

STEPS, CLASSES = 40, ("sine", "square", "sawtooth", "triangle")
# Test accuracy each model must reach (a lone LSTM learns these shapes more slowly).
TARGET_ACCURACY = {"conv1d": 0.90, "conv_lstm": 0.90, "lstm": 0.75}


def parse_args():
    parser = example_arguments(__doc__, epochs=15, smoke_data="256 signals")
    parser.add_argument("--model", default="conv1d", choices=["conv1d", "lstm", "conv_lstm"])
    return parser.parse_args()


def make_signals(n: int, rng: np.random.Generator):
    """(n, STEPS, 1) float32 signals and their shape labels 0..3."""
    labels = rng.integers(0, len(CLASSES), n)
    t = np.arange(STEPS) / STEPS
    cycles = rng.uniform(1.5, 4.0, (n, 1)) * t + rng.uniform(0, 1, (n, 1))  # phase in cycles
    frac = cycles % 1.0
    shapes = np.stack(
        [
            np.sin(2 * np.pi * cycles),
            np.sign(np.sin(2 * np.pi * cycles)),
            2 * frac - 1,
            4 * np.abs(frac - 0.5) - 1,
        ]
    )
    signals = shapes[labels, np.arange(n)] * rng.uniform(0.8, 1.2, (n, 1))
    signals += rng.normal(0, 0.1, signals.shape)
    return signals[..., None].astype("float32"), labels


def build_model(kind: str):
    layers = [Input(shape=(STEPS, 1))]
    if kind in ("conv1d", "conv_lstm"):
        layers += [Conv1D(32, 5, activation="relu", padding="same"), MaxPooling1D(2)]
    if kind == "conv1d":
        layers += [Conv1D(64, 3, activation="relu", padding="same"), GlobalAveragePooling1D()]
    else:
        layers += [LSTM(32)]
    model = Sequential(layers + [Dense(len(CLASSES), activation="softmax")])
    model.summary()
    return model


def main():
    args = parse_args()
    out = output_folder(args)
    rng = np.random.default_rng(0)
    n_train, n_test = (256, 64) if args.smoke else (3000, 600)
    x_train, y_train = make_signals(n_train, rng)
    x_test, y_test = make_signals(n_test, rng)

    model = build_model(args.model)
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        backend=args.backend,
    )
    start = time.perf_counter()
    model.fit(
        x_train,
        to_categorical(y_train, 4),
        batch_size=64,
        epochs=1 if args.smoke else args.epochs,
        validation_split=0.1,
        verbose=2,
    )
    print(f"trained in {time.perf_counter() - start:.1f} s on the {args.backend} backend")

    loss, accuracy = model.evaluate(x_test, to_categorical(y_test, 4), verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    predicted = model.predict(x_test[:8], verbose=0).argmax(axis=1)
    print(
        "first eight test signals:",
        [CLASSES[k] for k in predicted],
        "- labelled",
        [CLASSES[k] for k in y_test[:8]],
    )
    check_reload(model, x_test, out / f"{args.model}_classifier.zip")
    if not args.smoke and accuracy < TARGET_ACCURACY[args.model]:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY[args.model]}")


if __name__ == "__main__":
    main()
