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

With --int8 the trained model is then quantized (Keras 3's model.quantize("int8")), evaluated
again, drawn (mnist_mlp_int8.png, int8 layers framed in green) and saved/reloaded as int8
(mnist_mlp_int8.zip).

    python examples/mnist_mlp.py [--epochs 20] [--backend llvm|numpy] [--out out] [--smoke]
                                 [--mixed-bfloat16] [--int8]
"""

import sys
import time
from pathlib import Path

from _common import (
    apply_precision,
    check_reload,
    evaluate_int8,
    example_arguments,
    load_digits,
    output_folder,
    precision_arguments,
)

import graphc as gc
from frontend.layers import Dense, Input
from frontend.models import Sequential
from frontend.utils import plot_model

TARGET_ACCURACY = 0.94  # on the 1,000 packaged test digits, after training on the 4,000


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
    parser = example_arguments(__doc__, epochs=20, smoke_data="400 digits")
    args = precision_arguments(parser).parse_args()
    apply_precision(args)
    out = output_folder(args)
    # each image flattened into a row of 784 pixels
    (x_train, y_train), (x_test, y_test) = load_digits((784,), 400 if args.smoke else None)
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

    check_reload(model, x_test, out / "mnist_mlp.zip")
    draw(model, history, out)
    if args.int8:
        evaluate_int8(model, x_test, y_test, accuracy, out, "mnist_mlp")
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
