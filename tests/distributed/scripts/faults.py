"""Distributed fits that go wrong on purpose, or resume. argv: mode, then its arguments.

stall: rank 1 stops answering in its second step (the others must time out).
kill: rank 1 is killed (SIGKILL) in its second step.
mismatch: rank 1 builds a wider first layer.
custom: a model with its own train_step (not distributed yet: refused).
tiny: 33 samples in batches of 16: the last batch (1 sample) cannot be shared by 2 ranks.
backup DIR KILL: fit 4 epochs with BackupAndRestore(DIR), unshuffled, verbose=2; KILL=1:
    rank 1 is killed in the second step of epoch 3 (its first step needed rank 0,
    which had saved epoch 2 before it). Prints rank
    0's final weights and history as JSON.
"""

import json
import os
import signal
import sys
import time

import numpy as np

import frontend as keras
from frontend import distribution


def build(width: int = 8):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(width, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class Fault(keras.callbacks.Callback):
    """On rank 1, at batch `batch` of epoch `epoch`: `action()`."""

    def __init__(self, epoch, batch, action):
        super().__init__()
        self.at, self.action, self.epoch = (epoch, batch), action, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if distribution.distribution().process_id == 1 and (self.epoch, batch) == self.at:
            self.action()


def kill():
    os.kill(os.getpid(), signal.SIGKILL)


class OwnStep(keras.Sequential):
    def train_step(self, data):
        return super().train_step(data)


def main(mode, *args):
    distribution.set_distribution(distribution.DataParallel())
    x, y = data()
    width = 9 if mode == "mismatch" and distribution.distribution().process_id == 1 else 8
    model = build(width)
    if mode == "tiny":
        model.fit(x[:33], y[:33], batch_size=16, epochs=1, verbose=0)
    if mode == "custom":
        own = OwnStep(model.layers)
        own.compile(optimizer="sgd", loss="mse")
        own.fit(x, y, batch_size=16, epochs=1, verbose=0)
    if mode in ("stall", "kill", "mismatch"):
        action = (lambda: time.sleep(120)) if mode == "stall" else kill
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[Fault(0, 1, action)])
        return
    backup = keras.callbacks.BackupAndRestore(args[0], delete_checkpoint=False)
    callbacks = [backup] + ([Fault(2, 1, kill)] if args[1] == "1" else [])
    history = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=2,
                        callbacks=callbacks)
    if distribution.distribution().process_id == 0:
        weights = np.concatenate([w.ravel() for w in model.get_weights()])
        print(json.dumps({"weights": weights.tolist(), "history": history.history}))


if __name__ == "__main__":
    main(*sys.argv[1:])
