"""A disk cache of whole compiled functions, keyed by the structure of the expanded graph.

The first compile of a function stores its object code (objects.remember) and a description
of its Program: symbols, buffers, kernels, GEMM variants. A later process that builds a graph
of the same structure (same ops, attributes, shapes, dtypes, wiring, constant values and names;
any shared-variable values) loads both and skips the stages fuse, schedule, plan memory,
emit and compile. Nodes are referred to by their position in `graph.nodes()`, which is the
same for graphs of the same structure, and re-bound to the new graph's nodes on load. An
entry that cannot be read or rebound is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import pickle  # the cache is the user's own and holds native code we run anyway: no new trust
import time

import numpy as np

from graphc.backends.llvm import cache, gemm_library, mcjit, objects, parallel_compile, threads
from graphc.backends.llvm.gemm_library import VARIANTS
from graphc.backends.llvm.mcjit import CompiledModule
from graphc.backends.llvm.program import Buffer, Program
from graphc.backends.llvm.runtime import KernelInfo
from graphc.ops.leaves import aligned_copy
from passes.symbols import Symbols

FORMAT = 2


def fingerprint(graph) -> tuple[str, list]:
    """(key, nodes): a digest of everything about `graph` that the compiled code depends on."""
    nodes = graph.nodes()
    index = {id(n): k for k, n in enumerate(nodes)}
    storages: dict = {}
    h = hashlib.sha256(f"graphc-program-{FORMAT}".encode())
    for n in nodes:
        attrs = []
        for key, value in n.attrs:
            if key == "storage":
                group = storages.setdefault(id(value), len(storages))
                value = ("storage", group, value.value.shape, value.value.dtype.str)
            elif key == "value":
                dtype, shape, data = value._key
                value = ("literal", dtype, shape, hashlib.sha1(data).hexdigest())
            attrs.append((key, value))
        h.update(repr((n.op, n.dtype, n.shape, n.name, [index[id(i)] for i in n.inputs],
                       attrs)).encode())
    h.update(repr(([index[id(p)] for p in graph.inputs], [index[id(o)] for o in graph.outputs],
                   [(index[id(v)], index[id(e)]) for v, e in graph.updates])).encode())
    return h.hexdigest(), nodes


def store(key, nodes, program, kernels, text, seconds) -> None:
    index = {id(n): k for k, n in enumerate(nodes)}
    syms = program.syms
    description = {
        "specs": [(s[0], index[id(s[1])], s[2]) if s[0] == "dim" else s for s in syms.specs]
        if syms else [],
        "assumed": [(a, b, index[id(n)]) for a, b, n in syms.assumed] if syms else [],
        "buffers": [(b.kind, b.dtype, b.elems, None if b.node is None else index[id(b.node)],
                     b.index, b.first, b.last) for b in program.buffers],
        "outputs": [b.slot for b in program.outputs],
        "inplace": program.inplace,
        "checked": [None if n is None else index[id(n)] for n in program.checked],
        "kernels": [(k.name, k.kind, k.ops, k.function, k.compile_ms) for k in kernels],
        "gemms": sorted({v for name, v in VARIANTS.items() if name in text}),
        "seconds": seconds,
    }
    objects.remember("program " + key, text)
    cache.store(objects.object_key("program description " + key), pickle.dumps(description))


def load(key, nodes, graph):
    """(Program, CompiledModule, [KernelInfo]) from the cache, or None."""
    payload = cache.load(objects.object_key("program description " + key))
    if payload is None:
        return None
    start = time.perf_counter()
    try:
        d = pickle.loads(payload)
        code = objects.payload("program " + key)
        if code is None:
            return None
        compiled = load_with_gemms(code, d["gemms"])
        program = rebuild(d, nodes, graph)
    except Exception:  # noqa: BLE001 - a stale or damaged entry is a miss
        return None
    compiled.seconds = time.perf_counter() - start
    kernels = [KernelInfo(name=n, kind=k, ops=tuple(o), function=f, compile_ms=ms)
               for n, k, o, f, ms in d["kernels"]]
    return program, compiled, kernels


def load_with_gemms(code: bytes, gemms) -> CompiledModule:
    """The program's code loaded in one engine with the GEMM variants it calls that are not
    loaded yet (an engine costs ~1 ms to make: one per variant was most of a warm start)."""
    variants = gemm_library.cached_objects(gemms)
    parts = [part for payload in [*variants.values(), code]
             for part in parallel_compile.unpack(payload)]
    threads.ensure_runtime()  # the code may call graphc_barrier
    compiled = mcjit.load_object(parallel_compile.pack(parts), "graphc_fn_cached")
    gemm_library.register_loaded(variants, compiled)
    return compiled


def rebuild(d, nodes, graph) -> Program:
    syms = Symbols()
    syms.specs = [(s[0], nodes[s[1]], s[2]) if s[0] == "dim" else s for s in d["specs"]]
    syms.assumed = [(a, b, nodes[k]) for a, b, k in d["assumed"]]
    buffers = []
    for slot, (kind, dtype, elems, node_index, index, first, last) in enumerate(d["buffers"]):
        node = None if node_index is None else nodes[node_index]
        buf = Buffer(kind, dtype, elems, node=node, index=index, slot=slot, first=first,
                     last=last)
        if kind == "shared":
            buf.array = node.attr("storage").value
        elif kind == "constant":
            buf.array = aligned_copy(np.ascontiguousarray(node.attr("value").value))
        buffers.append(buf)
    outputs = [buffers[slot] for slot in d["outputs"]]
    checked = [None if k is None else nodes[k] for k in d["checked"]]
    return Program(graph, syms, [], buffers, outputs, [], d["inplace"], checked=checked)
