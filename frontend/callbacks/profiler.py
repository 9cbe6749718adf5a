"""ProfilerCallback: the per-kernel profile (gc.profile) of a training run's step, as JSON."""

from __future__ import annotations

import json
import os
import re
import time

import numpy as np

from frontend.callbacks.base import Callback
from graphc.files import atomic_write
from graphc.ir import user_site
from graphc.profile import profile


class ProfilerCallback(Callback):
    """Writes the profile of the compiled training step to `path` when training ends.

        model.fit(x, y, callbacks=[ProfilerCallback("profile.json")])

    The step (model.train_function) is profiled on a batch of zeros of `batch_size` rows
    (kernel times do not depend on the values; the weights are restored afterwards), `repeat`
    times. The JSON is gc.profile's (`Profile.to_dict()`) plus "fit_batch_seconds": the mean
    wall time of the run's own batches, as fit saw them. The model's History (what fit
    returns) gets `profile` (the gc.profile report) and `profile_path`; `announce` prints the
    path (fit(profile=True) does, unless verbose=0).
    """

    chief_only = True

    def __init__(self, path, batch_size: int = 32, repeat: int = 10, announce: bool = False):
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"ProfilerCallback: batch_size must be a positive int, got "
                             f"{batch_size!r} (at {user_site()})")
        self.path, self.batch_size, self.repeat = path, batch_size, repeat
        self.announce = announce
        self.batch_seconds: list = []
        self.started = None
        self.profile = None

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.started is not None:
            self.batch_seconds.append(time.perf_counter() - self.started)

    def on_train_end(self, logs=None):
        step = self.model.train_function
        if step is None:
            raise RuntimeError(f"ProfilerCallback: the model has no compiled training step "
                               f"to profile (at {user_site()})")
        arrays = [np.zeros([self.batch_size if d is None else d for d in p.shape], p.dtype)
                  for p in step.inputs]
        self.profile = profile(step, *arrays, repeat=self.repeat)
        data = self.profile.to_dict()
        data["fit_batch_seconds"] = float(np.mean(self.batch_seconds)) \
            if self.batch_seconds else None
        text = json.dumps(data, indent=1).encode()
        atomic_write(self.path, lambda f: f.write(text))
        history = getattr(self.model, "history", None)
        if history is not None:
            history.profile, history.profile_path = self.profile, str(self.path)
        if self.announce:
            print(f"profile of the training step ({self.profile.step_seconds * 1e3:.3f} ms "
                  f"per step, {len(self.profile.kernels)} kernels): {self.path}")


def fit_profiler(profile_to, model, batch_size: int, verbose: int) -> list:
    """The callbacks fit(profile=...) adds: none for False/None; for True a ProfilerCallback
    writing NAME-profile.json in the current folder, for a path one writing there."""
    if profile_to is None or profile_to is False:
        return []
    if profile_to is True:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(getattr(model, "name", None) or "model"))
        profile_to = f"{name}-profile.json"
    elif not isinstance(profile_to, (str, os.PathLike)):
        raise TypeError(f"fit: profile must be True, False or a file path (str or Path); got "
                        f"{type(profile_to).__name__} {profile_to!r} (at {user_site()})")
    return [ProfilerCallback(profile_to, batch_size=batch_size, announce=bool(verbose))]
