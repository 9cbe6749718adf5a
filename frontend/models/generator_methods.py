"""Keras 2's fit_generator / evaluate_generator / predict_generator: the same as fit /
evaluate / predict given a generator or Sequence as `x` (Keras 2.3 made them aliases too)."""

from __future__ import annotations


def _alias_of(method: str):
    """Keras 2's `<method>_generator(generator, steps, ...)`: `<method>(generator, ...)`."""

    def alias(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
              use_multiprocessing=False, verbose=0):
        return getattr(self, method)(generator, steps=steps, callbacks=callbacks,
                                     verbose=verbose, max_queue_size=max_queue_size,
                                     workers=workers, use_multiprocessing=use_multiprocessing)

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
    ):
        """`fit(generator, ...)`: train on the batches of a generator or Sequence."""
        return self.fit(
            generator,
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

    evaluate_generator = _alias_of("evaluate")
    predict_generator = _alias_of("predict")
