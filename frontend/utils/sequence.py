"""Keras's batch sources for fit/evaluate/predict: `PyDataset` (Keras 3) and `Sequence`
(Keras 2's name of the same thing). Subclass and define `__len__` (batches per epoch) and
`__getitem__(index)` returning one batch: x, (x, y) or (x, y, sample_weight).

Example:
    class Batches(Sequence):
        def __len__(self):
            return math.ceil(len(self.x) / 32)
        def __getitem__(self, i):
            return self.x[i * 32:(i + 1) * 32], self.y[i * 32:(i + 1) * 32]
    model.fit(Batches(), epochs=3)
"""

from __future__ import annotations


class PyDataset:
    """A dataset indexed by batch; fit reads batches in a prefetching thread.

    Args:
        workers, use_multiprocessing: accepted for Keras code; graphc reads batches in one
            background thread either way (the compiled step itself does not need Python).
        max_queue_size: at most this many batches are read ahead (memory stays bounded).
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing = workers, use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(index) returning batch `index`"
        )

    def __len__(self):
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__() returning the number of batches"
        )

    @property
    def num_batches(self):
        """Batches per epoch (Keras 3's name for len(self))."""
        return len(self)

    def on_epoch_begin(self):
        """Called before each epoch; override to prepare it."""

    def on_epoch_end(self):
        """Called after each epoch; override to reshuffle or augment the data."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]


Sequence = PyDataset  # Keras 3 keeps `keras.utils.Sequence` as this alias
