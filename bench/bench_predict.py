"""Benchmark: the Python around a small-batch `model.predict`. Times, interleaved in one run
(many short rounds, the best round of each), for an MNIST MLP (784-128-10) at batch 1:
`model.predict(x, verbose=0)`, `model.predict_on_batch(x)`, the compiled predict function
called directly (`model.make_predict_function()(x)`) and without its input checks
(`fn.call_coerced([x])`, what predict calls for an array kind it checked before), and the
native call alone (the executable's prepared call, no argument checks). Issue 13's target:
predict within 20% of the compiled function.

    python bench/bench_predict.py [--rounds 200] [--batch 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frontend as K  # noqa: E402
from frontend import layers  # noqa: E402


def contenders(batch: int) -> dict:
    model = K.Sequential([layers.Input((784,)), layers.Dense(128, activation="relu"),
                          layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((batch, 784), dtype=np.float32)
    model.predict(x, verbose=0)
    fn = model.make_predict_function(model._backend_for_inference())
    executable = fn.executable
    return {
        "model.predict(x, verbose=0)": lambda: model.predict(x, verbose=0),
        "model.predict_on_batch(x)": lambda: model.predict_on_batch(x),
        "compiled function fn(x)": lambda: fn(x),
        "fn.call_coerced([x]) (no checks)": lambda: fn.call_coerced([x]),
        "native call alone": lambda: executable.call_prepared([x]),
    }


def best_us(calls: dict, rounds: int, per_round: int = 20) -> dict:
    best = dict.fromkeys(calls, np.inf)
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(per_round):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / per_round * 1e6)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    best = best_us(contenders(args.batch), args.rounds)
    direct = best["compiled function fn(x)"]
    print(f"MLP 784-128-10 inference at batch {args.batch}: best us per call "
          f"(of {args.rounds} interleaved rounds)")
    for name, us in best.items():
        print(f"{name:32} {us:9.1f} us {us / direct:6.2f}x")


if __name__ == "__main__":
    main()
