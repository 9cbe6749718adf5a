"""Train an MNIST MLP, export it as a C library and classify the test digits from C.

    python examples/c_inference/export_mnist.py [--epochs 5] [--out out/c_inference]

Writes OUT/libmnist.so, libmnist.a, mnist.h and README.md (model.export(..., format="so")),
OUT/digits.f32 and OUT/labels.u8 (the test digits), builds OUT/c_inference from
c_inference.c with the system C compiler and runs it: the accuracy comes from C, with no
Python in the process. Uses the packaged 5,000 digits when offline.
"""

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np

from frontend.datasets import mnist
from frontend.layers import Dense, Input
from frontend.models import Sequential
from frontend.utils import set_random_seed, to_categorical

HERE = Path(__file__).resolve().parent


def train(epochs: int, x, y):
    set_random_seed(0)
    model = Sequential([Input((784,)), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")], name="mnist")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, to_categorical(y, 10), batch_size=100, epochs=epochs, verbose=0)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="out/c_inference")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    scale = lambda x: x.reshape(len(x), 784).astype("float32") / 255  # noqa: E731
    model = train(args.epochs, scale(x_train), y_train)
    model.export(out, format="so")
    scale(x_test).tofile(out / "digits.f32")
    y_test.astype(np.uint8).tofile(out / "labels.u8")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler on PATH (install gcc); the library is in " + str(out))
    program = out / "c_inference"
    subprocess.run([cc, str(HERE / "c_inference.c"), "-I", str(out), "-L", str(out), "-lmnist",
                    "-Wl,-rpath,$ORIGIN", "-lpthread", "-lm", "-o", str(program)], check=True)
    command = [str(program), str(out / "digits.f32"), str(out / "labels.u8"),
               str(out / "predictions.f32"), str(args.threads)]
    print("$ " + " ".join(command))
    subprocess.run(command, check=True)
    python = 100 * np.mean(model.predict(scale(x_test), verbose=0).argmax(1) == y_test)
    print(f"(model.evaluate-style accuracy in Python: {python:.2f}%)")


if __name__ == "__main__":
    main()
