"""Fused kernels in diagrams: a cluster around the ops each kernel contains."""

from __future__ import annotations

from graphc.ir import Node


def inner_ops(node: Node) -> tuple:
    """The op nodes a fused kernel contains (empty for any other node)."""
    if node.op != "kernel":
        return ()
    return tuple(op for op in node.attr("ops", ()) if isinstance(op, Node))


def exit_id(writer, node: Node) -> str:
    """DOT id that edges leaving `node` start from."""
    return writer.id_of(node)


def draw_kernel(writer, node: Node) -> None:
    writer.draw_node(node)
    writer.draw_edges_into(node)


def stats_from_report(report) -> dict:
    return {}
