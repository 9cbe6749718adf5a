"""The pass manager: run a named pipeline and keep every stage's graph for inspection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from graphc.ir import Graph
from passes.autodiff import differentiate
from passes.simplify import simplify

Pass = Callable[[Graph], Graph]

# The front half of every function's pipeline; backends append their own stages.
CORE_PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("grad", differentiate),
    ("optimized", simplify),
)


@dataclass
class PipelineRun:
    """Each stage's graph in order (the first is 'raw') and the time each pass took."""

    stages: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    @property
    def last(self) -> Graph:
        return next(reversed(self.stages.values()))

    def run(self, name: str, step: Pass) -> Graph:
        start = time.perf_counter()
        graph = step(self.last)
        self.seconds[name] = time.perf_counter() - start
        self.stages[name] = graph
        return graph


def run_pipeline(graph: Graph, pipeline=CORE_PIPELINE, run: PipelineRun | None = None):
    """Run `pipeline` (a sequence of (stage name, pass)) from `graph`, keeping every stage."""
    run = run or PipelineRun(stages={"raw": graph})
    for name, step in pipeline:
        run.run(name, step)
    return run
