"""Batches for fit/evaluate/predict from every source Keras takes: arrays (sliced into
mini-batches), a Sequence/PyDataset (indexed) or a Python generator/iterator (drawn), epoch
after epoch with Keras 3's `steps_per_epoch` rules.

A source is never turned into one array: Sequences and generators are read one batch at a
time in a background thread that holds at most `max_queue_size` batches, so memory stays
bounded by a few batches however large the data set is.
"""

from __future__ import annotations

import queue
import threading
import warnings
from typing import NamedTuple

from frontend import seeding
from frontend.models.data import DataError, batch_plan
from graphc.ir import user_site

_END = object()


class Batching(NamedTuple):
    """How a method reads its data: batch size (arrays), shuffling, batches per epoch (None:
    all), how many batches may be read ahead, and class weights (fit)."""

    batch_size: int
    shuffle: bool = False
    steps: int | None = None
    max_queue_size: int = 10
    class_weight: dict | None = None


def unpack_batch(batch, index: int, method: str) -> tuple:
    """(x, y, sample_weight) from one batch: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise DataError(
            f"{method}: batch {index} of the data is a tuple of {len(batch)} items; expected "
            f"x, (x,), (x, y) or (x, y, sample_weight) (at {user_site()})"
        )
    return batch + (None,) * (3 - len(batch))


class ArrayPasses:
    """Passes over prepared arrays: each pass is a (shuffled) plan of index batches."""

    def __init__(self, arrays: list, batch_size: int, shuffle: bool):
        self.arrays, self.batch_size, self.shuffle = arrays, batch_size, shuffle
        self.num_batches = -(-len(arrays[0]) // batch_size)
        self.reads_user_code = False

    def new_pass(self):
        plan = batch_plan(len(self.arrays[0]), self.batch_size, self.shuffle, seeding.rng())
        return ([a[idx] for a in self.arrays] for idx in plan)

    def end_epoch(self):
        """Arrays need nothing at an epoch's end."""


class SequencePasses:
    """Passes over a Sequence/PyDataset: `sequence[i]` for each batch index (shuffled order
    when asked, as Keras shuffles a Sequence's batches); on_epoch_end after every epoch."""

    def __init__(self, sequence, shuffle: bool):
        self.sequence, self.shuffle, self.reads_user_code = sequence, shuffle, True
        self.num_batches = len(sequence)
        if not isinstance(self.num_batches, int) or self.num_batches < 1:
            raise DataError(
                f"{type(sequence).__name__} has len() = {self.num_batches!r}: a Sequence or "
                f"PyDataset needs at least one batch (at {user_site()})"
            )

    def new_pass(self):
        getattr(self.sequence, "on_epoch_begin", lambda: None)()
        n = self.num_batches
        order = seeding.rng().permutation(n) if self.shuffle else range(n)  # lazy: len may be huge
        return (self.sequence[int(i)] for i in order)

    def end_epoch(self):
        getattr(self.sequence, "on_epoch_end", lambda: None)()


class GeneratorPasses:
    """A generator cannot restart: every 'pass' continues where the last one stopped."""

    def __init__(self, generator):
        self.generator, self.num_batches, self.reads_user_code = generator, None, True

    def new_pass(self):
        return self.generator

    def end_epoch(self):
        """A generator has no epoch hook."""


class BatchStream:
    """The batches of each epoch from one source (ArrayPasses, SequencePasses or
    GeneratorPasses). With `steps_per_epoch`, epochs take that many batches from a pass that
    continues across epochs (Keras 3); without it, each epoch is one whole pass."""

    def __init__(self, passes, steps_per_epoch=None, max_queue_size=10, method="fit"):
        self.passes, self.steps_per_epoch, self.method = passes, steps_per_epoch, method
        self.max_queue_size = max_queue_size
        self.exhausted = False  # a generator that can give no more batches
        self.site = user_site()  # batches are read in another thread, away from the user's line
        self._current, self._seen = None, 0

    @property
    def steps(self):
        """Batches per epoch, or None when unknown (a generator without steps_per_epoch)."""
        return self.steps_per_epoch or self.passes.num_batches

    def epoch(self):
        """An iterator over this epoch's batches (read ahead in a thread for user code); the
        source's on_epoch_end runs here, in the training thread, once the last batch is taken
        (not when the reader thread has read it)."""
        batches = self._epoch_batches()
        if self.passes.reads_user_code and self.max_queue_size > 0:
            batches = read_ahead(batches, self.max_queue_size)
        yield from batches
        self.passes.end_epoch()

    def _epoch_batches(self):
        known, taken = self.passes.num_batches, 0
        if self._current is None or self.steps_per_epoch is None:
            self._current, self._seen = self.passes.new_pass(), 0
        while self.steps is None or taken < self.steps:
            batch = _END if known is not None and self._seen >= known else next(self._current, _END)
            if batch is _END:
                self._ran_out(taken)
                break
            self._seen, taken = self._seen + 1, taken + 1
            yield batch
        if known is not None and self._seen >= known:
            self._current = None

    def _ran_out(self, taken: int) -> None:
        self._current = None
        generator = self.passes.num_batches is None
        if generator and self.steps_per_epoch is None and taken > 0:
            return  # a generator without steps_per_epoch: its end is the epoch's end
        self.exhausted = generator
        warnings.warn(
            f"{self.method}: your input ran out of data after {taken} of {self.steps} "
            f"batches{'; interrupting training' if self.exhausted else ''}. Make sure the data "
            f"can give at least steps_per_epoch * epochs batches (a generator should loop "
            f"forever) (at {self.site})",
            UserWarning,
            stacklevel=2,
        )


def read_ahead(batches, depth: int):
    """Iterate `batches` in a background thread, at most `depth` ahead; errors raised by the
    user's code come back in this thread with their traceback."""
    slots, stop = queue.Queue(depth), threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for batch in batches:
                if not hand_over((batch, None)):
                    return
            hand_over((_END, None))
        except BaseException as err:  # noqa: BLE001 - re-raised in the consuming thread
            hand_over((_END, err))

    worker = threading.Thread(target=produce, name="graphc-batch-reader", daemon=True)
    worker.start()
    try:
        while True:
            batch, error = slots.get()
            if error is not None:
                raise error
            if batch is _END:
                return
            yield batch
    finally:
        stop.set()
        worker.join()
