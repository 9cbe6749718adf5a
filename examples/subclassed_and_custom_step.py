"""MNIST with a subclassed model and its own training step (keras.io's "customizing what
happens in fit", with only the imports changed).

`DigitClassifier(Model)` creates its layers in `__init__` and wires them in `call`; a custom
`FeatureScale` layer shows `build`/`add_weight`/`get_config`. `train_step` is written as on
keras.io: forward pass under a GradientTape, `compute_loss`, `tape.gradient`,
`optimizer.apply`, then the metrics. fit traces that Python code once into one compiled graphc
function, so each batch is still a single native call. The script trains on the digits,
evaluates, and checks that the saved model reloads (`custom_objects`) to the same predictions.

Offline, mnist.load_data() uses the 5,000 digits shipped with graphc (4,000 train, 1,000 test).

    python examples/subclassed_and_custom_step.py [--epochs 12] [--backend llvm|numpy]
        [--out out] [--smoke]
"""

import sys
import time

import numpy as np
from _common import example_arguments, load_digits, output_folder

from frontend import initializers, layers
from frontend.gradients import GradientTape
from frontend.models import Model, load_model

TARGET_ACCURACY = 0.95  # on the 1,000 packaged test digits, after training on the 4,000


class FeatureScale(layers.Layer):
    """A learnt per-channel scale: the custom-layer pattern (build, add_weight, get_config)."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = initial

    def build(self, input_shape):
        self.scale = self.add_weight(
            shape=(input_shape[-1],),
            initializer=initializers.Constant(self.initial),
            name="scale",
        )

    def call(self, inputs):
        return inputs * self.scale

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


class DigitClassifier(Model):
    def __init__(self, classes=10, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.convs = [
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
        ]
        self.pool = layers.MaxPooling2D(2)
        self.scale = FeatureScale()
        self.flatten = layers.Flatten()
        self.dropout = layers.Dropout(0.5)
        self.classify = layers.Dense(classes, activation="softmax")

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for conv in self.convs:
            x = self.pool(conv(x))
        x = self.flatten(self.scale(x))
        return self.classify(self.dropout(x, training=training))

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def main():
    args = example_arguments(__doc__, epochs=12, smoke_data="300 digits").parse_args()
    out = output_folder(args)
    train, (x_test, y_test) = load_digits((28, 28, 1), 300 if args.smoke else None)
    print(f"{len(train[0])} training and {len(x_test)} test digits, shape {x_test.shape[1:]}")

    model = DigitClassifier()
    compile_options = {"loss": "categorical_crossentropy", "metrics": ["accuracy"]}
    model.compile(optimizer="adam", backend=args.backend, **compile_options)
    start = time.perf_counter()
    model.fit(*train, batch_size=128, epochs=1 if args.smoke else args.epochs, verbose=2)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    model.summary()

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")

    path = out / "subclassed_model.keras"
    model.save(path)
    reloaded = load_model(path, custom_objects={"DigitClassifier": DigitClassifier})
    same = np.allclose(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print(f"saved to {path}; the reloaded model predicts the same: {same}")
    if not same:
        sys.exit("the reloaded model predicts differently")
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
