"""Training-step time of LSTM(128) and GRU(128) classifiers per time step, at 25, 50, 100 and
200 steps: graphc's llvm backend against PyTorch eager (when installed), interleaved rounds in
one run, best round. The cost per time step should not grow with the sequence length.

A step: the recurrent layer over (batch, steps, 32) inputs, its last h -> Dense(10), softmax
cross-entropy, backward, SGD. (Same sizes in both libraries; the weights are not matched.)

    python bench/bench_rnn.py [--batch 64] [--rounds 5] [--lengths 25,50,100,200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphc as gc

FEATURES, UNITS, CLASSES, LR = 32, 128, 10, 0.01
GATES = {"lstm": 4, "gru": 3}


def graphc_step(cell, steps):
    rng = np.random.default_rng(0)
    g = GATES[cell]
    shapes = {"W": (FEATURES, g * UNITS), "U": (UNITS, g * UNITS),
              "b": (g * UNITS,) if cell == "lstm" else (2, g * UNITS), "w": (UNITS, CLASSES)}
    params = {k: gc.shared((0.1 * rng.standard_normal(s)).astype("float32"), name=k)
              for k, s in shapes.items()}
    x = gc.placeholder((None, steps, FEATURES), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    rnn = gc.lstm if cell == "lstm" else gc.gru
    last = rnn(x, params["W"], params["U"], params["b"])[1]
    logits = last @ params["w"]
    loss = -gc.mean(gc.sum(gc.one_hot(y, CLASSES) * gc.log_softmax(logits), axis=1))
    grads = gc.grad(loss, list(params.values()))
    return gc.function([x, y], loss, updates=[(p, p - LR * d) for p, d in
                                               zip(params.values(), grads)])


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


def contenders(cell, steps) -> dict:
    out = {"graphc": graphc_step(cell, steps)}
    try:
        out["torch"] = torch_step(cell, steps)
    except ImportError:
        print("torch: not installed")
    return out


def best_times(fns, x, y, rounds) -> dict:
    """Best seconds per contender over `rounds` interleaved rounds of 3 calls each."""
    best = {name: float("inf") for name in fns}
    for f in fns.values():
        f(x, y)  # warm-up
    for _ in range(rounds):
        for name, f in fns.items():
            time.sleep(0.2)  # the previous library's spinning threads go to sleep first
            for _ in range(3):
                start = time.perf_counter()
                f(x, y)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", default="25,50,100,200")
    parser.add_argument("--cells", default="lstm,gru")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    y = rng.integers(0, CLASSES, args.batch).astype("int64")
    for cell in args.cells.split(","):
        print(f"{cell.upper()}({UNITS}) training step, batch {args.batch}: best ms, ms per "
              f"time step")
        for steps in (int(s) for s in args.lengths.split(",")):
            x = rng.standard_normal((args.batch, steps, FEATURES)).astype("float32")
            best = best_times(contenders(cell, steps), x, y, args.rounds)
            cols = "  ".join(f"{n} {t * 1e3:7.2f} ({t * 1e3 / steps:.3f}/step)"
                             for n, t in best.items())
            ratio = best["graphc"] / best["torch"] if "torch" in best else float("nan")
            print(f"  {steps:4d} steps  {cols}  graphc/torch {ratio:.2f}x")


if __name__ == "__main__":
    main()
