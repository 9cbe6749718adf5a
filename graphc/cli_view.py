"""`graphc view FILE.py[:NAME] | MODEL.zip [-o OUT.html]`: the interactive viewer's page."""

from __future__ import annotations

import argparse

from graphc.cli_commands import load_target
from graphc.viz.view import MAX_NODES, view

HELP = "write one self-contained HTML page to explore a function or model"
DESCRIPTION = (
    "Write an HTML page (no network needed) with every pipeline stage of a graphc Function "
    "or a model's training step: pan/zoom, search, and each node's op, shapes, source line, "
    "kernel, FLOPs and LLVM IR."
)


def arguments(p) -> None:
    p.add_argument(
        "target",
        help="FILE.py[:NAME] (a Function, Graph, node or model, or a zero-argument function "
        "returning one) or a saved model file (.zip)",
    )
    p.add_argument("-o", "--output", default=None, help="page to write; default NAME-view.html")
    p.add_argument(
        "--max-nodes",
        type=int,
        default=MAX_NODES,
        help="stages with more nodes are drawn with kernels collapsed, or left out",
    )
    p.add_argument(
        "--assembly",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="kernels' assembly: by default disassembled from the cached object code "
        "(or a small module compiled again); --assembly compiles any module again",
    )


def run(args) -> int:
    name, obj = load_target(args.target)
    print(view(obj, args.output or f"{name}-view.html", max_nodes=args.max_nodes,
               assembly=args.assembly))
    return 0
