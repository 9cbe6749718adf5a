"""The pass manager: run a named pipeline and keep every stage's graph for inspection.

Stages that produce a graph are kept in `run.stages`; a backend's other steps (schedule,
memory plan, emit, ...) are timed with `run.measure` and appear in `run.seconds` only. A stage
may be deferred (`run.defer`): it is computed, and timed, the first time it is read, so a
compile that does not need it (a program-cache hit) does not pay for it. `run_pipeline(graph,
lazy=True)` defers every stage, so a backend may find the whole pipeline's result in its cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
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


class Stages(Mapping):
    """Stage name -> graph, in pipeline order; a deferred stage is computed when first read."""

    def __init__(self, graphs=None, seconds=None):
        self.graphs: dict = dict(graphs or {})
        self.deferred: dict = {}  # name -> (pass, name of the input stage)
        self.seconds = {} if seconds is None else seconds
        self.order: list = list(self.graphs)

    def add(self, name: str, graph: Graph) -> None:
        self.graphs[name] = graph
        self.order.append(name)

    def defer(self, name: str, step: Pass, source: str) -> None:
        self.deferred[name] = (step, source)
        self.order.append(name)

    def __getitem__(self, name: str) -> Graph:
        if name in self.deferred:
            step, source = self.deferred[name]
            graph = self[source]  # computed first when itself deferred
            start = time.perf_counter()
            self.graphs[name] = step(graph)  # a step that raises stays deferred, and raises again
            self.seconds[name] = time.perf_counter() - start
            del self.deferred[name]
        return self.graphs[name]

    def __contains__(self, name) -> bool:
        """Whether a stage exists, without computing a deferred one."""
        return name in self.graphs or name in self.deferred

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


@dataclass
class PipelineRun:
    """Each stage's graph in order (the first is 'raw') and the time each step took."""

    stages: Stages | dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.stages, Stages):
            self.stages = Stages(self.stages, self.seconds)

    @property
    def last(self) -> Graph:
        return self.stages[self.stages.order[-1]]

    def run(self, name: str, step: Pass) -> Graph:
        """Run a graph pass on the last stage and keep its result as stage `name`."""
        graph = self.measure(name, step, self.last)
        self.stages.add(name, graph)
        return graph

    def defer(self, name: str, step: Pass) -> None:
        """Stage `name` is `step` of the last stage, computed when first read."""
        self.stages.defer(name, step, self.stages.order[-1])

    def measure(self, name: str, step: Callable, *inputs):
        """step(*inputs), its time kept as seconds[name] (a backend step that is no graph)."""
        start = time.perf_counter()
        result = step(*inputs)
        self.seconds[name] = time.perf_counter() - start
        return result


def run_pipeline(graph: Graph, pipeline=CORE_PIPELINE, run: PipelineRun | None = None,
                 lazy: bool = False):
    """Run `pipeline` (a sequence of (stage name, pass)) from `graph`, keeping every stage;
    lazy=True defers each stage until it (or a later one) is read."""
    run = run or PipelineRun(stages={"raw": graph})
    for name, step in pipeline:
        if lazy:
            run.defer(name, step)
        else:
            run.run(name, step)
    return run
