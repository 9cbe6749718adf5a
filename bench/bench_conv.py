"""Training-step time of three small networks: graphc's llvm backend, the NumPy interpreter,
PyTorch (eager) and JAX (jit; the conv networks), when installed, with the ratios, GFLOP/s and
% of graphc.machine_peak(), in one run.

  conv1d  Conv1D classifier on length-40 sequences (16 features): Conv1D(32, 5, relu) ->
          MaxPooling1D(2) -> Conv1D(64, 3, relu) -> GlobalAveragePooling1D -> Dense(4)
  conv2d  Keras's MNIST convnet on 28x28x1: Conv2D(32, 3, relu) -> MaxPooling2D(2) ->
          Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10)
  lstm    LSTM(64) over 40 steps of 16 features -> Dense(4)

A step is forward, softmax cross-entropy, backward and an SGD update of every weight. All three
implementations start from the same weights; their first losses are checked to agree. Last,
the LSTM step's compile time for 5, 40 and 100 time steps (the recurrence is one kernel, so it
should not grow with the sequence).

    python bench/bench_conv.py [--batch 128] [--steps 20] [--models conv1d,conv2d,lstm]
                               [--profile REPEAT]

--profile: print graphc's per-kernel profile of each model's step instead (gc.profile over
REPEAT calls; GRAPHC_NUM_THREADS sets the thread count).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import graphc as gc

LR = 0.01


# ---- the networks in graphc -------------------------------------------------------------------


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype("float32")


def conv_kernel(rng, *shape):
    receptive = int(np.prod(shape[:-2]))
    return glorot(rng, shape, receptive * shape[-2], receptive * shape[-1])


def init_weights(name, rng) -> dict:
    zeros = lambda n: np.zeros(n, "float32")  # noqa: E731
    if name == "conv1d":
        return {
            "k1": conv_kernel(rng, 5, 16, 32),
            "b1": zeros(32),
            "k2": conv_kernel(rng, 3, 32, 64),
            "b2": zeros(64),
            "w": glorot(rng, (64, 4), 64, 4),
            "b": zeros(4),
        }
    if name == "conv2d":
        return {
            "k1": conv_kernel(rng, 3, 3, 1, 32),
            "b1": zeros(32),
            "k2": conv_kernel(rng, 3, 3, 32, 64),
            "b2": zeros(64),
            "w": glorot(rng, (1600, 10), 1600, 10),
            "b": zeros(10),
        }
    q = np.linalg.qr(rng.standard_normal((256, 64)))[0].T.astype("float32")
    return {
        "W": glorot(rng, (16, 256), 16, 256),
        "U": q,
        "bl": zeros(256),
        "w": glorot(rng, (64, 4), 64, 4),
        "b": zeros(4),
    }


INPUT_SHAPES = {"conv1d": (40, 16), "conv2d": (28, 28, 1), "lstm": (40, 16)}
CLASSES = {"conv1d": 4, "conv2d": 10, "lstm": 4}


def graphc_logits(name, x, p):
    if name == "conv1d":
        h = gc.relu(gc.conv1d(x, p["k1"]) + p["b1"])
        h = gc.relu(gc.conv1d(gc.max_pool1d(h, 2), p["k2"]) + p["b2"])
        return gc.global_avg_pool(h) @ p["w"] + p["b"]
    if name == "conv2d":
        h = gc.max_pool2d(gc.relu(gc.conv2d(x, p["k1"]) + p["b1"]), 2)
        h = gc.max_pool2d(gc.relu(gc.conv2d(h, p["k2"]) + p["b2"]), 2)
        return gc.reshape(h, (-1, 1600)) @ p["w"] + p["b"]
    _, last_h, _ = gc.lstm(x, p["W"], p["U"], p["bl"])
    return last_h @ p["w"] + p["b"]


def graphc_step(name, weights, backend):
    params = {k: gc.shared(v.copy(), name=k) for k, v in weights.items()}
    x = gc.placeholder((None, *INPUT_SHAPES[name]), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    logits = graphc_logits(name, x, params)
    loss = -gc.mean(gc.sum(gc.one_hot(y, CLASSES[name]) * gc.log_softmax(logits), axis=1))
    grads = gc.grad(loss, list(params.values()))
    updates = [(p, p - LR * g) for p, g in zip(params.values(), grads)]
    start = time.perf_counter()
    fn = gc.function([x, y], loss, updates=updates, backend=backend)
    return fn, time.perf_counter() - start


# ---- the same networks in PyTorch ---------------------------------------------------------------


def torch_step(name, weights):
    import torch

    t = {k: torch.tensor(v, requires_grad=True) for k, v in keras_to_torch(name, weights).items()}
    F = torch.nn.functional

    def logits(x):
        if name == "conv1d":
            h = F.relu(F.conv1d(x.transpose(1, 2), t["k1"], t["b1"]))
            h = F.relu(F.conv1d(F.max_pool1d(h, 2), t["k2"], t["b2"]))
            return h.mean(dim=2) @ t["w"] + t["b"]
        if name == "conv2d":
            h = F.max_pool2d(F.relu(F.conv2d(x.permute(0, 3, 1, 2), t["k1"], t["b1"])), 2)
            h = F.max_pool2d(F.relu(F.conv2d(h, t["k2"], t["b2"])), 2)
            return h.permute(0, 2, 3, 1).reshape(-1, 1600) @ t["w"] + t["b"]
        _, (h, _) = lstm(x)
        return h[0] @ t["w"] + t["b"]

    lstm = torch.nn.LSTM(16, 64, batch_first=True) if name == "lstm" else None
    if lstm is not None:  # Keras's single bias goes to bias_ih; bias_hh stays zero
        with torch.no_grad():
            for param, key in (("weight_ih_l0", "W"), ("weight_hh_l0", "U"), ("bias_ih_l0", "bl")):
                getattr(lstm, param).copy_(t.pop(key))
            lstm.bias_hh_l0.zero_()
    extra = list(lstm.parameters()) if lstm is not None else []
    optimizer = torch.optim.SGD(list(t.values()) + extra, lr=LR)

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(logits(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def keras_to_torch(name, w) -> dict:
    """Keras layouts (kernel-spatial..., cin, cout; x @ W) to PyTorch's (cout, cin, ...; W x)."""
    out = dict(w)
    for k in ("k1", "k2"):
        if k in w:
            out[k] = np.ascontiguousarray(np.moveaxis(w[k], (-1, -2), (0, 1)))
    if name == "lstm":
        out["W"], out["U"] = np.ascontiguousarray(w["W"].T), np.ascontiguousarray(w["U"].T)
    return out


# ---- the conv networks in JAX (jit) --------------------------------------------------------------


def jax_step(name, weights):
    """The same SGD step under jax.jit (the conv networks only)."""
    import jax
    import jax.numpy as jnp

    if name == "lstm":
        raise ImportError("no JAX version of the LSTM network here")
    dims = ("NWC", "WIO", "NWC") if name == "conv1d" else ("NHWC", "HWIO", "NHWC")
    ones = (1,) * (len(dims[0]) - 2)

    def conv(h, k, b):
        return jax.nn.relu(jax.lax.conv_general_dilated(h, k, ones, "VALID",
                                                        dimension_numbers=dims) + b)

    def pool(h):
        window = (1, *(2,) * len(ones), 1)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, window, window, "VALID")

    def loss(p, x, y):
        h = pool(conv(x, p["k1"], p["b1"]))
        h = conv(h, p["k2"], p["b2"])
        h = h.mean(axis=1) if name == "conv1d" else pool(h).reshape(-1, 1600)
        logits = h @ p["w"] + p["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    @jax.jit
    def update(p, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        return value, jax.tree_util.tree_map(lambda w, g: w - LR * g, p, grads)

    state = {"p": {k: jnp.asarray(v) for k, v in weights.items()}}

    def step(x, y):
        value, state["p"] = update(state["p"], x, y)
        return float(value)  # waits for the step

    return step


def step_flops(name, batch):
    """Multiply-adds x 2 of a training step: each conv forward, the weight gradients of both
    and the second's input gradient, the dense layer three times; None for the LSTM."""
    if name == "conv2d":
        first, second, dense = 26 * 26 * 32 * 9, 11 * 11 * 64 * 288, 1600 * 10
    elif name == "conv1d":
        first, second, dense = 36 * 32 * 80, 16 * 64 * 96, 64 * 4
    else:
        return None
    return 2.0 * batch * (2 * first + 3 * second + 3 * dense)


# ---- timing -----------------------------------------------------------------------------------


def step_functions(name, weights) -> dict:
    """{column: (step function or None, note)} for llvm, numpy and torch."""
    columns = {}
    for backend in ("llvm", "numpy"):
        try:
            fn, compile_s = graphc_step(name, weights, backend)
            columns[backend] = (fn, f"compile {compile_s:.2f} s")
        except Exception as err:  # the table says why a column is missing, never hides it
            columns[backend] = (None, f"{type(err).__name__}: {err}"[:90])
    for column, make, note in (("torch", torch_step, "eager"), ("jax", jax_step, "jit")):
        try:
            columns[column] = (make(name, weights), note)
        except ImportError as err:
            columns[column] = (None, f"not run: {err}"[:90])
    return columns


def timed(step, x, y) -> float:
    start = time.perf_counter()
    step(x, y)
    return (time.perf_counter() - start) * 1e3


def bench_model(name, batch, steps, rounds=3) -> dict:
    """{column: (first loss, best ms, median ms, note)}. Each round times every column in
    turn, a pause before each so the previous library's spinning threads go to sleep (they
    would steal a core from the next one's); the best time is the least disturbed one."""
    rng = np.random.default_rng(0)
    weights = init_weights(name, rng)
    x = rng.standard_normal((batch, *INPUT_SHAPES[name])).astype("float32")
    y = rng.integers(0, CLASSES[name], batch).astype("int64")
    columns = step_functions(name, weights)
    first = {c: float(fn(x, y)) for c, (fn, _) in columns.items() if fn is not None}
    times = {c: [] for c in first}
    for _ in range(rounds):
        for c in times:
            time.sleep(0.3)
            columns[c][0](x, y)
            count = steps if c != "numpy" else max(2, steps // 4)
            times[c] += [timed(columns[c][0], x, y) for _ in range(count)]
    return {
        c: (
            first.get(c),
            min(times[c]) if c in times else None,
            statistics.median(times[c]) if c in times else None,
            note,
        )
        for c, (_, note) in columns.items()
    }


def report(name, batch, row) -> None:
    print(f"\n{name} (batch {batch}): training step, best / median of the steps")
    flops, peak = step_flops(name, batch), gc.machine_peak()
    for column, (loss, best, median, note) in row.items():
        timing = f"{best:8.2f} / {median:8.2f} ms" if best is not None else " " * 22 + "n/a"
        if flops and best:
            rate = flops / best / 1e6
            timing += f"  {rate:6.1f} GFLOP/s {100 * rate * 1e9 / peak:5.1f}% of peak"
        first = f"first loss {loss:.5f}" if loss is not None else ""
        print(f"  {column:6s} {timing}   {first:22s} {note}")
    llvm_ms = row["llvm"][1]
    for other in ("numpy", "torch", "jax"):
        if llvm_ms and row[other][1]:
            print(f"  {other}/llvm = {row[other][1] / llvm_ms:.2f}x (best times)")
    losses = [v[0] for v in row.values() if v[0] is not None]
    if losses and max(losses) - min(losses) > 1e-3 * max(1.0, abs(losses[0])):
        print(f"  WARNING: first losses disagree: {losses}")


def lstm_compile_seconds(steps: int) -> float:
    """Compile time of the LSTM training step over `steps` time steps, disk caches off."""
    INPUT_SHAPES["lstm"] = (steps, 16)
    try:
        _, seconds = graphc_step("lstm", init_weights("lstm", np.random.default_rng(0)), "llvm")
    finally:
        INPUT_SHAPES["lstm"] = (40, 16)
    return seconds


def report_compile_times() -> None:
    os.environ["GRAPHC_CACHE"] = "0"
    lstm_compile_seconds(3)  # the GEMM library and the thread pool are built once per process
    times = ", ".join(f"{t} steps {lstm_compile_seconds(t):.2f} s" for t in (5, 40, 100))
    print(f"\nLSTM training step compile time (no cache): {times}")


def print_profile(name, batch, repeat) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *INPUT_SHAPES[name])).astype("float32")
    y = rng.integers(0, CLASSES[name], batch).astype("int64")
    step, _ = graphc_step(name, init_weights(name, rng), "llvm")
    step(x, y)
    print(f"\n{name} (batch {batch}): training step, per kernel")
    print(gc.profile(step, x, y, repeat=repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--models", default="conv1d,conv2d,lstm")
    parser.add_argument("--profile", type=int, metavar="REPEAT", help="print each step's "
                        "per-kernel profile over REPEAT calls instead")
    args = parser.parse_args()
    if args.profile:
        for name in args.models.split(","):
            print_profile(name, args.batch, args.profile)
        return
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
    for name in args.models.split(","):
        report(name, args.batch, bench_model(name, args.batch, args.steps))
    if "lstm" in args.models:
        report_compile_times()


if __name__ == "__main__":
    main()
