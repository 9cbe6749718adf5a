"""A layer's gradients (inputs and trainable weights) against central finite differences,
computed on the chosen backend; shared by the layer tests of issue 12."""


import graphc as gc
from graphc.testing import numeric_gradient, relative_error


def check_layer_gradients(layer, x_value, backend, rng, training=False, tolerance=1e-6):
    """d sum(w * layer(x)) / d (x, weights), w random, against finite differences (float64)."""
    x = gc.placeholder((None,) + x_value.shape[1:], "float64", name="x")
    out = layer(x, training=training)
    weight = gc.constant(rng.standard_normal((x_value.shape[0],) + out.shape[1:]))
    cost = gc.sum(out * weight)
    params = layer.trainable_weights
    grads = gc.function([x], gc.grad(cost, [x] + params), backend=backend)(x_value)
    forward = gc.function([x], cost, backend="numpy")
    arrays = [x_value] + [p.get_value() for p in params]

    def cost_of(values):
        for p, value in zip(params, values[1:]):
            p.set_value(value)
        return float(forward(values[0]))

    for i, got in enumerate(grads):
        error = relative_error(got, numeric_gradient(cost_of, arrays, i))
        assert error < tolerance, f"gradient {i} ({'x' if i == 0 else params[i - 1].name})"
