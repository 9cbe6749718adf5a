"""Callback basics: the hook protocol, the list that calls hooks, History, the progress-bar
logger, CSVLogger, LambdaCallback and TerminateOnNaN."""

from __future__ import annotations

import csv
import os

import numpy as np

from frontend.compat import reject_unknown
from frontend.distribution.data_parallel import is_chief
from frontend.legacy_names import TakesLegacyNames
from frontend.utils.plotting import plot_history
from frontend.utils.progbar import Progbar


class Callback(metaclass=TakesLegacyNames):
    """Base class; override any hook. `self.model` and `self.params` are set by fit."""

    chief_only = False  # True: it only writes files or prints (rank 0 alone runs it)

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls a hook on every callback in order (under DataParallel, on ranks other than 0,
    not the chief_only ones)."""

    def __init__(self, callbacks, model, params):
        chief = is_chief()
        self.callbacks = [cb for cb in callbacks if chief or not cb.chief_only]
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        wants_index = "batch" in hook or "epoch" in hook

        def call(*args, **kwargs):
            if "logs" not in kwargs and len(args) < (2 if wants_index else 1):
                kwargs["logs"] = {}  # hooks always receive logs, as in Keras
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)

        return call


class History(Callback):
    """Records each epoch's logs in `history` ({'loss': [...], 'val_loss': [...], ...})."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def plot(self, to_file="history.png", metrics=None, dpi=96):
        """Write a PNG with one panel per metric (training and validation curves per epoch).

        Needs matplotlib: `pip install matplotlib`.
        """
        return plot_history(self.history, self.epoch, to_file, metrics, dpi)


class ProgbarLogger(Callback):
    """Prints `Epoch i/n` and a progress bar (verbose 1) or one line per epoch (verbose 2)."""

    chief_only = True

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose, self.bar, self.in_fit = verbose, None, False

    def on_train_begin(self, logs=None):
        self.in_fit = True

    def on_train_end(self, logs=None):
        self.in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)
        self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(batch + 1, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(self.params.get("steps"), logs, finalize=True)

    def on_test_begin(self, logs=None):
        if not self.in_fit:
            self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)

    def on_test_batch_end(self, batch, logs=None):
        if not self.in_fit:
            self.bar.update(batch + 1, logs, finalize=False)

    def on_test_end(self, logs=None):
        if not self.in_fit:
            self.bar.update(self.params.get("steps"), logs, finalize=True)

    on_predict_begin = on_test_begin

    def on_predict_batch_end(self, batch, logs=None):
        if not self.in_fit:
            self.bar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        if not self.in_fit:
            self.bar.update(self.params.get("steps"), finalize=True)


class CSVLogger(Callback):
    """Writes one CSV row per epoch: epoch, then the logs in sorted key order."""

    chief_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys, self.file, self.writer = None, None, None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115 - open for the whole fit
        self.keys = None
        self.write_header = not exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.writer(self.file, delimiter=self.separator)
            if self.write_header:
                self.writer.writerow(["epoch"] + self.keys)
        self.writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None


class LambdaCallback(Callback):
    """A callback from plain functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`."""

    HOOKS = (
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_begin",
        "on_train_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_batch_begin",
        "on_batch_end",
    )

    def __init__(self, **hooks):
        super().__init__()
        reject_unknown(hooks, set(self.HOOKS), "LambdaCallback")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stops training as soon as the loss becomes NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
