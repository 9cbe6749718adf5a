"""What the Keras-style example scripts share, kept out of their way: the command line (epochs,
backend, output folder, smoke mode, and --mixed-bfloat16 / --int8 where a script takes them),
the packaged MNIST digits scaled for a model, the check that a saved model reloads to the same
predictions, and the int8 evaluation after training.

Example scaffolding, not graphc API: each script imports it from its own folder, which Python
puts on the path when it runs `python examples/NAME.py`.
"""

import argparse
from pathlib import Path

import numpy as np

from frontend import mixed_precision
from frontend.datasets import mnist
from frontend.models import load_model
from frontend.utils import plot_model, set_random_seed, to_categorical

SMOKE_TEST_DIGITS = 100  # test digits of a smoke run


def example_arguments(doc: str, epochs: int, smoke_data: str) -> argparse.ArgumentParser:
    """--epochs, --backend, --out and --smoke; a script adds its own options before parsing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    parser.add_argument("--out", default="out", help="folder for what the example writes")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a quick run on {smoke_data} for one epoch (used by the tests)",
    )
    return parser


def output_folder(args) -> Path:
    """The --out folder, made if missing; also seeds the random generators so runs repeat."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    set_random_seed(0)
    return out


def load_digits(digit_shape: tuple, smoke_train: int | None = None):
    """MNIST digits as float32 in [0, 1], each of `digit_shape`, labels one-hot; with
    `smoke_train`, only that many training digits and SMOKE_TEST_DIGITS test digits."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if smoke_train:
        x_train, y_train = x_train[:smoke_train], y_train[:smoke_train]
        x_test, y_test = x_test[:SMOKE_TEST_DIGITS], y_test[:SMOKE_TEST_DIGITS]
    x_train = x_train.reshape(-1, *digit_shape).astype("float32") / 255
    x_test = x_test.reshape(-1, *digit_shape).astype("float32") / 255
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def check_reload(model, x, path: Path) -> None:
    """Save, load back, and check the reloaded model predicts exactly the same on `x`."""
    before = model.predict(x, verbose=0)
    model.save(path)
    after = load_model(path).predict(x, verbose=0)
    if not np.array_equal(before, after):
        raise SystemExit(
            f"the reloaded model predicts differently (max difference "
            f"{np.abs(before - after).max():.3g})"
        )
    print(f"saved to {path}; the reloaded model predicts the same")


def precision_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--mixed-bfloat16 and --int8, as the MNIST scripts take them."""
    parser.add_argument("--mixed-bfloat16", action="store_true",
                        help="float32 weights, bfloat16 GEMMs and activations (Keras 3 policy)")
    parser.add_argument("--int8", action="store_true", help="then quantize to int8, evaluate")
    return parser


def apply_precision(args) -> None:
    """Keras 3's global mixed_bfloat16 policy when --mixed-bfloat16 is given."""
    if args.mixed_bfloat16:
        mixed_precision.set_global_policy("mixed_bfloat16")


def evaluate_int8(model, x_test, y_test, float_accuracy, out: Path, name: str) -> float:
    """The trained model quantized to int8 in place (Keras 3's model.quantize), its accuracy,
    its layers drawn (int8 layers framed in green), and an int8 save/reload."""
    model.quantize("int8")
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    change = 100 * (accuracy - float_accuracy)
    print(f"int8 test accuracy {accuracy:.4f} ({change:+.2f} points against float32)")
    print("wrote", plot_model(model, to_file=str(out / f"{name}_int8.png"), show_shapes=True))
    check_reload(model, x_test, out / f"{name}_int8.zip")
    return accuracy
