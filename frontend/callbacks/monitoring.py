"""Callbacks that watch a logged value or steer the learning rate: EarlyStopping,
ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau (Keras 3 semantics)."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from frontend.callbacks.base import Callback
from frontend.callbacks.frequency import EveryNBatches, check_save_freq
from frontend.compat import reject_unknown, signature_names


def _monitor_mode(monitor, mode, owner):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner}: mode {mode!r} is unknown, using 'auto'", stacklevel=3)
        mode = "auto"
    if mode == "auto":
        name = monitor.removeprefix("val_")
        mode = (
            "max" if (name.endswith(("acc", "accuracy", "auc", "precision", "recall"))) else "min"
        )
    return mode


class _Monitoring(Callback):
    """Shared logic: is `current` better than `reference` by more than min_delta?"""

    def __init__(self, monitor, mode, min_delta, owner):
        super().__init__()
        self.monitor, self.min_delta = monitor, abs(min_delta)
        self.mode = _monitor_mode(monitor, mode, owner)
        self.owner = owner

    def initial_best(self):
        return math.inf if self.mode == "min" else -math.inf

    def is_improvement(self, current, reference) -> bool:
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def monitored(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{self.owner}: the monitored value {self.monitor!r} is not in the logs "
                f"(available: {', '.join(sorted(logs or {}))})",
                stacklevel=3,
            )
        return value


class EarlyStopping(_Monitoring):
    """Stops training when `monitor` has not improved for `patience` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = self.initial_best(), None

    def on_epoch_end(self, epoch, logs=None):
        current = self.monitored(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose:
                    print(
                        f"Restoring model weights from the end of the best epoch: "
                        f"{self.best_epoch + 1}."
                    )
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(_Monitoring):
    """Saves the model (or its weights) after each epoch (`save_freq='epoch'`) or every
    `save_freq` batches, or only when `monitor` improves.

    `filepath` may hold `{epoch}`, `{batch}` (batch saves) and log names:
    'model.{epoch:02d}-{val_loss:.2f}.keras'.
    """

    chief_only = True

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, 0, "ModelCheckpoint")
        self.save_freq = check_save_freq(save_freq, "ModelCheckpoint")
        self.batches = None if save_freq == "epoch" else EveryNBatches(save_freq)
        self.current_epoch = 0
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = initial_value_threshold

    def on_train_begin(self, logs=None):
        if self.best is None:
            self.best = self.initial_best()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.batches is not None and self.batches.due(batch):
            self._save(self.current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.batches is None:
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        path = self._path_for(epoch, batch, logs)
        if self.save_best_only:
            current = self.monitored(logs)
            if current is None:
                return
            if not self.is_improvement(current, self.best):
                if self.verbose:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}"
                    )
                return
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _path_for(self, epoch, batch, logs) -> str:
        """`filepath` with {epoch}, {batch} (1-based, batch saves only) and the logged
        values filled in."""
        numbers = {"epoch": epoch + 1} | ({} if batch is None else {"batch": batch + 1})
        try:
            return self.filepath.format(**{**logs, **numbers})
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {err}, which is not "
                f"logged; the keys are {', '.join(sorted(numbers) + sorted(logs))}"
            ) from None


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at each epoch start to `schedule(epoch, lr)`."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone
            lr = self.schedule(epoch)
        value = np.asarray(lr)  # a float, or a 0-d array such as K.get_value(optimizer.lr)
        if value.ndim != 0 or value.dtype.kind not in "fiu":
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a float. Received: {lr!r}"
            )
        lr = float(value)
        self.model.optimizer.learning_rate = lr
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitoring):
    """Multiplies the learning rate by `factor` when `monitor` stalls for `patience` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        reject_unknown(kwargs, signature_names(ReduceLROnPlateau.__init__), "ReduceLROnPlateau")
        super().__init__(monitor, mode, min_delta, "ReduceLROnPlateau")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1. Received: factor={factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter, self.best = 0, 0, self.initial_best()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self.monitored(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce(epoch)

    def _reduce(self, epoch):
        old = float(self.model.optimizer.learning_rate)
        if old > np.float32(self.min_lr):
            new = max(old * self.factor, self.min_lr)
            self.model.optimizer.learning_rate = new
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_counter, self.wait = self.cooldown, 0
