"""SwapEMAWeights (Keras 3): evaluate (and predict) with the optimizer's moving average of
the weights (`use_ema=True`) instead of the weights being trained."""

from __future__ import annotations

from frontend.callbacks.base import Callback
from graphc.ir import user_site


class SwapEMAWeights(Callback):
    """Swap the weights with their moving average for each evaluation and prediction, and
    back after. With `swap_on_epoch=True` the average is also in the model between epoch end
    and the next epoch's start (so a ModelCheckpoint placed after this callback saves it);
    after the last epoch it stays.

    Example:
        model.compile(optimizer=Adam(use_ema=True), loss="mse")
        model.fit(x, y, validation_data=(vx, vy), callbacks=[SwapEMAWeights()])
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch, self.averages_in_model = swap_on_epoch, False

    def swap(self):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(
                f"SwapEMAWeights: needs an optimizer created with use_ema=True. Received: "
                f"{type(optimizer).__name__}(use_ema={getattr(optimizer, 'use_ema', None)})"
                f" (at {user_site()})"
            )
        if not optimizer.built:
            raise ValueError(
                "SwapEMAWeights: the optimizer has no moving average yet (nothing was trained)"
                f" (at {user_site()})"
            )
        weights = self.model.trainable_weights
        for var, average in zip(weights, optimizer.averages(weights)):
            trained = var.get_value()
            var.set_value(average.get_value())
            average.set_value(trained)
        self.averages_in_model = not self.averages_in_model

    def to_averages(self):
        if not self.averages_in_model:
            self.swap()

    def to_trained(self):
        if self.averages_in_model:
            self.swap()

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self.to_trained()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch:
            self.to_averages()
            if epoch == self.params.get("epochs", 0) - 1:
                self.keep_averages()

    def keep_averages(self):
        """After the last epoch: the average stays (fit's end copies the average into the
        weights, so the average must equal what the model now holds)."""
        weights = self.model.trainable_weights
        for var, average in zip(weights, self.model.optimizer.averages(weights)):
            average.set_value(var.get_value())

    def on_test_begin(self, logs=None):
        self.to_averages()

    def on_test_end(self, logs=None):
        self.to_trained()

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end
