"""Keras 2's fit_generator / evaluate_generator / predict_generator: the same as fit /
evaluate / predict given a generator or Sequence as `x` (Keras 2.3 made them aliases too).
Keras 1's keywords (samples_per_epoch, nb_epoch, nb_val_samples, val_samples, nb_worker,
pickle_safe, max_q_size) are renamed as Keras 2 did, with a DeprecationWarning."""

from __future__ import annotations

import warnings

from frontend.compat import user_stacklevel
from frontend.models import arguments as A


def keras1_samples_per_epoch(generator, kwargs: dict) -> dict:
    """Keras 1's samples_per_epoch as steps_per_epoch: divided by the generator's batch_size
    when it has one (ImageDataGenerator.flow), else taken as is, exactly as Keras 2 did."""
    if "samples_per_epoch" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    samples = kwargs.pop("samples_per_epoch")
    batch_size = getattr(generator, "batch_size", None)
    kwargs["steps_per_epoch"] = samples // batch_size if batch_size else samples
    warnings.warn(
        f"fit_generator: `samples_per_epoch` is the Keras 1 argument; Keras 2's "
        f"steps_per_epoch counts batches: using steps_per_epoch={kwargs['steps_per_epoch']}",
        DeprecationWarning,
        stacklevel=user_stacklevel(),
    )
    return kwargs


def _alias_of(method: str):
    """Keras 2's `<method>_generator(generator, steps, ...)`: `<method>(generator, ...)`."""

    def alias(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
              use_multiprocessing=False, verbose=0, **kwargs):
        options = dict(steps=steps, callbacks=callbacks, verbose=verbose,
                       max_queue_size=max_queue_size, workers=workers,
                       use_multiprocessing=use_multiprocessing)
        options.update(A.check_kwargs(alias, kwargs))
        return getattr(self, method)(generator, **options)

    alias.__name__ = alias.__qualname__ = f"{method}_generator"
    alias.__doc__ = f"`{method}(generator, steps=...)` (Keras 2's name)."
    return alias


class GeneratorMethods:
    """Mixin of Trainer: the Keras 2 generator methods, with Keras 2.3's signatures."""

    def fit_generator(
        self,
        generator,
        steps_per_epoch=None,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_data=None,
        validation_steps=None,
        validation_freq=1,
        class_weight=None,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        shuffle=True,
        initial_epoch=0,
        **kwargs,
    ):
        """`fit(generator, ...)`: train on the batches of a generator or Sequence."""
        options = dict(
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_data=validation_data,
            validation_steps=validation_steps,
            validation_freq=validation_freq,
            class_weight=class_weight,
            max_queue_size=max_queue_size,
            workers=workers,
            use_multiprocessing=use_multiprocessing,
            shuffle=shuffle,
            initial_epoch=initial_epoch,
        )
        kwargs = keras1_samples_per_epoch(generator, kwargs)
        options.update(A.check_kwargs(GeneratorMethods.fit_generator, kwargs))
        return self.fit(generator, **options)

    evaluate_generator = _alias_of("evaluate")
    predict_generator = _alias_of("predict")
