"""How passes.fuse groups the nodes of an expanded graph into kernels.

One sweep in topological order. A matmul or forward convolution starts a 'dense' group that
takes its bias add and activation when nothing else reads the intermediate values.
Elementwise ops and reductions join the 'loop' group of an input (merging the groups of
several inputs when they iterate the same space), as long as (1) the node's shape is the
group's iteration space X or its kept space K, (2) each value it reads from the group maps to
the same coordinates it was computed at, and (3) no cycle appears between groups.
Static-size-1 expressions of leaves (learning rates, 1/N) are recomputed inside every loop
that reads them ('S' members).
Movement ops are views: a reader reads their root buffer with strides.
"""

from __future__ import annotations

from graphc.ir import toposort
from graphc.ops import ELEMENTWISE, LEAVES, REDUCTIONS, VIEWS, data_inputs, normalize_axes
from passes.symbols import Poly, Symbols
from passes.views import View, broadcast_view, embed, movement_view

ACTIVATIONS = ("relu", "sigmoid", "tanh")
CONVOLUTIONS = ("conv1d", "conv2d")  # forward only: their kernels run a GEMM per pixel block


class Group:
    def __init__(self, kind, X=None):
        self.kind, self.X, self.R = kind, X, None
        self.members: list = []
        self.space: dict = {}  # id(node) -> 'X' | 'K' | 'S'
        self.reads: list = []  # (reader, root, chain) for roots outside this group
        self.extra: list = []  # view and 'S' nodes computed inside
        self.forced: list = []  # nodes that must be outputs (copies)
        self.pool = None  # a convolution's max pooling fused into its dense group

    def k_shapes(self):
        keep = tuple(Poly.of(1) if i in self.R else d for i, d in enumerate(self.X))
        drop = tuple(d for i, d in enumerate(self.X) if i not in self.R)
        return keep, drop


def tiles_the_image(pool, conv) -> bool:
    """A max pooling of a convolution's result whose windows tile it (strides = pool size, no
    padding) over static sizes: the convolution's kernel pools each window as it finishes it."""
    if pool is None or pool.op != f"max_pool{conv.ndim - 2}d":
        return False
    return (tuple(pool.attr("strides")) == tuple(pool.attr("pool_size"))
            and all(tuple(p) == (0, 0) for p in pool.attr("padding"))
            and None not in conv.inputs[0].shape[1:] and None not in conv.shape[1:])


class Grouper:
    def __init__(self, graph):
        self.graph, self.syms = graph, Symbols()
        self.order = toposort(graph.roots, data_inputs)
        self.index = {id(n): k for k, n in enumerate(self.order)}
        self.consumers: dict = {}
        for n in self.order:
            for i in data_inputs(n):
                self.consumers.setdefault(id(i), []).append(n)
        self.owner: dict = {}
        self.groups: list = []
        self.resolved: dict = {}
        self.copies: dict = {}
        self.inlinable: dict = {}
        self.roots = {id(r) for r in graph.roots}
        for n in self.order:  # every size first, so assumed-equal sizes are merged everywhere
            self.syms.shape(n)

    # ---- views and scalars ----------------------------------------------------------------

    def is_inlinable(self, node) -> bool:
        """Static size-1 elementwise expressions of leaves: recomputed where they are read."""
        if id(node) not in self.inlinable:
            ok = node.op in ELEMENTWISE and \
                all(d == 1 for d in node.shape) and None not in node.shape and \
                all(i.op in LEAVES or self.is_inlinable(i) for i in data_inputs(node))
            self.inlinable[id(node)] = ok
        return self.inlinable[id(node)]

    def resolve(self, node):
        """(root, chain): the node whose buffer or register holds the data, and the view ops
        from it to `node`."""
        if id(node) in self.resolved:
            return self.resolved[id(node)]
        if node.op not in VIEWS:
            out = (node, ())
        else:
            root, chain = self.resolve(node.inputs[0])
            if self.compose(root, chain + (node,)) is None:  # reshape of a strided view
                self.materialize(node.inputs[0])
                out = (node.inputs[0], (node,))
            else:
                out = (root, chain + (node,))
        self.resolved[id(node)] = out
        return out

    def compose(self, root, chain):
        view = View.contiguous(self.syms.shape(root))
        for v in chain:
            view = movement_view(v, view, self.syms)
            if view is None:
                return None
        return view

    def materialize(self, node):
        """Make sure `node` ends up in a buffer of its own, contiguous."""
        if node.op in LEAVES:
            return
        if id(node) in self.owner:
            self.owner[id(node)].forced.append(node)
            return
        if id(node) not in self.copies:
            group = Group("loop", self.syms.shape(node))
            self.read_into(group, node, node)
            group.forced.append(node)
            self.copies[id(node)] = group
            self.owner[id(node)] = group
            self.groups.append(group)

    def read_into(self, group, reader, value):
        """Record that `reader` (in `group`) reads `value`: S nodes and views come along."""
        root, chain = self.resolve(value)
        group.extra.extend(chain)
        if self.is_inlinable(root):
            if id(root) not in group.space:
                group.space[id(root)] = "S"
                group.extra.append(root)
                for i in data_inputs(root):
                    self.read_into(group, root, i)
        elif root.op in LEAVES or self.owner.get(id(root)) is not group:
            group.reads.append((reader, root, chain))

    # ---- loop groups ----------------------------------------------------------------------

    def space_of(self, group, node):
        shape = self.syms.shape(node)
        if shape == group.X:
            return "X"
        if group.R is not None and shape in group.k_shapes():
            return "K"
        return None

    def read_ok(self, group, reader_space, reader_shape, root, chain) -> bool:
        """Can a reader read member `root` of `group` from registers (same coordinates)?"""
        space = group.space.get(id(root))
        if space is None:  # the target of a copy group: readable only from its buffer
            return False
        if space == "S":
            return True
        if reader_space == "K" and space == "X":
            return False
        view = self.compose(root, chain)
        if view is None:
            return False
        got = embed(broadcast_view(view, reader_shape, self.syms), reader_space, group.X,
                    group.R, self.syms)
        own = embed(View.contiguous(self.syms.shape(root)), space, group.X, group.R, self.syms)
        return got == own

    def depends(self, start, target, skip=None) -> bool:
        """Does group `start` read, through other groups, from group `target`?"""
        stack, seen = [start], set()
        while stack:
            g = stack.pop()
            for _, root, _ in g.reads:
                h = self.owner.get(id(root))
                if h is None or h is g or id(h) in seen or (h is skip and g is start):
                    continue
                if h is target:
                    return True
                seen.add(id(h))
                stack.append(h)
        return False

    def merge_shape(self, g, h):
        """(X, R, relabel g, relabel h) for a merged group, or None. A group without a
        reduction whose space is another's kept space joins it as kept-space ('K') nodes."""
        if g.X == h.X and (g.R is None or h.R is None or g.R == h.R):
            return g.X, g.R if g.R is not None else h.R, False, False
        if g.R is not None and h.R is None and h.X in g.k_shapes():
            return g.X, g.R, False, True
        if h.R is not None and g.R is None and g.X in h.k_shapes():
            return h.X, h.R, True, False
        return None

    def try_merge(self, g, h) -> bool:
        if g is h:
            return True
        plan = self.merge_shape(g, h) if g.kind == h.kind == "loop" else None
        if plan is None or self.depends(g, h, skip=h) or self.depends(h, g, skip=g):
            return False
        saved = g.X, g.R, dict(g.space)
        g.X, g.R = plan[0], plan[1]
        for grp, relabel in ((g, plan[2]), (h, plan[3])):
            for m in grp.members:
                g.space[id(m)] = "K" if relabel and grp.space[id(m)] == "X" else grp.space[id(m)]
        g.space.update({k: "S" for k, v in h.space.items() if v == "S"})
        cross = [(r, root, c) for r, root, c in g.reads + h.reads
                 if self.owner.get(id(root)) in (g, h)]
        if not all(self.read_ok(g, g.space[id(r)], self.syms.shape(r), root, c)
                   for r, root, c in cross if r.op not in VIEWS and id(r) in g.space):
            g.X, g.R, g.space = saved
            return False
        g.members += h.members
        g.extra += h.extra
        g.forced += h.forced
        g.reads = [x for x in g.reads + h.reads if self.owner.get(id(x[1])) not in (g, h)]
        for m in h.members:
            self.owner[id(m)] = g
        for k, c in self.copies.items():
            if c is h:
                self.copies[k] = g
        self.groups.remove(h)
        return True

    def add_loop_node(self, node):
        is_reduce = node.op in REDUCTIONS
        ins = data_inputs(node)
        candidates = []
        for i in ins:
            root, _ = self.resolve(i)
            g = self.owner.get(id(root))
            if g is not None and g.kind == "loop" and g not in candidates and \
                    not self.is_inlinable(root):
                candidates.append(g)
        group = None
        for g in candidates:
            if group is None:
                group = g if self.fits(g, node, is_reduce) else None
            elif self.try_merge(group, g):
                pass
        if group is None or not self.fits(group, node, is_reduce):
            X = self.syms.shape(ins[0]) if is_reduce else self.syms.shape(node)
            group = Group("loop", X)
            self.groups.append(group)
        self.join(group, node, is_reduce)

    def fits(self, group, node, is_reduce) -> bool:
        if is_reduce:
            x = data_inputs(node)[0]
            axes = normalize_axes(node.attr("axis"), x.ndim)
            if self.syms.shape(x) != group.X or (group.R is not None and axes != group.R):
                return False
            saved, group.R = group.R, axes
            space = self.space_of(group, node)
            ok = space == "K" and self.inputs_ok(group, node, "X", self.syms.shape(x))
            group.R = saved
            return ok
        space = self.space_of(group, node)
        return space is not None and self.inputs_ok(group, node, space, self.syms.shape(node))

    def inputs_ok(self, group, node, space, shape) -> bool:
        for i in data_inputs(node):
            root, chain = self.resolve(i)
            owner = self.owner.get(id(root))
            if owner is group and not self.is_inlinable(root):
                if not self.read_ok(group, space, shape, root, chain):
                    return False
            elif owner is not None and owner is not group and self.depends(owner, group):
                return False
        return True

    def join(self, group, node, is_reduce):
        if is_reduce:
            x = data_inputs(node)[0]
            group.R = normalize_axes(node.attr("axis"), x.ndim)
            group.space[id(node)] = "K"
        else:
            group.space[id(node)] = self.space_of(group, node)
        group.members.append(node)
        self.owner[id(node)] = group
        for i in data_inputs(node):
            self.read_into(group, node, i)

    # ---- dense and op groups --------------------------------------------------------------

    def add_dense(self, mm):
        """A GEMM (a 2-D matmul, or a forward convolution lowered onto one) with its bias add
        and activation, when nothing else reads the values in between."""
        group = Group("dense")
        members = [mm]
        add = self.only_consumer(mm)
        epilogue = mm.ndim == 2 or mm.op in CONVOLUTIONS
        has_bias = epilogue and add is not None and add.op == "add" and self.bias_of(add, mm)
        if has_bias:
            members.append(add)
        # a convolution's activation may follow it directly (no bias, or a zero one folded away)
        act = self.only_consumer(members[-1])
        if act is not None and act.op in ACTIVATIONS and (has_bias or mm.op in CONVOLUTIONS):
            members.append(act)
        pool = self.only_consumer(members[-1])
        if mm.op in CONVOLUTIONS and tiles_the_image(pool, mm):
            members.append(pool)
            group.pool = pool
        for m in members:
            group.members.append(m)
            self.owner[id(m)] = group
        for i in data_inputs(mm):
            self.read_contiguous(group, mm, i, allow_transpose=mm.op == "matmul")
        if has_bias:
            bias = add.inputs[1] if add.inputs[0] is mm else add.inputs[0]
            root = self.resolve(bias)[0]
            if root.op == "cast" and id(root) not in self.owner and \
                    self.index[id(root)] > self.index[id(mm)]:
                self.add_loop_node(root)  # the bias's cast (bias_of): its own kernel, before
            self.read_contiguous(group, add, bias)
        self.groups.append(group)

    def only_consumer(self, node):
        users = self.consumers.get(id(node), [])
        if len(users) != 1 or id(node) in self.roots or id(users[0]) in self.owner:
            return None
        return users[0]

    def bias_of(self, add, mm) -> bool:
        other = add.inputs[1] if add.inputs[0] is mm else add.inputs[0]
        if add.inputs[0] is add.inputs[1] or add.shape != mm.shape:
            return False
        root, chain = self.resolve(other)
        if not self.computable_before(root, mm):
            return False
        view = self.compose(root, chain)
        if view is None:
            return False
        strides = broadcast_view(view, self.syms.shape(mm), self.syms).strides
        # one value per output column (a conv's channel), the same for every row / pixel
        return all(s == 0 for s in strides[:-1]) and strides[-1] == 1 and view.offset == 0

    def computable_before(self, node, mm, casts=1) -> bool:
        """A leaf, computed before mm, or a cast of such (mixed precision's bias cast(b), which
        the order may place after the GEMM; add_dense computes it first)."""
        if node.op in LEAVES or self.index.get(id(node), 1 << 60) < self.index[id(mm)]:
            return True
        return casts > 0 and node.op == "cast" and \
            self.computable_before(self.resolve(node.inputs[0])[0], mm, casts - 1)

    def read_contiguous(self, group, reader, value, allow_transpose=False):
        """Op and dense kernels read buffers laid out contiguously (or transposed, for GEMM)."""
        root, chain = self.resolve(value)
        view = self.compose(root, chain)
        ok = view is not None and view.offset == 0 and (
            view.is_contiguous or (allow_transpose and is_transposed(view)))
        if not ok or self.is_inlinable(root):
            self.materialize(value)
            root, chain = value, ()
        elif root.op not in LEAVES and id(root) not in self.owner:
            self.materialize(root)
        group.extra.extend(chain)
        group.reads.append((reader, root, chain))

    def add_op(self, node):
        group = Group("op")
        group.members.append(node)
        self.owner[id(node)] = group
        for i in data_inputs(node):
            self.read_contiguous(group, node, i)
        self.groups.append(group)


def is_transposed(view) -> bool:
    """The last two axes swapped relative to a contiguous layout (a GEMM transpose flag)."""
    if len(view.shape) < 2:
        return False
    shape = view.shape[:-2] + (view.shape[-1], view.shape[-2])
    strides = view.strides[:-2] + (view.strides[-1], view.strides[-2])
    return View(shape, strides).strides == View.contiguous(shape).strides
