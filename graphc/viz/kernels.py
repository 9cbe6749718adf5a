"""Fused kernels in diagrams: a cluster around the ops each kernel contains.

The fused stage (passes/fuse.py) holds 'kernel' nodes whose attr 'body' lists the inner
nodes (nodes of the stage before, 'expanded'), the nodes the kernel reads (`inputs`, one per
input of the kernel node) and the nodes it produces (`outputs`; output i >= 1 is read
through a 'kernel_output' node). A diagram draws each inner op inside the kernel's cluster
and wires the edges between kernels from the producing inner op to the consuming one.
"""

from __future__ import annotations

import math
import textwrap

from graphc.ir import Node, shape_text
from graphc.ops import LEAVES
from graphc.viz import dtypes
from graphc.viz.parts import BACKWARD, FORWARD


def inner_ops(node: Node) -> tuple:
    """The op nodes a fused kernel contains (empty for any other node)."""
    return tuple(node.attr("body").nodes) if node.op == "kernel" else ()


def exit_id(writer, node: Node) -> str:
    """DOT id of the drawn node that carries `node`'s value (inside a cluster for kernels)."""
    if writer.collapse_kernels and node.op in ("kernel", "kernel_output"):
        return writer.id_of(node if node.op == "kernel" else node.inputs[0])
    if node.op == "kernel_output":
        kernel = node.inputs[0]
        return produced_by(writer, kernel, kernel.attr("body").outputs[node.attr("index")])
    if node.op == "kernel":
        return produced_by(writer, node, node.attr("body").outputs[0])
    return writer.id_of(node)


def produced_by(writer, kernel: Node, inner: Node) -> str:
    """The drawn node for `inner`, one of the kernel's outputs (which may be a plain input
    passed through, in a kernel that only copies)."""
    body = kernel.attr("body")
    if any(n is inner for n in body.nodes):
        return writer.id_of(inner)
    for outer, read in zip(kernel.inputs, body.inputs):
        if read is inner:
            return exit_id(writer, outer)
    return writer.id_of(kernel)  # the kernel's own box (a kernel without inner ops)


def source_of(writer, kernel: Node, inner_input: Node) -> str | None:
    """DOT id that feeds `inner_input` into the kernel, or None if it is not drawn."""
    body = kernel.attr("body")
    for outer, read in zip(kernel.inputs, body.inputs):
        if read is inner_input:
            return exit_id(writer, outer) if writer.visible(outer) else None
    if inner_input.op in LEAVES:  # a leaf the kernel reads directly
        if not writer.visible(inner_input):
            return None
        writer.ensure_drawn(inner_input)
        return writer.id_of(inner_input)
    return writer.id_of(inner_input)  # inside the same kernel


def draw_kernel(writer, kernel: Node) -> None:
    body = kernel.attr("body")
    stats = writer.drawing.kernel_stats.get(body.name)
    if writer.collapse_kernels:
        draw_kernel_box(writer, kernel, body, stats)
        return
    with writer.dot.subgraph(name=f"cluster_{writer.id_of(kernel)}") as cluster:
        cluster.attr(label=cluster_label(body, stats),
                     **cluster_style(stats, kernel_class(writer, kernel)))
        if not body.nodes:
            cluster.node(writer.id_of(kernel), "copy", shape="box", style="rounded")
        for inner in body.nodes:
            writer.draw_node(inner, cluster)
    if not body.nodes:
        for outer in kernel.inputs:
            if writer.visible(outer):
                writer.dot.edge(exit_id(writer, outer), writer.id_of(kernel))
    for inner in body.nodes:
        for i in inner.inputs:
            source = source_of(writer, kernel, i)
            if source is not None:
                writer.dot.edge(source, writer.id_of(inner))


def draw_kernel_box(writer, kernel: Node, body, stats) -> None:
    """The kernel as one box: name, kind, its ops, its first output's shape."""
    ops = textwrap.wrap(" ".join(body.ops) or "copy", 34)
    ops = ops[:4] + (["..."] if len(ops) > 4 else [])
    shape = f"{shape_text(kernel.shape)} {kernel.dtype}"
    label = "\n".join([cluster_label(body, stats), *ops, shape])
    parts = {writer.drawing.parts.get(id(n)) for n in body.nodes}
    fill = {"forward": "#ffffff", "backward": "#fee2e2"}
    style = dict(
        shape="box",
        style="rounded,filled",
        color="#334155",
        fillcolor=fill["backward"] if BACKWARD in parts else fill["forward"],
    )
    if parts >= {BACKWARD, FORWARD}:
        style["fillcolor"] = f"{fill['forward']}:{fill['backward']}"  # a gradient: both parts
    style.update(dtypes.outline(kernel_class(writer, kernel)))
    if stats:
        style.update(color=stats["colour"], penwidth="2.5")
    writer.dot.node(writer.id_of(kernel), label, **style)
    writer.draw_edges_into(kernel)


def cluster_label(body, stats) -> str:
    label = f"{body.name} ({body.kind})"
    return f"{label}\n{stats['label']}" if stats else label


def kernel_class(writer, kernel: Node) -> str:
    """The dtype class a kernel computes in: the narrowest of its ops' (noted in the legend)."""
    inner = inner_ops(kernel)
    classes = [dtypes.compute_class(n) for n in inner] or [dtypes.compute_class(kernel)]
    return writer.legend.note(dtypes.narrowest(classes))


def cluster_style(stats, dtype_class: str = "float32") -> dict:
    base = dict(
        style="rounded,filled",
        fillcolor="#f1f5f9",
        color="#64748b",
        fontname="Helvetica",
        fontsize="10",
        labeljust="l",
    )
    base.update(dtypes.outline(dtype_class))
    if stats:  # the outline in the overlay's colour, its ops on a tint of it
        base.update(color=stats["colour"], fillcolor=stats["colour"] + "26", penwidth="2.5")
    return base


def stats_colour(stats: dict) -> str:
    """A kernel with elements beyond the comparison's tolerance is red whatever its error."""
    return "#dc2626" if stats.get("mismatches") else error_colour(stats["error"])


def error_label(error: float | None, seconds: float | None) -> str:
    label = "error n/a" if error is None else f"error {error:.1e}"
    return label if seconds is None else f"{label}, {seconds * 1e3:.3g} ms"


def error_colour(error: float) -> str:
    """Green for agreement to float32 rounding, amber for 1e-4-ish, red beyond or NaN."""
    if error is None or not math.isfinite(error) or error > 1e-3:
        return "#dc2626"
    return "#16a34a" if error <= 1e-5 else "#d97706"


def stats_from_report(report) -> dict:
    """{kernel name: {'error', 'seconds', 'mismatches', 'colour', 'label'}} from a
    graphc.compare report: the error is each kernel's largest relative difference from the
    interpreter (`max_rel`)."""
    if report is None:
        return {}
    rows = getattr(report, "kernels", None)
    if rows is None:
        raise TypeError(
            f"report must be a graphc.compare report with per-kernel rows; "
            f"got {type(report).__name__}"
        )
    stats = {}
    for row in rows:

        def get(key, row=row):
            return row.get(key) if isinstance(row, dict) else getattr(row, key, None)

        error = get("max_rel") if get("max_rel") is not None else get("error")
        seconds = get("seconds") if get("seconds") is not None else get("time")
        entry = {"error": error, "seconds": seconds, "mismatches": get("mismatches") or 0}
        entry.update(colour=stats_colour(entry), label=error_label(error, seconds))
        stats[get("name")] = entry
    return stats
