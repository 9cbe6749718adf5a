"""compile / fit / evaluate / predict and the *_on_batch methods (Keras semantics).

Every step is one call of a compiled graphc function (see steps.py); the Python loop here only
slices mini-batches, calls callbacks and prints progress.
"""

from __future__ import annotations

import numpy as np

from frontend import backend, losses, optimizers, seeding
from frontend import metrics as M
from frontend.callbacks import CallbackList, History, ProgbarLogger
from frontend.models import arguments as A
from frontend.models import data as D
from frontend.models.inputs import DataHandling
from frontend.models.steps import (
    StepFunctions,
    resolve_metric_specs,
    resolve_per_output,
    unknown_metric_message,
)
from graphc.ir import user_site


class Trainer(DataHandling):
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
        **kwargs,
    ):
        """Train for `epochs` epochs (counted from `initial_epoch`) on mini-batches of
        `batch_size` (default 32); returns a History.

        Args:
            x, y: arrays (or a list/dict of arrays, one per model input/output).
            batch_size, epochs, initial_epoch: positive, positive and non-negative integers.
            validation_split: the fraction of samples held out from the end (before
                shuffling) and evaluated after each epoch; or give `validation_data=(x, y)`.
            shuffle: reshuffle the training samples every epoch.
            class_weight, sample_weight: weights of each class / each sample in the loss.
            callbacks: Callback objects (History and the progress bar are added).
            verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
            steps_per_epoch, validation_steps: only for generators, which graphc does not
                take: given, they raise ValueError.
        Example: `history = model.fit(x_train, y_train, batch_size=128, epochs=5,
        validation_split=0.1)`
        """
        kwargs = A.check_kwargs(Trainer.fit, kwargs)
        A.reject_steps(steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        epochs, initial_epoch, batch_size, validation_batch_size = A.fit_counts(
            kwargs.get("epochs", epochs), initial_epoch, batch_size, validation_batch_size
        )
        xs, ys, sws = self._prepare(x, y, sample_weight, class_weight, "fit")
        train, val = self._hold_out_validation(xs, ys, sws, validation_data, validation_split)
        history, verbose = History(), A.verbosity(verbose)
        steps = D.steps_for(len(train[0][0]), batch_size)
        cbs = self._fit_callbacks(callbacks, history, verbose, epochs, steps)
        val_every = (val, validation_freq, validation_batch_size)
        self._run_epochs(train, range(initial_epoch, epochs), batch_size, shuffle, cbs, val_every)
        return history

    def _fit_callbacks(self, callbacks, history, verbose, epochs, steps) -> CallbackList:
        """The user's callbacks, then History and (unless silent) the progress bar."""
        progbar = [ProgbarLogger(verbose)] if verbose else []
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        return CallbackList(list(callbacks or []) + [history] + progbar, self, params)

    def _run_epochs(self, train, epochs, batch_size, shuffle, cbs, val_every):
        """The epoch loop of fit; `val_every`: (validation arrays or None, every how many
        epochs, their batch size)."""
        val, validation_freq, validation_batch_size = val_every
        steps = self._step_functions()
        train_fn = steps.function("train", train[1])
        self.stop_training = False
        cbs.on_train_begin()
        for epoch in epochs:
            steps.reset()
            cbs.on_epoch_begin(epoch)
            self._train_epoch(
                train_fn, [a for part in train for a in part], batch_size, shuffle, cbs
            )
            logs = steps.logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                results = self._run_test(*val, validation_batch_size, None)
                logs.update({f"val_{k}": v for k, v in results.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()

    def _hold_out_validation(self, xs, ys, sws, validation_data, validation_split):
        """((xs, ys, sws) to train on, (xs, ys, sws) to validate on or None)."""
        if validation_data is not None:
            return (xs, ys, sws), self._validation_arrays(validation_data)
        if not validation_split:
            return (xs, ys, sws), None
        k, m = len(xs), len(xs) + len(ys)
        train, held = D.split_validation(xs + ys + sws, validation_split)
        return (train[:k], train[k:m], train[m:]), (held[:k], held[k:m], held[m:])

    def _train_epoch(self, train_fn, arrays, batch_size, shuffle, cbs):
        """One pass over the (shuffled) mini-batches; stops early when a callback sets
        model.stop_training."""
        steps = self._steps
        for step, idx in enumerate(
            D.batch_plan(len(arrays[0]), batch_size, shuffle, seeding.rng())
        ):
            cbs.on_train_batch_begin(step)
            train_fn(*[a[idx] for a in arrays])
            cbs.on_train_batch_end(step, steps.logs())
            if self.stop_training:
                break

    # ---- evaluation and prediction ---------------------------------------------------------

    def _run_test(self, xs, ys, sws, batch_size, callbacks):
        steps = self._step_functions()
        test_fn = steps.function("test", ys)
        steps.reset()
        plan = D.batch_plan(len(xs[0]), batch_size, False, seeding.rng())
        if callbacks:
            callbacks.on_test_begin()
        for step, idx in enumerate(plan):
            if callbacks:
                callbacks.on_test_batch_begin(step)
            test_fn(*[a[idx] for a in xs + ys + sws])
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
        **kwargs,
    ):
        """The loss (and metrics) over the data: a float, [loss, metric, ...], or a dict."""
        A.check_kwargs(Trainer.evaluate, kwargs)
        A.reject_steps(steps=steps)
        batch_size = A.batch_size_or_default("evaluate", batch_size)
        xs, ys, sws = self._prepare(x, y, sample_weight, None, "evaluate")
        verbose = A.verbosity(verbose)
        cbs = CallbackList(
            list(callbacks or []) + ([ProgbarLogger(verbose)] if verbose else []),
            self,
            {"verbose": verbose, "steps": D.steps_for(len(xs[0]), batch_size)},
        )
        logs = self._run_test(xs, ys, sws, batch_size, cbs)
        return self._format_results(logs, return_dict)

    @staticmethod
    def _format_results(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """The model's outputs for `x`, batch by batch (an array, or a list for several)."""
        A.check_kwargs(Trainer.predict, kwargs)
        A.reject_steps(steps=steps)
        batch_size = A.batch_size_or_default("predict", batch_size)
        xs = self._inputs(x, "predict")
        fn = self.make_predict_function(self._backend_for_inference())
        # no samples: one call on the empty batch gives empty outputs of the right shapes
        plan = D.batch_plan(len(xs[0]), batch_size, False, seeding.rng()) or [np.arange(0)]
        verbose = A.verbosity(verbose)
        cbs = CallbackList(
            list(callbacks or []) + ([ProgbarLogger(verbose)] if verbose else []),
            self,
            {"verbose": verbose, "steps": len(plan)},
        )
        cbs.on_predict_begin()
        chunks = []
        for step, idx in enumerate(plan):
            cbs.on_predict_batch_begin(step)
            chunks.append(fn(*[a[idx] for a in xs]))
            cbs.on_predict_batch_end(step)
        cbs.on_predict_end()
        outputs = [np.concatenate([c[i] for c in chunks]) for i in range(len(self.output_names))]
        return outputs[0] if len(outputs) == 1 else outputs

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
        xs, ys, sws = prepared
        steps = self._step_functions()
        fn = steps.function(kind, ys)
        if reset_metrics:
            steps.reset()
        fn(*xs, *ys, *sws)
        return self._format_results(steps.logs(), return_dict)

    def predict_on_batch(self, x):
        xs = self._inputs(x, "predict_on_batch")
        outputs = self.make_predict_function(self._backend_for_inference())(*xs)
        return outputs[0] if len(outputs) == 1 else outputs

