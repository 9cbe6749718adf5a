"""What the viewer's details panel shows for a node: op, shapes, dtype, the user's file:line,
the fused kernel it belongs to, its FLOPs, and the kernel's LLVM IR when it can be had.

Everything here is plain data (JSON-ready dicts); graphc/viz/view.py puts it in the page.
"""

from __future__ import annotations

import re

from graphc.ir import Node, shape_text
from graphc.ops import OPS
from graphc.viz.graph import HIDDEN_ATTRS, short
from graphc.viz.kernels import inner_ops

IR_LIMIT = 60_000  # characters of one kernel's IR kept in the page (a GEMM can be long)
NO_IR = (
    "this function's backend keeps no LLVM IR (the numpy interpreter compiles nothing); "
    "with backend='llvm', GRAPHC_DEBUG=2 dumps the optimized module (.ll), 3 also the assembly"
)


def kernel_bodies(fn) -> list:
    """The fused kernels' bodies of a Function's 'fused' stage (empty without one)."""
    if fn is None or "fused" not in fn.stages:
        return []
    return [n.attr("body") for n in fn.graph("fused").nodes() if n.op == "kernel"]


def kernel_table(fn) -> dict:
    """{id(inner op node): name of the fused kernel that contains it}."""
    return {id(node): body.name for body in kernel_bodies(fn) for node in body.nodes}


def run_time_shapes(fn) -> dict:
    """{id(node): concrete shape} of the Function's most recent call (llvm backend), else {}."""
    return dict(getattr(getattr(fn, "executable", None), "shapes", None) or {})


def node_flops(node: Node, shapes: dict) -> int | None:
    """The op table's FLOP estimate, from the last call's shapes or else the static ones;
    None when a size is known only at run time and no call has fixed it."""
    entry = OPS.get(node.op)
    if entry is None or entry.flops is None:
        return None

    def shape_of(n):
        shape = shapes.get(id(n), n.shape)
        if any(d is None for d in shape):
            raise LookupError(n)
        return tuple(shape)

    try:
        return int(entry.flops(node, shape_of))
    except LookupError:
        return None


def attrs_text(node: Node) -> str:
    return ", ".join(
        f"{k}={short(v, 60)}" for k, v in node.attrs if k not in HIDDEN_ATTRS and v is not False
    )


def describe_node(node: Node, part, kernels: dict, shapes: dict) -> dict:
    """The details of one drawn node."""
    kernel = kernels.get(id(node))
    body = node.attr("body") if node.op == "kernel" else None
    details = {
        "op": node.op,
        "name": node.name or "",
        "shape": shape_text(node.shape),
        "dtype": node.dtype,
        "site": node.site,
        "part": part or "",
        "attrs": attrs_text(node),
        "inputs": [shape_text(i.shape) for i in node.inputs],
        "kernel": kernel or (body.name if body else ""),
        "flops": node_flops(node, shapes),
    }
    if body is not None:
        details["ops"] = " ".join(body.ops) or "copy"
        details["kind"] = body.kind
    if shapes.get(id(node)) is not None:
        details["run_shape"] = shape_text(shapes[id(node)])
    return details


def describe_drawn(writer, fn, before: set | None = None) -> dict:
    """{DOT id: details} for every node a Writer drew (kernel inner ops included); with
    `before` (node ids of the stage before), each says whether this stage's pass made it."""
    kernels, shapes = kernel_table(fn), run_time_shapes(fn)
    nodes = {}
    for node in writer.drawing.graph.nodes():
        nodes[id(node)] = node
        for inner in inner_ops(node):
            nodes[id(inner)] = inner
    parts, table = writer.drawing.parts, {}
    for key, dot_id in writer.ids.items():
        if key in nodes:
            table[dot_id] = describe_node(nodes[key], parts.get(key), kernels, shapes)
            if before is not None:
                table[dot_id]["new in this stage"] = key not in before
    return table


def describe_kernels(fn) -> dict:
    """{kernel name: summary} for the fused kernels of a Function; FLOPs from the last
    call's shapes (None before a call when a size is known only at run time)."""
    compiled = {info.name: info for info in getattr(fn, "kernels", None) or []}
    shapes, table = run_time_shapes(fn), {}
    for body in kernel_bodies(fn):
        counts = [node_flops(n, shapes) for n in body.nodes]
        info = compiled.get(body.name)
        table[body.name] = {
            "kind": body.kind,
            "ops": " ".join(body.ops) or "copy",
            "flops": None if None in counts else sum(counts),
            "llvm function": info.function if info else "",
            "compile ms (share)": round(info.compile_ms, 2) if info else None,
        }
    return table


def function_definitions(module_text: str) -> dict:
    """{LLVM function name: its 'define ... { ... }' text} in a module's text."""
    found = {}
    for chunk in module_text.split("\ndefine ")[1:]:
        name = re.search(r'@"?([\w.$-]+)"?\(', chunk)
        if name:
            found[name.group(1)] = "define " + chunk.split("\n}\n")[0] + "\n}"
    return found


def assembly_functions(assembly: str) -> dict:
    """{function name: its assembly, from its label to the end of its body} in an .s text."""
    found, name, lines = {}, None, []
    for line in assembly.splitlines():
        label = re.match(r"([A-Za-z_][\w.$]*):", line)
        if label and name is None:
            name, lines = label.group(1), []
        if name is not None:
            lines.append(line)
        if name is not None and re.match(r"\.Lfunc_end\d+:", line):
            found[name], name = "\n".join(lines), None
    return found


def capped(text: str) -> str:
    if len(text) > IR_LIMIT:
        return text[:IR_LIMIT] + f"\n; ... {len(text) - IR_LIMIT} more characters"
    return text


def per_kernel(fn, functions: dict) -> dict:
    """{kernel name: the text of its LLVM function and its helpers <function>.<part>}."""
    table = {}
    for info in getattr(fn, "kernels", None) or []:
        own = [text for name, text in functions.items()
               if name == info.function or name.startswith(info.function + ".")]
        table[info.name] = capped("\n\n".join(own))
    return table


def kernel_ir(fn, module_text: str | None) -> dict:
    """{kernel name: its LLVM IR as emitted}, each capped."""
    return per_kernel(fn, function_definitions(module_text)) if module_text else {}


def kernel_assembly(fn, functions: dict | None) -> dict:
    """{kernel name: its assembly as compiled (after LLVM's optimizations)}, each capped;
    `functions`: {function name: its assembly} of the module."""
    return per_kernel(fn, functions) if functions else {}
