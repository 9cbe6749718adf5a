"""The Keras methods a custom training step calls on its model (a mixin of Model):
`train_step` / `test_step` / `predict_step` (Keras 3's defaults, to call through `super()`),
`compute_loss`, `compute_metrics`, `compiled_loss` and `compiled_metrics` (Keras 2),
`metrics`, and losses added with `add_loss` (in `call`, on weights, or on a functional
model's tensors as in the Keras 2 VAE example). See frontend/models/custom_step.py for how
an overridden step is traced into the compiled function."""

from __future__ import annotations

from frontend.gradients import grad
from frontend.layers.base import Layer
from frontend.layers.tensor import KerasTensor, current_context
from frontend.models.custom_step import CompiledLoss, CompiledMetrics, attribute_metrics
from frontend.step_trace import active_trace
from frontend.utils.batch_data import unpack_x_y_sample_weight


class StepMethods:
    """Mixin of Model; see the module docstring."""

    _symbolic_losses: list = []

    def _custom_step(self, kind: str):
        """The model's own `<kind>_step` if its class overrides Keras's, else None."""
        name = f"{kind}_step"
        overridden = getattr(type(self), name) is not getattr(StepMethods, name)
        return getattr(self, name) if overridden else None

    def _step_is_traced(self, kind: str) -> bool:
        """Whether fit/evaluate trace `<kind>_step` rather than build the built-in step: it
        is overridden, or compute_loss is (Keras 3's default steps call it)."""
        own_loss = type(self).compute_loss is not StepMethods.compute_loss
        return self._custom_step(kind) is not None or (own_loss and kind != "predict")

    def train_step(self, data):
        """Keras 3's step: forward, compute_loss, gradients, optimizer.apply, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        self._track_loss(loss, y_pred)
        variables = self.trainable_variables
        self.optimizer.apply(grad(loss, variables), variables)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        self._track_loss(loss, y_pred)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _track_loss(self, loss, y_pred) -> None:
        CompiledLoss(self._step_functions()).track(loss, y_pred)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled losses of (y, y_pred) plus `self.losses` (overridable, Keras 3)."""
        return self._step_functions().compute_loss(y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics; returns {name: result} of `self.metrics` (Keras 3)."""
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    @property
    def compiled_loss(self) -> CompiledLoss:
        return CompiledLoss(self._step_functions())

    @property
    def compiled_metrics(self) -> CompiledMetrics:
        return CompiledMetrics(self._step_functions())

    @property
    def metrics(self) -> list:
        """The loss tracker (when compile got a loss), compiled metrics, then the Metric
        objects held in the model's attributes (Keras 3's order)."""
        steps = self._steps
        compiled = []
        if steps is not None:
            has_loss = any(loss is not None for loss in steps.output_losses)
            compiled = steps.trackers() if has_loss else CompiledMetrics(steps).metrics
        return list({id(m): m for m in compiled + attribute_metrics(self)}.values())

    # ---- add_loss ------------------------------------------------------------------------

    def add_loss(self, loss) -> None:
        """A term added to the training loss: a tensor of a functional model's graph
        (`model.add_loss(kl)`), or as for any layer (in call, a weight penalty, a callable)."""
        if isinstance(loss, KerasTensor):
            self._symbolic_losses = list(self._symbolic_losses) + [loss]
            self._predict_functions, self._steps = {}, None
            return
        Layer.add_loss(self, loss)

    @property
    def losses(self) -> list:
        """Weight penalties and added losses; while a custom step is traced, also the terms
        its calls added (activity regularizers, add_loss in call)."""
        ctx = current_context()
        traced = list(ctx.losses) if ctx is not None and active_trace(self) else []
        return Layer.losses.fget(self) + traced
