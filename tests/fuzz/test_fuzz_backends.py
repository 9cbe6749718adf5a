"""The fuzzer: random graphs (tests/fuzz/strategies.py) and their gradients, compiled by both
backends, must agree (tolerances by dtype: tests/fuzz/graphs.py).

CI runs 150 derandomized graphs in this process (about 20-40 s). The long run,
    HYPOTHESIS_PROFILE=explore PYTHONPATH=$PWD pytest -m explore tests/fuzz
(HYPOTHESIS_EXAMPLES graphs, 10,000 unless set) runs each graph in a worker process, so a
segfault or a hang of compiled code is reported as a failure with the graph's reproducer
instead of ending the run.
"""

from __future__ import annotations

import ast
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given

from tests.fuzz.graphs import problem_of, to_python
from tests.fuzz.profiles import examples
from tests.fuzz.strategies import recipes

SLOW_DRAWS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
ROOT = Path(__file__).resolve().parents[2]
HANG_SECONDS = 120  # a compile takes well under a second; far past it is a hang


def report(problem: str, recipe) -> str:
    return f"{problem}\nreproducer:\n{to_python(recipe)}\nrecipe: {recipe!r}"


@examples(150, suppress_health_check=SLOW_DRAWS)
@given(recipe=recipes())
def test_llvm_agrees_with_the_interpreter_on_random_graphs(recipe):
    problem = problem_of(recipe)
    assert problem is None, report(problem, recipe)


class Worker:
    """A `python -m tests.fuzz.worker` process, started again after it dies."""

    def __init__(self):
        self.process = None
        self.graphs = self.problems = 0

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
            "PYTHONPATH", "")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def check(self, recipe) -> str | None:
        """The worker's answer for `recipe`: None (agree) or the problem, a crash or a hang."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        self.graphs += 1
        self.process.stdin.write(repr(recipe) + "\n")
        self.process.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(HANG_SECONDS)
        if not ready:
            self.stop()
            return f"no answer in {HANG_SECONDS} s (a hang)"
        line = self.process.stdout.readline()
        if not line:
            return f"the worker process died (exit code {self.process.wait()})"
        return None if line.strip() == "ok" else ast.literal_eval(line)

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def worker():
    process = Worker()
    yield process
    process.stop()
    print(f"\nfuzz: {process.graphs} graphs run in a worker, {process.problems} failed")


@pytest.mark.explore
@examples(1, suppress_health_check=SLOW_DRAWS)
@given(recipe=recipes(max_steps=12))
def test_explore_random_graphs_in_a_worker_process(worker, recipe):
    problem = worker.check(recipe)
    worker.problems += problem is not None
    assert problem is None, report(problem, recipe)
