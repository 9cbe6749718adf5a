"""Fusion: after autodiff and simplification, group the graph's ops into kernels.

Runs as the LLVM backend's stage 'fused', after passes.expand.expand_composites ('expanded'):

- `fuse_kernels`: every computed node of the expanded graph lands in exactly one kernel:
    * 'dense': matmul or conv1d/conv2d -> bias add (per output column / channel) ->
      relu/sigmoid/tanh; the bias and activation run in the GEMM's epilogue; a convolution's
      max pooling whose windows tile its result joins it (when nothing else reads the result);
    * 'loop': elementwise chains (broadcast operands read in place), reductions with the
      elementwise ops that produce their input (mean of squares, softmax + cross-entropy)
      and consume their result, and optimizer updates (Adam's moments and parameter update
      in one pass per parameter). Movement ops (reshape, transpose, expand_dims, getitem,
      broadcasts) are read as strided views and cost nothing;
    * 'op': any other op (an 'opaque' op: a gather, a convolution gradient, ...) as a kernel of
      its own.
  Static-size-1 expressions of leaves (a learning-rate schedule, 1/N) are recomputed inside each
  loop that reads them; other intermediates smaller than the loop's space (e.g. exp(b) for a
  bias b added to every row) get a kernel of their own and are read with broadcasting.

Kernel nodes (graphc/ops/kernel.py; what graphc.viz draws as clusters):
    node.op == 'kernel'; node.attr('kind') in {'loop', 'dense', 'op', 'recurrent'};
    node.attr('name'); node.attr('ops') is the tuple of op names it contains;
    node.attr('body') is its typed body (passes.kernels: DenseKernel, ConvKernel, LoopKernel,
    RecurrentKernel or OpKernel) with `.nodes` (the inner nodes, nodes of the 'expanded' stage,
    in topological order), `.inputs` (expanded-stage nodes it reads), `.outputs` (the
    expanded-stage nodes whose values it produces) and the facts of its kind.
    `inner_nodes(kernel)` returns `.nodes`.
A kernel node's value is its first output; output i >= 1 is read through a
'kernel_output' node (attr 'index'). Leaves stay leaves. `evaluate_fused` runs a fused graph
with the NumPy reference implementations (tests use it to check fusion alone).
"""

from __future__ import annotations

import numpy as np

from graphc.ir import Graph, Node, toposort
from graphc.ops import DENSE, LEAVES, LOOP_OPS, OPS, REDUCTIONS, VIEWS, make_node
from graphc.ops.leaves import leaf_value
from graphc.ops.recurrent_kernel import RECURRENT_KERNEL_INPUT, recurrent_units
from passes.fuse_groups import (
    CONVOLUTIONS,
    Group,
    Grouper,
)
from passes.kernels import (
    ConvKernel,
    DenseKernel,
    KernelBody,
    LoopKernel,
    OpKernel,
    RecurrentKernel,
    buffer_view,
    root_ids,
)
from passes.symbols import concrete_shapes


def inner_nodes(kernel: Node) -> tuple:
    """The expanded-stage nodes a kernel node computes (in topological order)."""
    return kernel.attr("body").nodes


def kernel_nodes(graph: Graph) -> list:
    return [n for n in graph.nodes() if n.op == "kernel"]


# ---- stage 'fused' ------------------------------------------------------------------------


def fuse_kernels(graph: Graph) -> Graph:
    """Group every computed node into 'dense', 'loop' and 'op' kernels (see the module doc)."""
    bodies, root_body = form_groups(graph)
    return build_fused_graph(graph, bodies, root_body)


def form_groups(graph):
    """Kernel bodies in a valid execution order, and {id(root node): body of its copy}."""
    g = Grouper(graph)
    for node in g.order:
        if node.op in LEAVES or node.op in VIEWS or id(node) in g.owner or \
                g.is_inlinable(node):
            continue
        if node.op in DENSE:
            g.add_dense(node)
        elif node.op in LOOP_OPS:
            g.add_loop_node(node)
        else:
            g.add_op(node)
    root_copies = {}
    for root in graph.roots:
        r, _ = g.resolve(root)
        if root.op in LEAVES or r is not root or g.is_inlinable(root):
            copy = Group("loop", g.syms.shape(root))
            g.read_into(copy, root, root)
            copy.forced.append(root)
            g.groups.append(copy)
            root_copies[id(root)] = copy
    return make_bodies(g, root_copies)


def make_bodies(g: Grouper, root_copies):
    needed = {id(root) for grp in g.groups for _, root, _ in grp.reads}
    needed |= g.roots
    bodies, root_body = [], {}
    for k, grp in enumerate(order_groups(g)):
        inner = {id(n): n for n in grp.members + grp.extra}
        nodes = tuple(sorted(inner.values(), key=lambda n: g.index.get(id(n), -1)))
        outs = [m for m in grp.members if id(m) in needed] + \
            [f for f in grp.forced if all(f is not m for m in grp.members)]
        outs = tuple({id(o): o for o in outs}.values())
        inputs = tuple({id(r): r for _, r, _ in grp.reads}.values())
        body = typed_body(grp, f"k{k}_{label(grp, nodes)}", nodes, inputs, outs, g.syms)
        bodies.append(body)
        for copy_root, cgrp in root_copies.items():
            if cgrp is grp:
                root_body[copy_root] = body
    return bodies, root_body


def typed_body(grp: Group, name, nodes, inputs, outputs, syms) -> KernelBody:
    """The group as a DenseKernel, ConvKernel, LoopKernel or OpKernel."""
    common = (name, nodes, inputs, outputs, syms)
    if grp.kind == "loop":
        return LoopKernel(*common, space=dict(grp.space), X=grp.X, R=grp.R)
    if grp.kind == "op":
        return op_body(common, grp.members[0])
    gemm, *epilogue = [m for m in grp.members if m is not grp.pool]
    add = next((m for m in epilogue if m.op == "add"), None)
    act = next((m for m in epilogue if m.op != "add"), None)
    bias = None if add is None else add.inputs[1] if add.inputs[0] is gemm else add.inputs[0]
    epilogue = {"gemm": gemm, "bias_add": add, "bias": bias, "activation": act}
    if gemm.op in CONVOLUTIONS:
        return ConvKernel(*common, **epilogue, pool=grp.pool)
    roots = root_ids(inputs, nodes)
    views = tuple(buffer_view(v, roots, syms) for v in gemm.inputs[:2])
    return DenseKernel(*common, **epilogue, views=views)


def op_body(common, node) -> OpKernel:
    """An OpKernel, or for a recurrent op a RecurrentKernel with its steps and units."""
    if node.op not in RECURRENT_KERNEL_INPUT:
        return OpKernel(*common, node=node)
    recurrent = node.inputs[RECURRENT_KERNEL_INPUT[node.op]]
    return RecurrentKernel(*common, node=node, recurrent=recurrent, steps=node.shape[1],
                           units=recurrent_units(node))


def label(group, nodes) -> str:
    ops = [n.op for n in nodes if n.op not in VIEWS]
    if group.kind == "dense":
        gemm, epilogue = group.members[0].op, [n.op for n in group.members[1:]]
        if gemm == "matmul":
            return "_".join(["dense"] + epilogue) if epilogue else "matmul"
        return "_".join([gemm] + epilogue)
    if not ops:
        return "copy"
    main = [o for o in ops if o in REDUCTIONS] or ops
    return "_".join(dict.fromkeys(main[:3]))


def order_groups(g: Grouper) -> list:
    """Groups in an order where every group runs after the groups it reads from."""
    done, out = set(), []

    def visit(grp):
        if id(grp) in done:
            return
        done.add(id(grp))
        for _, root, _ in grp.reads:
            h = g.owner.get(id(root))
            if h is not None and h is not grp:
                visit(h)
        out.append(grp)

    for grp in sorted(g.groups, key=lambda x: min([g.index.get(id(m), 0) for m in x.members]
                                                  or [0])):
        visit(grp)
    return out


def build_fused_graph(graph: Graph, bodies, root_body) -> Graph:
    value_of: dict = {}  # id(expanded node) -> fused node carrying its value
    for body in bodies:
        ins = [leaf_or_value(i, value_of) for i in body.inputs]
        kernel = make_node("kernel", ins, {"body": body, "name": body.name, "kind": body.kind,
                                           "ops": body.ops}, name=body.name, site=body.name)
        for index, out in enumerate(body.outputs):
            # a root's own copy kernel gives the root's value, not the value others read
            key = ("root", id(out)) if body is root_body.get(id(out)) else id(out)
            value_of[key] = kernel if index == 0 else make_node(
                "kernel_output", [kernel], {"body": body, "index": index}, site=body.name)

    def root(node):
        found = value_of.get(("root", id(node)))
        return leaf_or_value(node, value_of) if found is None else found

    outputs = tuple(root(o) for o in graph.outputs)
    updates = tuple((var, root(expr)) for var, expr in graph.updates)
    return Graph(graph.inputs, outputs, updates)


def leaf_or_value(node, value_of):
    if node.op in LEAVES:
        return node
    return value_of[id(node)]


# ---- a reference run of a fused graph -----------------------------------------------------


def evaluate_fused(graph: Graph, args) -> dict:
    """Values of the fused graph's outputs and update expressions, by running each kernel's
    body with the op table's NumPy implementations: {'outputs': [...], 'updates': [...]}."""
    kernels = [n for n in toposort(graph.roots) if n.op == "kernel"]
    inner = toposort([o for k in kernels for o in k.attr("body").outputs])
    shapes = concrete_shapes(inner, graph.inputs, [np.asarray(a) for a in args])
    env = {id(p): np.asarray(a) for p, a in zip(graph.inputs, args)}
    for node in toposort(graph.roots):
        if node.op == "kernel":
            env[id(node)] = run_body(node.attr("body"), [value(i, env) for i in node.inputs],
                                     shapes)
    return {"outputs": [value(o, env) for o in graph.outputs],
            "updates": [value(e, env) for _, e in graph.updates]}


def value(node, env):
    if node.op == "kernel_output":
        return env[id(node.inputs[0])][node.attr("index")]
    if node.op == "kernel":
        return env[id(node)][0]
    return env[id(node)] if id(node) in env else leaf_value(node)


def run_body(body: KernelBody, values, shapes) -> list:
    env = {id(i): v for i, v in zip(body.inputs, values)}
    for node in body.nodes:
        if id(node) in env:
            continue
        ins = [env[id(i)] if id(i) in env else stand_in(i, shapes) for i in node.inputs]
        with np.errstate(all="ignore"):
            env[id(node)] = np.asarray(OPS[node.op].impl(*ins, **node.attr_dict), node.dtype)
    return [env[id(o)] if id(o) in env else leaf_value(o) for o in body.outputs]


def stand_in(node, shapes):
    """A leaf's value, or for an input read only for its shape, zeros of that shape."""
    if node.op in ("constant", "shared"):
        return leaf_value(node)
    return np.broadcast_to(np.zeros((), node.dtype), shapes[id(node)])


__all__ = ["KernelBody", "fuse_kernels", "inner_nodes", "kernel_nodes",
           "evaluate_fused"]
