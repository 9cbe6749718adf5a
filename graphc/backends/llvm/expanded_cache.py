"""A disk cache of the expanded graph, keyed by the user's graph before any pass, so a warm
compile skips the passes (grad, simplify, expand) as well as the backend's stages.

The program cache (program_cache.py) is keyed by the expanded graph, which costs the passes to
build. This cache maps the raw graph's fingerprint (and the names of the passes to run on it;
the passes' sources are in every key through objects.source_digest) to a description of the
expanded graph: nodes kept from the raw graph by their position in it, new nodes by op, inputs,
attributes, shape and dtype, shared-variable storage by the raw node holding it. On a hit the
expanded graph is rebuilt from the user's own nodes, and used only if its fingerprint is the
one stored with it; anything else is a miss, and the passes run as before.
"""

from __future__ import annotations

import hashlib
import pickle  # the cache is the user's own and holds native code we run anyway: no new trust

from graphc.backends.llvm import cache, objects, program_cache
from graphc.ir import Graph, Node
from graphc.ops.leaves import Literal, SharedStorage

FORMAT = 1


def shortcut_key(run, backend_step) -> str | None:
    """The cache key of `run`'s expanded graph, when every stage after 'raw' is still deferred
    (a run whose passes ran already has nothing to skip), else None."""
    stages = run.stages
    if list(stages)[:1] != ["raw"] or any(name in stages.graphs for name in list(stages)[1:]):
        return None
    if not all(plain(value) for n in stages["raw"].nodes() for _, value in n.attrs):
        return None  # an attribute whose repr may not tell its value: no key from reprs
    steps = [(name, step.__module__, step.__qualname__)
             for name, (step, _) in stages.deferred.items()]
    steps.append(("expanded", backend_step.__module__, backend_step.__qualname__))
    raw_key, _ = program_cache.fingerprint(stages["raw"])
    text = repr((f"graphc-expanded-{FORMAT}", steps, raw_key))
    return hashlib.sha256(text.encode()).hexdigest()


def plain(value) -> bool:
    """Whether the fingerprint's repr of an attribute value tells the value exactly."""
    if isinstance(value, tuple):
        return all(plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, Literal, SharedStorage))


def store(key: str, raw: Graph, expanded: Graph, expanded_key: str) -> None:
    """Remember `expanded` (whose program-cache key is `expanded_key`) under `key`; a graph
    holding what cannot be described is not remembered."""
    try:
        payload = pickle.dumps((expanded_key, describe(raw, expanded)))
    except (KeyError, TypeError, pickle.PicklingError):  # e.g. a storage the raw graph lacks
        return
    cache.store(objects.object_key("expanded graph " + key), payload)


def load(key: str, raw: Graph):
    """(expanded key, its nodes, the expanded graph) rebuilt on `raw`'s nodes, or None."""
    payload = cache.load(objects.object_key("expanded graph " + key))
    if payload is None:
        return None
    try:
        expanded_key, description = pickle.loads(payload)
        expanded = rebuild(raw, description)
        found_key, nodes = program_cache.fingerprint(expanded)
    except Exception:  # noqa: BLE001 - a stale or damaged entry is a miss
        return None
    if found_key != expanded_key:  # never compile from a graph other than the passes' own
        return None
    return expanded_key, nodes, expanded


def describe(raw: Graph, expanded: Graph) -> dict:
    raw_nodes = raw.nodes()
    raw_index = {id(n): k for k, n in enumerate(raw_nodes)}
    storages = {id(s): k for k, n in enumerate(raw_nodes) for s in [n.attr("storage")]
                if s is not None}
    nodes = expanded.nodes()
    index = {id(n): k for k, n in enumerate(nodes)}
    records = []
    for n in nodes:
        if id(n) in raw_index:
            records.append(("raw", raw_index[id(n)]))
            continue
        if type(n) is not Node:
            raise TypeError(f"a new {type(n).__name__} node cannot be described")
        attrs = [(k, "storage", storages[id(v)]) if isinstance(v, SharedStorage) else
                 (k, "value", v) for k, v in n.attrs]
        records.append(("new", n.op, [index[id(i)] for i in n.inputs], attrs, n.shape,
                        n.dtype, n.name, n.site))
    return {"records": records,
            "inputs": [index[id(p)] for p in expanded.inputs],
            "outputs": [index[id(o)] for o in expanded.outputs],
            "updates": [(index[id(v)], index[id(e)]) for v, e in expanded.updates]}


def rebuild(raw: Graph, description: dict) -> Graph:
    raw_nodes = raw.nodes()
    nodes: list = []
    for record in description["records"]:
        if record[0] == "raw":
            nodes.append(raw_nodes[record[1]])
            continue
        _, op, inputs, attrs, shape, dtype, name, site = record
        values = {k: raw_nodes[v].attr("storage") if kind == "storage" else v
                  for k, kind, v in attrs}
        nodes.append(Node(op, [nodes[i] for i in inputs], values, shape, dtype, name, site))
    return Graph(tuple(nodes[k] for k in description["inputs"]),
                 tuple(nodes[k] for k in description["outputs"]),
                 tuple((nodes[v], nodes[e]) for v, e in description["updates"]))
