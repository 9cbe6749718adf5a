"""The peers of bench_bf16.py's training steps, each in float32 and in bfloat16 mixed precision
(float32 master weights): PyTorch eager with torch.autocast("cpu", bfloat16), and JAX jit with
the weights and inputs cast to bfloat16 inside the step (JAX has no autocast; this is what
jmp/flax mixed precision does). Both are optional: a missing one raises ImportError.

    torch_step(kind, bf16, x, y) / jax_step(kind, bf16, x, y) -> a zero-argument step
      kind: ("mlp", sizes) | ("convnet", None) | ("transformer", None)
"""

from __future__ import annotations

import numpy as np

from graphc.backends.llvm import threads

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


# ---- PyTorch ------------------------------------------------------------------------------------


def torch_model(torch, kind, sizes):
    nn = torch.nn
    if kind == "mlp":
        layers = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Linear(a, b)] + ([nn.ReLU()] if k < len(sizes) - 2 else [])
        return nn.Sequential(*layers)
    if kind == "convnet":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))
    from bench_transformer import torch_block  # noqa: PLC0415 - only for this row

    return torch_block(threads.num_threads())[1]


def torch_step(kind, sizes, bf16, x, y):
    import torch  # noqa: PLC0415 - an optional peer, imported only when it is benchmarked

    torch.set_num_threads(threads.num_threads())
    model = torch_model(torch, kind, sizes)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(B1, B2), eps=EPS)
    if kind == "transformer":
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss_fn = torch.nn.functional.mse_loss
    else:  # channels first for torch's convolutions; class indices for its cross-entropy
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x)
        yt, loss_fn = torch.from_numpy(y.argmax(axis=1)), torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(xt).float(), yt)
        loss.backward()
        opt.step()

    return step


# ---- JAX ----------------------------------------------------------------------------------------


def jax_params(kind, sizes, rng):
    shapes = ([(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)] if kind == "convnet"
              else [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((a, b), (b,))])
    return [(rng.standard_normal(s) * np.sqrt(2 / np.prod(s[:-1])) if len(s) > 1
             else np.zeros(s)).astype(np.float32) for s in shapes]


def jax_forward(jax, jnp, kind, params, x):
    """Logits (float32) of the MLP or the convnet, computing in the dtype of `params`."""
    if kind == "mlp":
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            h = jax.nn.relu(h) if k < len(params) - 2 else h
        return h.astype(jnp.float32)
    h = x
    for k in (0, 2):
        h = jax.lax.conv_general_dilated(h, params[k], (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + params[k + 1])
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return (h.reshape(h.shape[0], -1) @ params[4] + params[5]).astype(jnp.float32)


def jax_step(kind, sizes, bf16, x, y):
    import jax  # noqa: PLC0415 - an optional peer, imported only when it is benchmarked
    import jax.numpy as jnp  # noqa: PLC0415

    if kind == "transformer":
        raise ImportError("the Transformer block's JAX peer is in bench_transformer.py")
    compute = jnp.bfloat16 if bf16 else jnp.float32

    def loss_fn(params, xb, yb):
        cast = [p.astype(compute) for p in params]
        logits = jax_forward(jax, jnp, kind, cast, xb.astype(compute))
        return -jnp.mean(jnp.sum(yb * jax.nn.log_softmax(logits), axis=1))

    @jax.jit
    def update(state, xb, yb):
        params, m, v, t = state
        grads = jax.grad(loss_fn)(params, xb, yb)
        t = t + 1
        lr_t = LR * jnp.sqrt(1 - B2**t) / (1 - B1**t)
        m = [B1 * a + (1 - B1) * g for a, g in zip(m, grads)]
        v = [B2 * a + (1 - B2) * g * g for a, g in zip(v, grads)]
        params = [p - lr_t * a / (jnp.sqrt(b) + EPS) for p, a, b in zip(params, m, v)]
        return params, m, v, t

    params = [jnp.asarray(p) for p in jax_params(kind, sizes, np.random.default_rng(0))]
    state = [(params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params],
              jnp.float32(0))]
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def step():
        state[0] = update(state[0], xj, yj)
        state[0][3].block_until_ready()

    return step
