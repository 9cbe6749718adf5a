"""`f.kernels`: what each compiled kernel contains, its shapes, FLOPs and compile-time share."""

from __future__ import annotations

import re

from graphc.backends.llvm.runtime import KernelInfo
from graphc.ops import OPS, VIEWS


def definition_sizes(text: str) -> dict:
    """{function name: characters of its definition} in a module's text."""
    sizes = {}
    for chunk in text.split("\ndefine ")[1:]:
        found = re.search(r'@"?([\w.$-]+)"?\(', chunk)
        if found:
            sizes[found.group(1)] = len(chunk)
    return sizes


def describe_kernels(program, names, text, seconds) -> list:
    sizes = definition_sizes(text)
    total = sum(sizes.values()) or 1
    infos = []
    for call, name in zip(program.calls, names):
        body = call.body
        # a kernel's helpers are named <kernel>.<part>; dense kernels share the GEMM library
        share = sizes.get(name, 0) + sum(v for k, v in sizes.items() if k.startswith(
            name + ".") or k.startswith("graphc_gemm") and body.kind == "dense")
        infos.append(KernelInfo(
            name=body.name, kind=body.kind, ops=tuple(n.op for n in body.nodes
                                                      if n.op not in VIEWS),
            function=name, compile_ms=1e3 * seconds * min(share, total) / total,
            flops_of=flops_counter(body), nodes=tuple(body.nodes)))
    return infos


def flops_counter(body):
    """fn(concrete shapes, symbol values) -> (output shapes, estimated FLOPs), the FLOPs from
    each op's entry in the op table."""

    def count(shapes, values):
        def shape_of(node):
            return shapes[id(node)]

        outs = [tuple(shape_of(o)) for o in body.outputs]
        return outs, sum(OPS[n.op].flops(n, shape_of) for n in body.nodes)

    return count
