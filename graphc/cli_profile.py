"""`graphc profile FILE.py[:NAME] | --demo mlp`: gc.profile's per-kernel table of a function
(or of a model's step) on random inputs; --json writes the report as JSON.
"""

from __future__ import annotations

from pathlib import Path

from graphc.cli_commands import (
    DEMOS,
    UsageError,
    function_to_compare,
    load_target,
    random_inputs,
)
from graphc.profile import profile

HELP = "time every compiled kernel of a function's step; print a table"
DESCRIPTION = ("Compile a profiling build of a Function (or a model's step) with cycle counters "
               "around every kernel, call it on random inputs and print each kernel's calls, "
               "time, share of the step, FLOPs, GFLOP/s, % of the machine's peak and bytes.")


def arguments(p) -> None:
    p.add_argument("target", nargs="?", help="FILE.py[:NAME], as for `graphc dot`")
    p.add_argument("--demo", choices=sorted(DEMOS), help="a built-in example instead")
    p.add_argument("--batch", type=int, default=32, help="size of run-time (None) dimensions")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--repeat", type=int, default=20, help="timed calls")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON")


def run(args) -> int:
    if (args.target is None) == (args.demo is None):
        raise UsageError("give either FILE.py[:NAME] or --demo NAME")
    for name in ("batch", "repeat"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.demo:
        fn = DEMOS[args.demo]()
    else:
        fn = function_to_compare(args.target, load_target(args.target)[1])
    report = profile(fn, *random_inputs(fn, args.batch, args.seed), repeat=args.repeat)
    print(report)
    if args.json:
        Path(args.json).write_text(report.to_json())
    return 0
