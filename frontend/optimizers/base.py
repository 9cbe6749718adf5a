"""The optimizer base class: Keras 3 semantics written as graph updates.

`update_rules(grads, variables)` returns (shared variable, new value) pairs for the weights,
the optimizer's slots and its iteration counter; the model puts them into the one compiled
training function. The learning rate is a shared float32 scalar (so callbacks can change it
without recompiling) or a schedule computed in the graph from the iteration counter.
"""

from __future__ import annotations

import functools
import re

import numpy as np

import graphc as gc
from frontend.compat import reject_unknown, signature_names, warn_deprecated
from frontend.legacy_names import TakesLegacyNames
from frontend.optimizers import schedules
from frontend.optimizers.averaging import AveragingAndAccumulation
from frontend.step_trace import apply, apply_gradients
from graphc.ir import user_site


class Optimizer(AveragingAndAccumulation, metaclass=TakesLegacyNames):
    """Base class. Subclasses implement `build_slots(variables)` and
    `update_step(grad, variable, value, lr) -> new value`, reading and writing their slots
    with `slot(name, variable)` and `assign(slot, new)`. `value` is the weight after
    `weight_decay`; gradient accumulation and the weights' moving average (`use_ema`) are
    the base's (see averaging.py)."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        owner = type(self).__name__
        decay = self._keras2_decay(owner, kwargs)
        if kwargs:
            reject_unknown(kwargs, signature_names(type(self).__init__, Optimizer.__init__), owner)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can be "
                f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        if decay:
            learning_rate = schedules.InverseTimeDecay(learning_rate, 1, decay)
        self.name = name or owner.lower()  # Keras's names: 'sgd', 'rmsprop', 'adam'
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        self.iterations = gc.shared(np.int64(0), name=f"{self.name}/iterations")
        self.configure_averaging(
            use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps
        )
        self._use_learning_rate(learning_rate)
        self._slots: dict[tuple[str, int], gc.SharedVariable] = {}
        self._slot_order: list = []
        self._pending: list = []
        self._saved_state = None
        self._no_decay_ids, self._no_decay_pattern = set(), None
        self.built = False

    def _use_learning_rate(self, learning_rate) -> None:
        """A schedule is kept as is; a number becomes a shared scalar callbacks can set."""
        self._schedule = (
            learning_rate if isinstance(learning_rate, schedules.LearningRateSchedule) else None
        )
        self._learning_rate = (
            None
            if self._schedule
            else gc.shared(np.float32(learning_rate), name=f"{self.name}/learning_rate")
        )

    @staticmethod
    def _keras2_decay(owner, kwargs):
        """Keras 2's `decay` (lr / (1 + decay * iterations)), with a warning."""
        decay = kwargs.pop("decay", None)
        if decay is not None:
            warn_deprecated(
                owner, "decay", "learning_rate=InverseTimeDecay(lr, 1, decay)", era="Keras 2"
            )
        return decay

    # ---- learning rate ------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The current rate (for a schedule: its value at the current iteration)."""
        if self._schedule is not None:
            return self._schedule.value(int(self.iterations.get_value()))
        return float(self._learning_rate.get_value())

    @learning_rate.setter
    def learning_rate(self, value):
        if self._schedule is not None:
            raise TypeError(
                f"{type(self).__name__} was created with a LearningRateSchedule; its "
                f"learning rate cannot be set (it follows the schedule)"
            )
        self._learning_rate.set_value(np.float32(value))

    @property
    def lr(self):
        """Keras 2's `optimizer.lr`: the learning-rate variable, for `K.get_value` and
        `K.set_value` (with a schedule: its current value, which cannot be set)."""
        warn_deprecated(type(self).__name__, "lr", "learning_rate", era="Keras 2")
        return self._learning_rate if self._schedule is None else self.learning_rate

    @lr.setter
    def lr(self, value):
        warn_deprecated(type(self).__name__, "lr", "learning_rate", era="Keras 2")
        self.learning_rate = value

    def learning_rate_node(self):
        if self._schedule is not None:
            return self._schedule(self.iterations)
        return self._learning_rate

    # ---- slots ----------------------------------------------------------------------------

    def build(self, variables) -> None:
        if not self.built:
            self.build_slots(list(variables))
            self.build_averaging_slots(list(variables))
            self.built = True
            if self._saved_state is not None:
                self.set_state(self._saved_state)

    def set_state(self, arrays) -> None:
        """Restore `variables` from arrays (kept until the slots exist, if not built yet)."""
        if not self.built:
            self._saved_state = list(arrays)
            return
        own = self.variables
        if len(arrays) != len(own):
            raise ValueError(
                f"{type(self).__name__}: the saved state has {len(arrays)} arrays, "
                f"this optimizer has {len(own)} variables (was the model changed?)"
            )
        for var, value in zip(own, arrays):
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(
                    f"{type(self).__name__}: saved state for {var.name!r} has shape "
                    f"{value.shape}, expected {var.shape}"
                )
            var.set_value(np.asarray(value).astype(var.dtype))
        self._saved_state = None

    def build_slots(self, variables) -> None:
        """Create the optimizer's per-variable state (override)."""

    def add_slots(self, variables, name, initial=0.0) -> None:
        for var in variables:
            slot = gc.shared(np.full(var.shape, initial, var.dtype), name=f"{var.name}/{name}")
            self._slots[(name, id(var))] = slot
            self._slot_order.append(slot)

    def slot(self, name, variable):
        return self._slots[(name, id(variable))]

    def assign(self, variable, value) -> None:
        """Queue an update of an optimizer variable (a slot or a scalar state)."""
        self._pending.append((variable, value))

    @property
    def variables(self) -> list:
        """The optimizer's state: iteration counter, learning rate (if not a schedule), slots."""
        lr = [] if self._learning_rate is None else [self._learning_rate]
        counter = [] if self.accumulation_counter is None else [self.accumulation_counter]
        return [self.iterations] + lr + counter + self._slot_order + self.extra_variables()

    def extra_variables(self) -> list:
        return []

    # ---- the update ---------------------------------------------------------------------------

    def clip_gradients(self, grads) -> list:
        if self.clipnorm is not None:
            c = float(self.clipnorm)
            return [g * c / gc.maximum(gc.sqrt(gc.sum(gc.square(g))), c) for g in grads]
        if self.global_clipnorm is not None:
            c = float(self.global_clipnorm)
            squares = [gc.sum(gc.square(g)) for g in grads]
            norm = gc.sqrt(functools.reduce(lambda a, b: a + b, squares))
            return [g * c / gc.maximum(norm, c) for g in grads]
        if self.clipvalue is not None:
            v = float(self.clipvalue)
            return [gc.clip(g, -v, v) for g in grads]
        return list(grads)

    def local_step(self, dtype="float32"):
        """iterations + 1 as a float: the step number Keras uses for bias corrections."""
        return gc.cast(self.iterations + 1, dtype)

    def update_rules(self, grads, variables) -> list:
        """(variable, new value) pairs for one step: weights, slots and the iteration counter."""
        variables = list(variables)
        self.build(variables)
        self._pending = []
        grads = [gc.cast(g, v.dtype) for g, v in zip(grads, variables)]
        is_update, accumulation = None, []
        if self.gradient_accumulation_steps:
            grads, is_update, accumulation = self.accumulated_gradients(grads, variables)
        grads = self.clip_gradients(grads)
        lr = gc.cast(self.learning_rate_node(), "float32")
        self.before_step(lr)
        rules = [
            (var, self.update_step(g, var, self.decayed(var, lr), lr))
            for g, var in zip(grads, variables)
        ]
        rules += self._pending
        self._pending = []
        if is_update is not None:  # between applying batches, everything keeps its value
            rules = [(var, gc.where(is_update, new, var)) for var, new in rules] + accumulation
        if self.use_ema:
            rules = self.average_rules(rules, variables)
        step = 1 if is_update is None else gc.cast(is_update, "int64")
        return rules + [(self.iterations, self.iterations + step)]

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Keras 3: no weight decay for these variables, nor for those whose name contains
        one of `var_names` (regular expressions, e.g. ["bias", "gamma"]). Call it before
        the first training step."""
        if self.built:
            raise ValueError(
                f"{type(self).__name__}: exclude_from_weight_decay() can only be called "
                f"before the optimizer is built (before the first training step) "
                f"(at {user_site()})"
            )
        self._no_decay_ids = {id(var) for var in var_list or ()}
        self._no_decay_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def uses_weight_decay(self, variable) -> bool:
        if not self.weight_decay or id(variable) in self._no_decay_ids:
            return False
        pattern = self._no_decay_pattern
        return pattern is None or pattern.search(variable.name or "") is None

    def decayed(self, variable, lr):
        """The weight after Keras's decoupled weight decay: w - w * lr * weight_decay."""
        if not self.uses_weight_decay(variable):
            return variable
        return variable - variable * gc.cast(lr * float(self.weight_decay), variable.dtype)

    apply, apply_gradients = apply, apply_gradients  # graph-mode, inside a custom train_step

    def before_step(self, lr) -> None:
        """Hook for state shared by all variables (Nadam's momentum-cache product)."""

    def update_step(self, grad, variable, value, lr):
        raise NotImplementedError

    # ---- config -------------------------------------------------------------------------------

    def get_config(self) -> dict:
        lr = schedules.serialize(self._schedule) if self._schedule else self.learning_rate
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            **self.averaging_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
