"""Model.predict and predict_on_batch: the outputs for arrays, generators or Sequences, batch by
batch, with a fast path for small-batch inference (samples that fit in one batch, no callbacks
or progress bar: one call of the compiled function; an array kind that passed the checks once
for a predict function skips them, and the compiled function's own input checks too)."""

from __future__ import annotations

import contextlib

import numpy as np

import graphc as gc
from frontend.models import arguments as A
from frontend.models import data as D
from frontend.models.streams import Batching


class Prediction:
    """Mixin of Trainer: predict and predict_on_batch."""

    _predict_checked = None  # (predict function, feature shape, dtype, contiguous) checked

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                max_queue_size=10, workers=1, use_multiprocessing=False, **kwargs):
        """The model's outputs for `x` (arrays, a generator or a Sequence; `steps` batches
        of it), batch by batch: an array, or a list for several outputs."""
        A.check_kwargs(Prediction.predict, kwargs)
        if type(x) is np.ndarray and verbose == 0 and steps is None and not callbacks:
            outputs = self._predict_checked_array(x, A.batch_size_or_default("predict",
                                                                             batch_size))
            if outputs is not None:
                return outputs
        A.refuse_with_batch_source("predict", x, batch_size=batch_size)
        batching = Batching(A.batch_size_or_default("predict", batch_size), False,
                            A.step_counts("predict", steps=steps)["steps"], max_queue_size)
        if not callbacks and verbose == 0 and batching.steps is None and not D.is_batch_source(x):
            at_once, stream, prepare = self._predict_arrays(x, batching)
            if at_once is not None:
                return at_once
        else:
            stream, prepare = self._batches("predict", (x, None, None), batching)
        fn = self.make_predict_function(self._backend_for_inference())
        verbose = A.verbosity(verbose)
        cbs = self._callbacks(callbacks, verbose, steps=stream.steps)  # Trainer's
        cbs.on_predict_begin()
        chunks = []
        with contextlib.closing(stream.epoch()) as batches:
            for step, batch in enumerate(batches):
                xs = prepare(batch, step)
                cbs.on_predict_batch_begin(step)
                chunks.append(fn(*xs))
                cbs.on_predict_batch_end(step)
        cbs.on_predict_end()
        if not chunks:  # no samples: one call on the empty arrays gives outputs of right shapes
            chunks.append(fn(*self._inputs_without_batches(x)))
        outputs = [np.concatenate([c[i] for c in chunks]) for i in range(len(self.output_names))]
        return outputs[0] if len(outputs) == 1 else outputs

    def _predict_arrays(self, x, batching):
        """predict's fast path for arrays with nothing watching the batches: (outputs, None,
        None) from one call when the samples fit in one batch (small-batch inference pays no
        batching), else (None, stream, prepare) over the arrays, checked once."""
        fn, xs = self._checked_predict_inputs(x, "predict")
        n = len(xs[0])
        if not 0 < n <= batching.batch_size or any(len(a) != n for a in xs):
            stream, prepare = self._array_stream([xs], "predict", batching)
            return None, stream, prepare
        outputs = self._predict_call(fn, x, xs)
        return (outputs[0] if len(outputs) == 1 else list(outputs)), None, None

    def _predict_checked_array(self, x, batch_size: int):
        """The outputs for an array whose kind passed the checks before, when it fits in one
        batch (the hot path of small-batch inference), else None."""
        fn, xs = self._checked_predict_inputs(x, None)
        if fn is None or not 0 < len(x) <= batch_size:
            return None
        outputs = fn.call_coerced([x])
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _checked_predict_inputs(self, x, method):
        """(predict function, [x]) when `x` is an array of a feature shape and dtype that the
        checks of _inputs passed before for that very function (a new model state builds a
        new function); else (None, the checked input arrays, or None without a `method`)."""
        if type(x) is np.ndarray and x.ndim:
            fn = getattr(self, "_predict_functions", {}).get(self._backend_for_inference())
            if fn is not None and self._predict_checked == (fn, x.shape[1:], x.dtype,
                                                            x.flags.c_contiguous):
                return fn, [x]
        return None, (None if method is None else self._inputs(x, method))

    def _predict_call(self, fn, x, xs):
        """Outputs of the predict function `fn` (None: fetch it) on the checked inputs; a
        given `fn` had this kind of input before, so its own checks are skipped."""
        if fn is not None:
            return fn.call_coerced(xs)
        fn = self.make_predict_function(self._backend_for_inference())
        if len(xs) == 1 and xs[0] is x and takes_any_batch(fn):  # remember the kind used as given
            self._predict_checked = (fn, x.shape[1:], x.dtype, x.flags.c_contiguous)
        return fn(*xs)

    def predict_on_batch(self, x):
        fn, xs = self._checked_predict_inputs(x, "predict_on_batch")
        outputs = self._predict_call(fn, x, xs)
        return outputs[0] if len(outputs) == 1 else outputs


def takes_any_batch(fn) -> bool:
    """Whether `fn` is a plain compiled function whose one input takes any number of samples:
    then an array of a checked feature shape, dtype and layout needs none of its checks."""
    return isinstance(fn, gc.Function) and len(fn.inputs) == 1 and fn.inputs[0].shape[:1] == (None,)
