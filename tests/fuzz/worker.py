"""The fuzzer's worker process: reads one recipe repr per line on stdin, answers one line per
recipe on stdout ("ok" or the problem, as a repr), so the parent survives a segfault or a hang
of the compiled code and reports it with its reproducer (tests/fuzz/test_fuzz_backends.py).

    python -m tests.fuzz.worker
"""

from __future__ import annotations

import ast
import sys

from tests.fuzz.graphs import problem_of


def main() -> None:
    for line in sys.stdin:
        problem = problem_of(ast.literal_eval(line))
        print("ok" if problem is None else repr(problem), flush=True)


if __name__ == "__main__":
    main()
