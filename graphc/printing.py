"""`debugprint`: Theano-style text view of a node, a graph or every stage of a function."""

from __future__ import annotations

import io

from graphc.ir import Graph, Node, shape_text


def node_label(node: Node) -> str:
    attrs = {k: v for k, v in node.attrs if k not in ("shape", "dtype", "storage")}
    text = node.op
    if node.op == "constant":
        text = f"constant {attrs.pop('value')!r}"
    if attrs:
        text += " {" + ", ".join(f"{k}={v}" for k, v in attrs.items()) + "}"
    if node.name:
        text += f" '{node.name}'"
    return f"{text} {shape_text(node.shape)} {node.dtype}"


def print_tree(roots, out, ids: dict, show_site: bool) -> None:
    for root in roots:
        stack = [(root, "")]
        while stack:
            node, indent = stack.pop()
            seen = id(node) in ids
            ids.setdefault(id(node), f"id{len(ids)}")
            site = f"  <- {node.site}" if show_site and not seen else ""
            out.write(f"{indent}{node_label(node)} [{ids[id(node)]}]{site}\n")
            if not seen:
                stack.extend((i, indent + " |") for i in reversed(node.inputs))


def format_graph(graph: Graph, show_site: bool = False) -> str:
    out, ids = io.StringIO(), {}
    for i, o in enumerate(graph.outputs):
        out.write(f"output {i}:\n")
        print_tree([o], out, ids, show_site)
    for var, expr in graph.updates:
        out.write(f"update {var.name or 'shared'}:\n")
        print_tree([expr], out, ids, show_site)
    return out.getvalue()


def debugprint(obj, stage: str | None = None, show_site: bool = False, file=None) -> str:
    """Print (and return) a text view of a node, list of nodes, Graph or Function.

    A function prints every pipeline stage ('raw', 'grad', 'optimized', ...) unless `stage`
    picks one. Shared subtrees print once; later uses show only their [id].
    """
    if hasattr(obj, "pipeline"):
        names = [stage] if stage else list(obj.pipeline.stages)
        text = "".join(
            f"=== stage {name}: {len(obj.graph(name).nodes())} nodes ===\n"
            + format_graph(obj.graph(name), show_site)
            for name in names
        )
    elif isinstance(obj, Graph):
        text = format_graph(obj, show_site)
    else:
        nodes = [obj] if isinstance(obj, Node) else list(obj)
        text = format_graph(Graph((), tuple(nodes)), show_site)
    print(text, end="", file=file)
    return text
