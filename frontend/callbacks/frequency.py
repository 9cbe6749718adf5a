"""Keras 3's "every N batches" rule for callbacks with an integer `save_freq`: batches are
counted across epoch boundaries, and each N-th batch since the last save triggers one."""

from __future__ import annotations

from graphc.ir import user_site


def check_save_freq(save_freq, owner):
    if save_freq != "epoch" and (
        not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1
    ):
        raise ValueError(
            f"{owner}: save_freq must be 'epoch' or a positive int (a number of batches). "
            f"Received: save_freq={save_freq!r}"
            f" (at {user_site()})"
        )
    return save_freq


class EveryNBatches:
    """`due(batch)` is True on every n-th batch seen (batch: the index within the epoch)."""

    def __init__(self, n: int):
        self.n, self.since_last, self.last_batch = n, 0, -1

    def due(self, batch: int) -> bool:
        new_epoch = batch <= self.last_batch
        self.since_last += batch + 1 if new_epoch else batch - self.last_batch
        self.last_batch = batch
        if self.since_last >= self.n:
            self.since_last = 0
            return True
        return False
