"""BackupAndRestore (Keras 3): a fit that is killed can be resumed. The model's weights, the
optimizer's state, the dropout step counter and the training position are written as ONE
.npz file, atomically (a temporary file renamed over the old backup), so a kill during a save
leaves the previous backup intact; the next fit with the same callback starts again from it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from frontend import seeding
from frontend.callbacks.base import Callback
from frontend.callbacks.frequency import EveryNBatches, check_save_freq
from frontend.distribution.data_parallel import is_chief
from graphc.files import atomic_write
from graphc.ir import user_site

UNREADABLE = (OSError, ValueError, KeyError, zipfile.BadZipFile)


class BackupAndRestore(Callback):
    """Back up the training state at each epoch end (or every `save_freq` batches) into
    `backup_dir/latest.npz`; at the start of fit, restore it and continue at the first epoch
    not finished (a batch-level backup restarts its epoch with the weights it saved).

    Args:
        backup_dir: the folder of the backup (created if missing).
        save_freq: 'epoch' or a number of batches.
        double_checkpoint: keep the previous backup as `latest.npz.bkp`, used if the latest
            cannot be read.
        delete_checkpoint: remove the backup files (and the folder, if then empty) when fit
            ends normally.
    """

    def __init__(
        self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                f"BackupAndRestore: backup_dir is empty. Received: {backup_dir!r}"
                f" (at {user_site()})"
            )
        self.backup_dir, self.save_freq = (
            os.fspath(backup_dir),
            check_save_freq(save_freq, "BackupAndRestore"),
        )
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self.path = os.path.join(self.backup_dir, "latest.npz")
        self.previous_path = self.path + ".bkp"
        self.batches, self.epochs_done = None, 0

    def on_train_begin(self, logs=None):
        self.batches = None if self.save_freq == "epoch" else EveryNBatches(self.save_freq)
        self.epochs_done = self.restore()
        self.model._initial_epoch = self.epochs_done or None

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        if self.batches is None:
            self.save()

    def on_train_batch_end(self, batch, logs=None):
        if self.batches is not None and self.batches.due(batch):
            self.save()

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and is_chief():
            for path in (self.path, self.previous_path):
                if os.path.exists(path):
                    os.remove(path)
            if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)

    # ---- the backup file -----------------------------------------------------------------

    def save(self) -> None:
        if not is_chief():  # DataParallel: rank 0 writes the backup every rank restores
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self.path):
            with open(self.path, "rb") as f:
                previous = f.read()
            atomic_write(self.previous_path, lambda f: f.write(previous))
        data = backup_bytes(self.model, self.epochs_done)
        atomic_write(self.path, lambda f: f.write(data))

    def restore(self) -> int:
        """The number of finished epochs of the backup restored (0 when there is none)."""
        candidates = [p for p in (self.path, self.previous_path) if os.path.exists(p)]
        if not self.double_checkpoint:
            candidates = candidates[:1]
        errors = []
        for path in candidates:
            try:
                with open(path, "rb") as f:
                    return restore_from(self.model, f.read(), path)
            except UNREADABLE as err:
                errors.append(f"{path}: {err}")
        if errors:
            raise ValueError(
                f"BackupAndRestore: cannot read the backup ({'; '.join(errors)}) (at {user_site()})"
            )
        return 0


def backup_bytes(model, epochs_done: int) -> bytes:
    """The .npz holding weights (w*), optimizer state (o*), the step counter and position."""
    optimizer = model.optimizer
    optimizer.build(model.trainable_weights)
    arrays = {f"w{i:04d}": a for i, a in enumerate(model.get_weights())}
    arrays |= {f"o{i:04d}": v.get_value() for i, v in enumerate(optimizer.variables)}
    position = {"epoch": epochs_done, "step_counter": int(seeding.step_counter().get_value())}
    buffer = io.BytesIO()
    np.savez(buffer, position=np.array(json.dumps(position)), **arrays)
    return buffer.getvalue()


def restore_from(model, data: bytes, path: str) -> int:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        position = json.loads(str(npz["position"]))
        weights = [npz[k] for k in sorted(npz.files) if k.startswith("w")]
        state = [npz[k] for k in sorted(npz.files) if k.startswith("o")]
    if [w.shape for w in weights] != [tuple(v.shape) for v in model.weights]:
        raise ValueError(
            f"the backup's weight shapes {[w.shape for w in weights]} are not model "
            f"'{model.name}''s {[tuple(v.shape) for v in model.weights]} (was it changed?)"
            f" (at {user_site()})"
        )
    model.optimizer.build(model.trainable_weights)
    model.optimizer.set_state(state)
    for var, value in zip(model.weights, weights):
        var.set_value(value.astype(var.dtype))
    seeding.step_counter().set_value(np.int64(position["step_counter"]))
    return int(position["epoch"])
