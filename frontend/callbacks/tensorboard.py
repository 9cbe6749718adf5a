"""TensorBoard (Keras 3): event files that TensorBoard reads, written with tensorboardX
(an optional dependency: `pip install tensorboardX`). Like Keras, scalars go to
`log_dir/train` and `log_dir/validation` as `epoch_<name>` (and `batch_<name>` every
`update_freq` batches), with the learning rate; weight histograms (`<weight>/histogram`)
every `histogram_freq` epochs, with 2-D weights as images (`<weight>/image`, write_images);
the model's config as the text summary 'keras' (write_graph)."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from frontend.callbacks.base import Callback
from graphc.ir import user_site


def summary_writer(log_dir):
    """A tensorboardX SummaryWriter for `log_dir` (tensorboardX is imported only here, by the
    callback that needs it: it is optional)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "TensorBoard: writing event files needs tensorboardX: pip install tensorboardX"
        ) from None
    return SummaryWriter(log_dir, flush_secs=10)


class TensorBoard(Callback):
    """Log training to `log_dir` for TensorBoard (`tensorboard --logdir logs`).

    Args:
        log_dir: the folder of the event files.
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the model's config as the text summary 'keras'.
        write_images: write each 2-D weight as a grey image.
        write_steps_per_second: log training batches per second each epoch.
        update_freq: 'epoch', 'batch' or every how many batches to log `batch_<name>`.
        profile_batch, embeddings_freq: must stay 0 (graphc has no TensorFlow profiler and
            no embedding projector).
    """

    chief_only = True

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        for name, value in (("profile_batch", profile_batch), ("embeddings_freq", embeddings_freq)):
            if value:
                raise ValueError(
                    f"TensorBoard: {name} is not supported (graphc has no TensorFlow profiler "
                    f"or embedding projector). Received: {name}={value!r}"
                    f" (at {user_site()})"
                )
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int. "
                f"Received: update_freq={update_freq!r}"
                f" (at {user_site()})"
            )
        self.log_dir, self.histogram_freq = os.fspath(log_dir), int(histogram_freq)
        self.write_graph, self.write_images = write_graph, write_images
        self.write_steps_per_second, self.update_freq = write_steps_per_second, update_freq
        self.writers, self.train_step, self.epoch_started = {}, 0, 0.0
        self.batches_this_epoch = 0
        self.embeddings_metadata = embeddings_metadata

    def writer(self, kind):
        if kind not in self.writers:
            self.writers[kind] = summary_writer(os.path.join(self.log_dir, kind))
        return self.writers[kind]

    def on_train_begin(self, logs=None):
        if self.write_graph:
            config = json.dumps(self.model.get_config(), default=str)
            self.writer("train").add_text("keras", config, 0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started, self.batches_this_epoch = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.train_step += 1
        self.batches_this_epoch = batch + 1
        if self.update_freq != "epoch" and self.train_step % self.update_freq == 0:
            self.write_scalars("train", "batch", logs, self.train_step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train["learning_rate"] = self.model.optimizer.learning_rate
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self.epoch_started
            train["steps_per_second"] = self.batches_this_epoch / max(seconds, 1e-9)
        self.write_scalars("train", "epoch", train, epoch)
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if validation:
            self.write_scalars("validation", "epoch", validation, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self.write_weights(epoch)
        for writer in self.writers.values():
            writer.flush()

    def write_scalars(self, kind, prefix, logs, step):
        for name, value in (logs or {}).items():
            if np.ndim(value) == 0:
                self.writer(kind).add_scalar(f"{prefix}_{name}", float(value), step)

    def write_weights(self, epoch):
        for var in self.model.weights:
            value = np.asarray(var.get_value(), np.float64)
            self.writer("train").add_histogram(f"{var.name}/histogram", value, epoch)
            if self.write_images and value.ndim == 2:
                span = value.max() - value.min()
                grey = (value - value.min()) / span if span else np.zeros_like(value)
                self.writer("train").add_image(f"{var.name}/image", grey, epoch, dataformats="HW")

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
