"""MNIST with a small convnet: Keras's "Simple MNIST convnet" example, end to end, on graphc.

Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) ->
Flatten -> Dropout(0.5) -> Dense(10, softmax), trained with Adam on mini-batches of 128
(10% held out for validation), then evaluated on the test digits, saved and reloaded.

Offline, mnist.load_data() gives the 5,000 digits shipped with graphc: 4,000 to train on and
1,000 to test on; the script fails if the test accuracy ends below 95%.

    python examples/mnist_cnn.py [--epochs 15] [--backend llvm|numpy] [--out out] [--smoke]
                                 [--mixed-bfloat16]
"""

import sys
import time

from _common import check_reload, example_arguments, load_digits, output_folder

from frontend import mixed_precision
from frontend.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from frontend.models import Sequential

TARGET_ACCURACY = 0.95  # on the 1,000 packaged test digits, after training on the 4,000


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


def main():
    parser = example_arguments(__doc__, epochs=15, smoke_data="300 digits")
    parser.add_argument("--mixed-bfloat16", action="store_true",
                        help="float32 weights, bfloat16 convolutions, GEMMs and activations")
    args = parser.parse_args()
    if args.mixed_bfloat16:
        mixed_precision.set_global_policy("mixed_bfloat16")
    out = output_folder(args)
    # channels_last images, as Keras: (n, 28, 28, 1)
    (x_train, y_train), (x_test, y_test) = load_digits((28, 28, 1), 300 if args.smoke else None)
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
    check_reload(model, x_test[:200], out / "mnist_cnn.zip")
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
