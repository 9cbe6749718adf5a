"""How a model turns user data (arrays, lists, dicts, generators, Sequences; x, y, sample and
class weights) into the batches of arrays its compiled functions take, checking shapes,
lengths and labels with clear errors."""

from __future__ import annotations

import numpy as np

from frontend.models import arguments as A
from frontend.models import data as D
from frontend.models.steps import check_targets, is_sparse, target_dtype
from frontend.models.streams import (
    ArrayPasses,
    BatchStream,
    GeneratorPasses,
    SequencePasses,
    unpack_batch,
)
from graphc.ir import user_site


class DataHandling:
    """Mixin of Trainer: data preparation for fit/evaluate/predict."""

    def _inputs(self, x, method):
        if x is None:
            raise D.DataError(f"{method}: `x` is required (at {user_site()})")
        if not self.built_graph:
            first = D.as_array(D.by_position(x, ["input"], "x", method)[0], "x")
            self.build_from_data(first)
        arrays = []
        for name, raw, shape, dtype in zip(
            self.input_names,
            D.by_position(x, self.input_names, "x", method),
            self.input_shapes,
            self.input_dtypes,
        ):
            array = D.as_array(raw, f"{method}: x (input '{name}')")
            D.check_feature_shape(array, shape, f"input '{name}' of model '{self.name}'", method)
            arrays.append(D.cast_to(array, dtype))
        return arrays

    def _targets(self, y, method):
        steps = self._step_functions()
        if y is None:
            raise D.DataError(f"{method}: `y` is required for a compiled loss (at {user_site()})")
        arrays = []
        raw = D.by_position(y, self.output_names, "y", method)
        for i, (name, item) in enumerate(zip(self.output_names, raw)):
            array = D.as_array(item, f"{method}: y (output '{name}')")
            loss = steps.output_losses[i]
            if loss is not None:
                check_targets(array, self.output_shapes[i], loss, name, method)
                if is_sparse(loss):
                    D.check_class_labels(array, self.output_shapes[i][-1], name, method)
                array = D.cast_to(array, target_dtype(loss))
            arrays.append(array)
        return arrays

    def _sample_weights(self, ys, sample_weight, class_weight, n, method):
        names = self.output_names
        if sample_weight is None:
            weights = [D.default_weights(n) for _ in names]
        elif isinstance(sample_weight, (dict, list, tuple)) and len(names) > 1:
            weights = [
                np.ones(n, np.float32) if w is None else np.asarray(w, np.float32)
                for w in D.by_position(sample_weight, names, "sample_weight", method)
            ]
        else:
            weights = [np.asarray(sample_weight, np.float32).reshape(-1) for _ in names]
        if class_weight is not None:
            if len(names) > 1:
                raise D.DataError(
                    f"{method}: class_weight needs a single-output model; use "
                    f"sample_weight for {names} (at {user_site()})"
                )
            weights[0] = np.asarray(weights[0]) * D.class_weights_for(ys[0], class_weight)
        return weights

    def _prepare(self, x, y, sample_weight, class_weight, method):
        xs = self._inputs(x, method)
        ys = self._targets(y, method)
        n = D.check_same_length([("x", self.input_names, xs), ("y", self.output_names, ys)], method)
        if method in ("fit", "evaluate"):
            A.require_samples(method, xs)
        sws = self._sample_weights(ys, sample_weight, class_weight, n, method)
        D.check_same_length(
            [("x", self.input_names, xs), ("sample_weight", self.output_names, sws)], method
        )
        return xs, ys, sws

    def _validation_batches(self, validation_data, batching):
        """(stream, prepare) of fit's validation_data: arrays, a Sequence, or a generator
        with validation_steps (without them an endless generator would never end)."""
        method = "fit(validation_data)"
        if D.is_sequence_like(validation_data) or (
            D.is_iterator(validation_data) and batching.steps is not None
        ):
            return self._batches(method, (validation_data, None, None), batching)
        if D.is_iterator(validation_data):
            raise ValueError(
                f"fit: validation_data is a {type(validation_data).__name__}: give "
                f"validation_steps, the number of its batches to evaluate after each epoch "
                f"(at {user_site()})"
            )
        return self._array_stream(self._validation_arrays(validation_data), method, batching)

    def _validation_arrays(self, validation_data):
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise D.DataError(
                f"fit: validation_data must be (x_val, y_val) or (x_val, y_val, "
                f"val_sample_weight) (at {user_site()})"
            )
        x, y = validation_data[0], validation_data[1]
        sw = validation_data[2] if len(validation_data) == 3 else None
        return self._prepare(x, y, sw, None, "fit(validation_data)")

    # ---- batch streams ----------------------------------------------------------------------

    def _batches(self, method, data, batching):
        """(BatchStream, prepare) for `data` = (x, y, sample_weight); `prepare(batch, index)`
        makes one batch the flat list of arrays a compiled step takes (x, then y and sample
        weights except for predict). batching: a streams.Batching."""
        x, y, sample_weight = data
        if not D.is_batch_source(x):
            if method == "predict":
                return self._array_stream([self._inputs(x, method)], method, batching)
            prepared = self._prepare(x, y, sample_weight, batching.class_weight, method)
            return self._array_stream(prepared, method, batching)
        passes = (
            SequencePasses(x, batching.shuffle) if D.is_sequence_like(x) else GeneratorPasses(x)
        )
        depth = getattr(x, "max_queue_size", batching.max_queue_size)
        stream = BatchStream(passes, batching.steps, depth, method)
        return stream, lambda batch, index: self._prepare_batch(batch, index, method, batching)

    @staticmethod
    def _array_stream(prepared, method, batching):
        flat = [a for part in prepared for a in part]
        passes = ArrayPasses(flat, batching.batch_size, batching.shuffle)
        return BatchStream(passes, batching.steps, 0, method), lambda batch, index: batch

    def _prepare_batch(self, batch, index, method, batching):
        x, y, sample_weight = unpack_batch(batch, index, method)
        if method == "predict":
            return self._inputs(x, method)
        xs, ys, sws = self._prepare(x, y, sample_weight, batching.class_weight, method)
        return xs + ys + sws

    def _step_for(self, kind: str, arrays):
        """The compiled `kind` step for one prepared batch (its targets' shapes, and whether
        it has sample weights from the user, pick the function)."""
        weights = arrays[len(arrays) - len(self.output_names) :]
        return self._steps.function(kind, self._targets_in(arrays), D.weights_given(weights))

    def _targets_in(self, arrays):
        """The targets among one prepared batch's flat arrays (inputs, targets, one sample
        weight per output): none when the model trains on add_loss terms alone."""
        return arrays[len(self.input_names) : len(arrays) - len(self.output_names)]

    def _inputs_without_batches(self, x):
        """The 0-sample input arrays predict runs when the data gave no batches."""
        if D.is_batch_source(x):
            raise D.DataError(
                f"predict: the {type(x).__name__} gave no batches; nothing to predict "
                f"(at {user_site()})"
            )
        return self._inputs(x, "predict")
