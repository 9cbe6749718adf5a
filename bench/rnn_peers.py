"""The peers of bench_rnn.py: the same LSTM/GRU training step (recurrent layer over (batch,
steps, FEATURES), its last h -> Dense(CLASSES) without bias, softmax cross-entropy, backward,
SGD) in PyTorch eager and in JAX jit (lax.scan over time, Keras 3's GRU with reset_after).
Each builder returns step(x, y) -> loss, or raises ImportError when its library is missing."""

from __future__ import annotations

import numpy as np

FEATURES, UNITS, CLASSES, LR = 32, 128, 10, 0.01
GATES = {"lstm": 4, "gru": 3}


def torch_step(cell, steps):
    import torch

    torch.set_num_threads(2)  # graphc's default here: the machine's two cores
    layer = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(FEATURES, UNITS,
                                                                batch_first=True)
    head = torch.nn.Linear(UNITS, CLASSES, bias=False)
    opt = torch.optim.SGD(list(layer.parameters()) + list(head.parameters()), lr=LR)

    def step(x, y):
        opt.zero_grad()
        out, _ = layer(torch.from_numpy(x))
        loss = torch.nn.functional.cross_entropy(head(out[:, -1]), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def jax_cells(jnp):
    """{cell: (h, c) carry, p_t, params -> new carry}: Keras 3's LSTM and GRU equations."""
    sigmoid = lambda a: 1 / (1 + jnp.exp(-a))  # noqa: E731

    def lstm(carry, p_t, params):
        h, c = carry
        i, f, g, o = jnp.split(p_t + h @ params["U"], 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * jnp.tanh(g)
        return sigmoid(o) * jnp.tanh(c), c

    def gru(carry, p_t, params):
        h, c = carry
        xz, xr, xh = jnp.split(p_t, 3, axis=-1)
        rz, rr, rh = jnp.split(h @ params["U"] + params["b"][1], 3, axis=-1)
        z, r = sigmoid(xz + rz), sigmoid(xr + rr)
        return z * h + (1 - z) * jnp.tanh(xh + r * rh), c

    return {"lstm": lstm, "gru": gru}


def jax_step(cell, steps):
    import jax
    import jax.numpy as jnp

    rng, g = np.random.default_rng(0), GATES[cell]
    shapes = {"W": (FEATURES, g * UNITS), "U": (UNITS, g * UNITS),
              "b": (g * UNITS,) if cell == "lstm" else (2, g * UNITS), "w": (UNITS, CLASSES)}
    params = {k: jnp.asarray(0.1 * rng.standard_normal(s), jnp.float32) for k, s in shapes.items()}
    update_cell = jax_cells(jnp)[cell]

    def loss_of(params, x, y):
        bias = params["b"] if cell == "lstm" else params["b"][0]
        P = jnp.swapaxes(x @ params["W"] + bias, 0, 1)  # time-major for the scan
        zeros = jnp.zeros((x.shape[0], UNITS), jnp.float32)
        (h, _), _ = jax.lax.scan(lambda carry, p: (update_cell(carry, p, params), None),
                                 (zeros, zeros), P)
        logits = jax.nn.log_softmax(h @ params["w"])
        return -jnp.mean(jnp.take_along_axis(logits, y[:, None], axis=1))

    @jax.jit
    def update(params, x, y):
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        return {k: p - LR * grads[k] for k, p in params.items()}, loss

    state = {"params": params}

    def step(x, y):
        state["params"], loss = update(state["params"], x, y)
        return float(loss)

    return step
