"""The `graphc` command line.

    graphc dot FILE.py[:NAME] [--stage STAGE | --all-stages] [-o OUT.svg]
    graphc dot MODEL.zip [-o model.png]
    graphc compare FILE.py[:NAME] [--shape NAME=D1,D2 ...] [--batch N] | --demo mlp
    graphc summary MODEL.zip [--unsafe-allow-code]
    graphc view FILE.py[:NAME] | MODEL.zip [-o page.html]
    graphc profile FILE.py[:NAME] [--batch N] [--repeat N] [--json OUT] | --demo mlp
    graphc export MODEL.zip|FILE.py[:NAME] --format so -o DIR [--cpu CPU] [--weights-file]
    graphc bench [--steps N] [--backend B] | graphc bench --scripts [NAME ...]
    graphc info
    graphc cache info | graphc cache clear | graphc cache prebuild

FILE.py[:NAME] names something built in a Python file of yours: NAME is a graphc Function,
Graph, node, a Keras-style model, or a function taking no arguments that returns one. The
file runs as a module (not as __main__, so its `if __name__ == "__main__":` part is skipped).
Without NAME the file must define exactly one Function or model.

Exit codes: 0 success, 1 the work failed, 2 the command line or an input file is wrong.
Errors are one line; add --traceback (or set GRAPHC_TRACEBACK=1) to see where they came from.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from graphc import cli_commands as commands
from graphc import cli_export, cli_profile, cli_view
from graphc import cli_machine as machine
from graphc.cli_commands import CommandError, UsageError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not the usage text."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


@dataclass(frozen=True)
class Command:
    """One `graphc COMMAND`: its help line, its --help description, what runs it, and the
    function that adds its arguments."""

    name: str
    help: str
    description: str
    run: Callable | None
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def dot_arguments(p) -> None:
    p.add_argument(
        "target",
        help="FILE.py[:NAME] (a Function, Graph, node or model, or a "
        "zero-argument function returning one) or a saved model file (.zip)",
    )
    p.add_argument(
        "-s",
        "--stage",
        default=None,
        help="pipeline stage: raw, grad, optimized (default), or a backend stage "
        "such as fused; for a model, draws its training step at that stage",
    )
    p.add_argument(
        "--all-stages",
        action="store_true",
        help="write one picture per stage (OUT's name gets -STAGE appended)",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="picture to write (.svg, .png, .pdf or .dot); default NAME-STAGE.svg",
    )
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"])
    p.add_argument("--no-constants", action="store_true", help="leave constants out")
    allow_code_argument(p)


def allow_code_argument(p) -> None:
    p.add_argument(
        "--unsafe-allow-code",
        action="store_true",
        help="load a saved model's Lambda layers, whose functions are Python bytecode that runs "
        "(safe_mode=False): only for files you trust",
    )


def compare_arguments(p) -> None:
    p.add_argument("target", nargs="?", help="FILE.py[:NAME], as for `graphc dot`")
    p.add_argument("--demo", choices=sorted(commands.DEMOS), help="a built-in example instead")
    p.add_argument(
        "--shape",
        action="append",
        metavar="NAME=D1,D2",
        help="shape of input NAME's random array, e.g. x=100,784 (repeatable)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="size of the other run-time (None) dimensions; default the first --shape's first "
        f"dimension, else {commands.DEFAULT_BATCH}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument(
        "--dot",
        metavar="OUT",
        default=None,
        help="also draw the fused graph, coloured by each kernel's error and time",
    )


def summary_arguments(p) -> None:
    p.add_argument("model", help="the saved model file (.zip)")
    allow_code_argument(p)


def bench_arguments(p) -> None:
    p.add_argument("names", nargs="*", help="with --scripts: which bench/ scripts to run")
    p.add_argument("--scripts", action="store_true", help="run the bench/ scripts")
    p.add_argument("--steps", type=int, default=20, help="timed steps per backend")
    p.add_argument(
        "--backend",
        action="append",
        choices=["numpy", "llvm"],
        help="backend to time (repeatable; default both)",
    )


def cache_arguments(p) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineParser)
    actions.required = True
    info = actions.add_parser(
        "info", help="folder, number of entries and size", epilog="example: graphc cache info"
    )
    info.set_defaults(run=machine.cache_info)
    clear = actions.add_parser(
        "clear", help="delete every cached entry", epilog="example: graphc cache clear"
    )
    clear.set_defaults(run=machine.cache_clear)
    prebuild = actions.add_parser(
        "prebuild", help="compile the standard GEMM variants into the cache (once per machine)",
        epilog="example: graphc cache prebuild")
    prebuild.set_defaults(run=machine.cache_prebuild)


COMMANDS = (
    Command(
        "dot",
        "draw a function's graph at a pipeline stage, or a model's layers",
        "Draw a graphc Function (at a pipeline stage) or a Keras-style model. "
        "Writes .svg/.png/.pdf with graphviz's dot, or the .dot text without it.",
        commands.dot,
        "graphc dot my_model.py:train --stage grad -o grad.svg",
        dot_arguments,
    ),
    Command(
        "compare",
        "run a function interpreted (numpy) and compiled (llvm); print errors",
        "Run a Function with the NumPy interpreter and with the llvm backend on "
        "the same random inputs and print each output's and each kernel's error and time.",
        commands.compare,
        "graphc compare my_model.py:train --shape x=100,784",
        compare_arguments,
    ),
    Command(
        "summary",
        "print the summary of a saved model",
        "Load a model saved with model.save() and print its layers, shapes and parameter counts.",
        commands.summary,
        "graphc summary mnist_mlp.zip",
        summary_arguments,
    ),
    Command(
        "view",
        cli_view.HELP,
        cli_view.DESCRIPTION,
        cli_view.run,
        "graphc view my_model.py:train -o step.html",
        cli_view.arguments,
    ),
    Command(
        "profile",
        cli_profile.HELP,
        cli_profile.DESCRIPTION,
        cli_profile.run,
        "graphc profile --demo mlp --repeat 50 --json profile.json",
        cli_profile.arguments,
    ),
    Command(
        "export",
        cli_export.HELP,
        cli_export.DESCRIPTION,
        cli_export.run,
        "graphc export mnist_mlp.zip --format so -o mnist_c",
        cli_export.arguments,
    ),
    Command(
        "bench",
        "time an MLP training step per backend, or run the bench/ scripts",
        "Without --scripts: time the training step of a 784-500-500-10 MLP "
        "(batch 100, SGD) on each backend. With --scripts: run the repository's bench/ "
        "scripts (all, or those named).",
        machine.bench,
        "graphc bench --steps 50 --backend llvm",
        bench_arguments,
    ),
    Command(
        "info",
        "CPU, threads, versions, cache and data folders",
        "Print what graphc runs on: CPU name and features, "
        "threads, llvmlite/LLVM versions, the compile cache's folder and "
        "size, the datasets folder and graphviz.",
        machine.info,
        "graphc info --peak",
        machine.info_arguments,
    ),
    Command(
        "cache",
        "show, clear or prebuild the compiled-code cache",
        "The llvm backend keeps compiled object code on disk "
        "(GRAPHC_CACHE_DIR) so a program compiles once.",
        None,  # its actions (info, clear, prebuild) run
        "graphc cache info",
        cache_arguments,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="graphc",
        description="graphc: a dataflow-graph compiler for neural networks that a person can read.",
        epilog="Add --help after a command for its options.",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="show the Python traceback of an error (or GRAPHC_TRACEBACK=1)",
    )
    parser.add_argument("--version", action="version", version=f"graphc {commands.version()}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    subparsers.required = True
    for command in COMMANDS:
        p = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=f"example: {command.example}",
        )
        command.add_arguments(p)
        if command.run is not None:
            p.set_defaults(run=command.run)
    return parser


def wants_traceback(argv) -> bool:
    flag = os.environ.get("GRAPHC_TRACEBACK", "").strip().lower()
    return "--traceback" in argv or flag in ("1", "true", "yes", "on")


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return args.run(args) or 0
    except UsageError as err:
        return fail(err, 2, argv)
    except BrokenPipeError:  # the reader went away (`graphc info | head`): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for any failure; the traceback on request
        return fail(err, 1, argv)


def fail(err: Exception, code: int, argv) -> int:
    if wants_traceback(argv):
        traceback.print_exc()
    text = str(err).strip() or type(err).__name__
    kind = "" if isinstance(err, (UsageError, CommandError)) else f"{type(err).__name__}: "
    print(f"graphc: error: {kind}{' '.join(text.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
