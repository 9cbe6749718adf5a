"""Programs for calls in which run-time sizes of 1 broadcast, as in NumPy.

A function is compiled once with its None sizes symbolic, and run-time sizes that meet in an
op are compiled as one size (so loops fuse and vectorize). When a call's check finds a
run-time size of 1 that broadcasts (passes.symbols.SizeOneBroadcast), the function compiles,
once, a program in which the input sizes that are 1 in this call are fixed to 1, and keeps
it for every later call with the same sizes of 1 ("size-1 pattern"). Ordinary calls never
reach this code, so their cost does not change.
"""

from __future__ import annotations

from graphc.ir import Graph
from passes.manager import run_pipeline
from passes.specialize import with_input_sizes

MAX_PATTERNS = 64  # size-1 patterns kept per function (each one is a compiled program)


class SizeOnePrograms:
    """The programs of one function's size-1 patterns, compiled on first use."""

    def __init__(self, raw: Graph, backend):
        self.raw, self.backend = raw, backend
        self.programs: dict = {}

    def program_for(self, arrays, error: Exception):
        """The program for the calls whose None sizes are 1 where `arrays`' are; re-raises
        `error` when no input size is 1 (the size of 1 is computed inside the graph)."""
        pattern = size_one_pattern(self.raw.inputs, arrays)
        if not pattern:
            raise error
        found = self.programs.get(pattern)
        if found is None:
            if len(self.programs) >= MAX_PATTERNS:
                self.programs.clear()
            graph = with_input_sizes(self.raw, dict.fromkeys(pattern, 1))
            found = self.programs[pattern] = self.backend.compile(run_pipeline(graph))
        return found


def size_one_pattern(inputs, arrays) -> tuple:
    """(input position, axis) of each None size that is 1 in `arrays`."""
    return tuple((k, axis) for k, (p, a) in enumerate(zip(inputs, arrays))
                 for axis, d in enumerate(p.shape) if d is None and a.shape[axis] == 1)
