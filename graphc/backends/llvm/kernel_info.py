"""`f.kernels`: what each compiled kernel contains, its shapes, FLOPs and compile-time share."""

from __future__ import annotations

import math
import re

from graphc.backends.llvm.runtime import KernelInfo
from passes.views import VIEW_OPS

TRANSCENDENTAL = {"exp", "log", "tanh", "sigmoid", "erf", "softplus", "gelu", "elu", "selu",
                  "pow", "sqrt"}


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
        share = sizes.get(name, 0) + sum(v for k, v in sizes.items() if k.startswith(
            "graphc_gemm") and body.kind == "dense")
        infos.append(KernelInfo(
            name=body.name, kind=body.kind, ops=tuple(n.op for n in body.nodes
                                                      if n.op not in VIEW_OPS),
            function=name, compile_ms=1e3 * seconds * min(share, total) / total,
            flops_of=flops_counter(body), nodes=tuple(body.nodes)))
    return infos


def flops_counter(body):
    """fn(concrete shapes, symbol values) -> (output shapes, estimated FLOPs)."""

    def count(shapes, values):
        outs = [tuple(shapes[id(o)]) for o in body.outputs]
        flops = 0
        for n in body.nodes:
            if n.op in VIEW_OPS:
                continue
            if n.op == "matmul":
                a = shapes[id(n.inputs[0])]
                k = a[-2] if n.attr("transpose_a") else a[-1]
                flops += 2 * math.prod(shapes[id(n)]) * k
            elif n.op.startswith("conv") and len(n.inputs) == 2:
                w = shapes[id(n.inputs[1])]
                flops += 2 * math.prod(shapes[id(n)]) * math.prod(w[:-1])
            elif n.op in ("sum", "mean", "max", "min"):
                flops += math.prod(shapes[id(n.inputs[0])])
            else:
                flops += math.prod(shapes[id(n)]) * (10 if n.op in TRANSCENDENTAL else 1)
        return outs, flops

    return count
