"""compile / fit / evaluate / predict and the *_on_batch methods (Keras semantics).

Every step is one call of a compiled graphc function (see steps.py); the Python loop here only
slices mini-batches, calls callbacks and prints progress.
"""

from __future__ import annotations

import contextlib

from frontend import backend, losses, optimizers
from frontend import metrics as M
from frontend.callbacks import CallbackList, History, ProgbarLogger
from frontend.callbacks.profiler import fit_profiler
from frontend.distribution.training_sync import chief_output, shard, shard_prepared, synchronize
from frontend.models import arguments as A
from frontend.models import data as D
from frontend.models.generator_methods import GeneratorMethods
from frontend.models.inputs import DataHandling
from frontend.models.prediction import Prediction
from frontend.models.steps import (
    StepFunctions,
    resolve_metric_specs,
    resolve_per_output,
    unknown_metric_message,
)
from frontend.models.streams import Batching
from graphc.ir import user_site


class Trainer(DataHandling, GeneratorMethods, Prediction):
    """Mixin giving a Model compile/fit/evaluate/predict."""

    compiled = False
    _steps = None

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        backend=None,
        **kwargs,
    ):
        """Configure training: `model.compile(optimizer="adam", loss="mse", metrics=["mae"])`.

        Args:
            optimizer: name ('adam') or Optimizer. loss: name, function or Loss (or one per
            output, as a list or dict). metrics: names/functions/Metrics ('accuracy' is picked
            like Keras from the loss and shapes). loss_weights: one float per output.
            backend: 'llvm' (native code) or 'numpy' (the reference interpreter); by default
            `frontend.backend.default_backend()` ('llvm' unless set_default_backend changed it).
            run_eagerly, steps_per_execution, jit_compile: accepted for Keras code at their
            defaults only (every step is one compiled call); other values raise ValueError.
        """
        A.check_kwargs(Trainer.compile, kwargs)
        A.reject_execution_options(run_eagerly, steps_per_execution, jit_compile)
        backend = A.resolve_backend(backend)
        try:
            self.optimizer = optimizers.get(optimizer)
        except ValueError as err:
            raise ValueError(f"compile(optimizer=...): {err} (at {user_site()})") from None
        self._compile_args = dict(
            loss=loss, loss_weights=loss_weights, metrics=metrics, weighted_metrics=weighted_metrics
        )
        self.backend_name = backend
        self._resolve_losses(loss)  # unknown names fail here, at the user's compile line
        for spec in (metrics, weighted_metrics):
            self._validate_metric_names(spec)
        self._steps, self.compiled, self.stop_training = None, True, False
        self._optimizer_weights = None  # the weights the optimizer's state is built for

    def _resolve_losses(self, loss):
        try:
            if self.built_graph:
                specs = resolve_per_output(loss, self.output_names, "loss")
                return [None if s is None else losses.get(s) for s in specs]
            return None if loss is None else losses.get(loss)
        except ValueError as err:
            raise ValueError(f"compile(loss=...): {err} (at {user_site()})") from None

    @staticmethod
    def _validate_metric_names(spec):
        flat = (
            spec.values()
            if isinstance(spec, dict)
            else (spec if isinstance(spec, (list, tuple)) else [spec])
        )
        for item in flat:
            for name in item if isinstance(item, (list, tuple)) else [item]:
                if isinstance(name, str) and name.lower() not in ("accuracy", "acc"):
                    try:
                        M.get(name)
                    except ValueError as err:
                        raise ValueError(
                            f"compile(metrics=...): {unknown_metric_message(name, err)} "
                            f"(at {user_site()})"
                        ) from None

    def _step_functions(self) -> StepFunctions:
        if not self.compiled:
            raise RuntimeError(
                f"Model '{self.name}' must be compiled before training or "
                f"evaluating: call model.compile(optimizer, loss) first "
                f"(at {user_site()})"
            )
        if self._steps is None:
            names, args = self.output_names, self._compile_args
            output_losses = self._resolve_losses(args["loss"])
            weights = (
                resolve_per_output(args["loss_weights"], names, "loss_weights")
                if args["loss_weights"] is not None
                else [1.0] * len(names)
            )
            weights = [1.0 if w is None else float(w) for w in weights]
            self._steps = StepFunctions(
                self,
                self.optimizer,
                output_losses,
                weights,
                resolve_metric_specs(args["metrics"], names),
                resolve_metric_specs(args["weighted_metrics"], names),
                self.backend_name,
            )
        return self._steps

    def _backend_for_inference(self) -> str:
        return self.backend_name if self.compiled else backend.default_backend()

    @property
    def metrics_names(self) -> list[str]:
        # the names of `self.metrics` (a custom step's own trackers included) once compiled
        return [m.name for m in self.metrics] if self._steps else ["loss"]

    @property
    def train_function(self):
        """The compiled training step (a graphc Function) built most recently by fit or
        train_on_batch, or None before the first one; draw it with gc.to_dot(f, stage)."""
        steps = self._steps
        built = [f for key, f in steps.cache.items() if key[0] == "train"] if steps else []
        # a custom train_step is a TracedStep around its one compiled function
        return getattr(built[-1], "function", built[-1]) if built else None

    # ---- training -------------------------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        profile=False,
        **kwargs,
    ):
        """Train for `epochs` epochs (counted from `initial_epoch`); returns a History.

        Args:
            x, y: arrays (or a list/dict of arrays, one per model input/output); or, as `x`
                alone, a Python generator or a frontend.utils.Sequence/PyDataset whose batches
                are x, (x, y) or (x, y, sample_weight), read one at a time (never all at once).
            batch_size: samples per batch of array data (default 32).
            epochs, initial_epoch: positive and non-negative integers.
            steps_per_epoch: batches per epoch (default: all the data; needed for a generator
                that loops forever). Epochs then continue where the last one stopped, as Keras.
            validation_split: the fraction of array samples held out from the end (before
                shuffling) and evaluated after each epoch; or give `validation_data`: (x, y),
                (x, y, sample_weight), a generator or a Sequence (`validation_steps` batches).
            shuffle: reshuffle the training samples (a Sequence's batch order) every epoch.
            class_weight, sample_weight: weights of each class / each sample in the loss.
            callbacks: Callback objects (History and the progress bar are added).
            verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
            max_queue_size: batches of a generator/Sequence read ahead in a background thread.
            workers, use_multiprocessing: accepted (Keras 2); graphc reads in one thread.
            profile: True or a path: write the step's gc.profile there as ProfilerCallback
                (True: NAME-profile.json); the History's `profile`, `profile_path` hold it.
        Example: `history = model.fit(x_train, y_train, batch_size=128, epochs=5,
        validation_split=0.1)`
        """
        kwargs = A.check_kwargs(Trainer.fit, kwargs)
        A.refuse_with_batch_source("fit", x, y=y, batch_size=batch_size,
                                   sample_weight=sample_weight, validation_split=validation_split)
        counts = A.step_counts("fit", steps_per_epoch=steps_per_epoch,
                               validation_steps=validation_steps)
        epochs, initial_epoch, batch_size, validation_batch_size = A.fit_counts(
            kwargs.get("epochs", epochs), initial_epoch, batch_size, validation_batch_size
        )
        batching = Batching(batch_size, shuffle, counts["steps_per_epoch"], max_queue_size,
                            class_weight)
        val_batching = Batching(validation_batch_size, False, counts["validation_steps"],
                                max_queue_size)
        train, val = self._fit_streams((x, y, sample_weight), batching,
                                       (validation_data, validation_split), val_batching)
        history, verbose = History(), A.verbosity(verbose)
        callbacks = [*(callbacks or []), *fit_profiler(profile, self, batch_size, verbose)]
        cbs = self._callbacks(callbacks + [history], verbose, epochs=epochs, steps=train[0].steps)
        with chief_output():  # under DataParallel rank 0 alone prints
            self._run_epochs(train, range(initial_epoch, epochs), cbs, (val, validation_freq))
        return history

    def _fit_streams(self, data, batching, validation, val_batching):
        """((train stream, prepare), (validation stream, prepare) or None)."""
        validation_data, validation_split = validation
        held = None
        if D.is_batch_source(data[0]):
            train = self._batches("fit", data, batching)
        else:
            prepared = self._prepare(*data, batching.class_weight, "fit")
            prepared, held = self._hold_out(prepared, validation_data, validation_split)
            train = self._array_stream(prepared, "fit", batching)
        if validation_data is not None:
            return train, self._validation_batches(validation_data, val_batching)
        return train, held and self._array_stream(held, "fit", val_batching)

    def _callbacks(self, callbacks, verbose, **params) -> CallbackList:
        """The user's callbacks, then (unless silent) the progress bar."""
        progbar = [ProgbarLogger(verbose)] if verbose else []
        return CallbackList(list(callbacks or []) + progbar, self, dict(verbose=verbose, **params))

    def _run_epochs(self, train, epochs, cbs, val_every):
        """The epoch loop of fit; `val_every`: ((validation stream, prepare) or None, every
        how many epochs)."""
        val, validation_freq = val_every
        steps = self._step_functions()
        self.stop_training = False
        cbs.on_train_begin()
        synchronize(self)  # DataParallel: rank 0's weights (after BackupAndRestore) everywhere
        resume_at = getattr(self, "_initial_epoch", None) or 0  # set by BackupAndRestore
        for epoch in (e for e in epochs if e >= resume_at):
            steps.reset()
            cbs.on_epoch_begin(epoch)
            self._train_epoch(*train, cbs)
            logs = steps.logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                results = self._run_test(*val, cbs)  # hooks as in Keras
                logs.update({f"val_{k}": v for k, v in results.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        self.optimizer.finalize_variable_values(self.trainable_weights)  # use_ema: as Keras
        cbs.on_train_end()

    def _hold_out(self, prepared, validation_data, validation_split):
        """((xs, ys, sws) to train on, (xs, ys, sws) held out by validation_split or None)."""
        if validation_data is not None or not validation_split:
            return prepared, None
        xs, ys, sws = prepared
        k, m = len(xs), len(xs) + len(ys)
        train, held = D.split_validation(xs + ys + sws, validation_split)
        return (train[:k], train[k:m], train[m:]), (held[:k], held[k:m], held[m:])

    def _train_epoch(self, stream, prepare, cbs):
        """One epoch of batches; stops early when a callback sets model.stop_training, and
        stops training when a generator has run out."""
        steps = self._steps
        with contextlib.closing(stream.epoch()) as batches:
            for step, batch in enumerate(batches):
                arrays = shard(prepare(batch, step), "fit")
                cbs.on_train_batch_begin(step)
                self._step_for("train", arrays)(*arrays)
                cbs.on_train_batch_end(step, steps.logs())
                if self.stop_training:
                    break
        self.stop_training = self.stop_training or stream.exhausted

    # ---- evaluation and prediction ---------------------------------------------------------

    def _run_test(self, stream, prepare, callbacks):
        steps = self._step_functions()
        steps.reset()
        if callbacks:
            callbacks.on_test_begin()
        with contextlib.closing(stream.epoch()) as batches:
            for step, batch in enumerate(batches):
                arrays = shard(prepare(batch, step), "evaluate")
                if callbacks:
                    callbacks.on_test_batch_begin(step)
                self._step_for("test", arrays)(*arrays)
                if callbacks:
                    callbacks.on_test_batch_end(step, steps.logs())
        logs = steps.logs()
        if callbacks:
            callbacks.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        **kwargs,
    ):
        """The loss (and metrics) over the data: a float, [loss, metric, ...], or a dict.
        x, y as for fit (a generator or Sequence as `x`, `steps` batches of it)."""
        A.check_kwargs(Trainer.evaluate, kwargs)
        A.refuse_with_batch_source("evaluate", x, y=y, batch_size=batch_size,
                                   sample_weight=sample_weight)
        batching = Batching(A.batch_size_or_default("evaluate", batch_size), False,
                            A.step_counts("evaluate", steps=steps)["steps"], max_queue_size)
        stream, prepare = self._batches("evaluate", (x, y, sample_weight), batching)
        verbose = A.verbosity(verbose)
        cbs = self._callbacks(callbacks, verbose, steps=stream.steps)
        with chief_output():
            logs = self._run_test(stream, prepare, cbs)
        return self._format_results(logs, return_dict)

    @staticmethod
    def _format_results(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(
        self,
        x,
        y=None,
        sample_weight=None,
        class_weight=None,
        reset_metrics=True,
        return_dict=False,
    ):
        """One training step on one batch; returns the loss (and metrics) of that batch
        (accumulated over calls when reset_metrics=False)."""
        prepared = self._prepare(x, y, sample_weight, class_weight, "train_on_batch")
        return self._run_one_batch("train", prepared, reset_metrics, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        """The loss (and metrics) of one batch, without training."""
        prepared = self._prepare(x, y, sample_weight, None, "test_on_batch")
        return self._run_one_batch("test", prepared, reset_metrics, return_dict)

    def _run_one_batch(self, kind, prepared, reset_metrics, return_dict):
        xs, ys, sws = shard_prepared(prepared, f"{kind}_on_batch")
        steps = self._step_functions()
        if kind == "train":
            synchronize(self, once=True)
        fn = steps.function(kind, ys, D.weights_given(sws))
        if reset_metrics:
            steps.reset()
        fn(*xs, *ys, *sws)
        return self._format_results(steps.logs(), return_dict)
