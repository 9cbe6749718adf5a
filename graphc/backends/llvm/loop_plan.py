"""The plan of a fused 'loop' kernel: which value is computed in which pass, what is loaded
and stored where, and the iteration space after merging axes that need no separate loop.

A loop kernel iterates a space X; reductions reduce the axes R of X and keep K. Nodes live in
X (one value per element of X), in K (one per kept element: reduction results and what is
computed from them) or S (scalars). A node's *level* counts the reductions on its longest
path from the kernel's inputs. The kernel runs passes: K-pass 0, X-pass 0, K-pass 1, X-pass 1,
... A reduction of level L accumulates during X-pass L-1 into a K-sized buffer (its output or
a scratch buffer) and is finalized in K-pass L; X-pass p reads K values of level <= p from
their buffers. All passes of one thread cover the same slice of the first kept axis, so
threads never need to meet inside a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.ops import REDUCTIONS, data_inputs, normalize_axes
from passes.symbols import Poly, prod
from passes.views import View, broadcast_view, embed, movement_view


@dataclass
class Access:
    """Element x of the (merged) X space lives at offset + sum(x_k * strides[k]) of pointer
    argument `ptr` (None: no memory, used for linear indices of random numbers)."""

    ptr: int | None
    dtype: str
    strides: tuple
    offset: Poly


class LoopPlan:
    def __init__(self, body, buffer_of):
        self.body, self.syms, self.buffer_of = body, body.syms, buffer_of
        self.X, self.R = tuple(body.X), tuple(body.R or ())
        self.space = body.space
        self.nodes = [n for n in body.nodes if id(n) in self.space]
        self.roots = body.root_ids()
        self.pointers: list = []  # Buffer objects, one per pointer argument
        self.level = self.levels()  # id(node) -> its level
        self.top = max(self.level.values(), default=0)
        # id(node) -> Access; nodes needing a kernel-private K buffer; outputs only copied
        self.stores, self.scratch, self.copies = self.plan_stores()
        # (id(reader), data input k) -> ('node'|'load', root|Access, root)
        self.reads = self.plan_reads()
        self.linear = {id(n): self.own_access(n, None) for n in self.nodes
                       if n.op == "random_uniform"}  # row-major indices of random numbers
        self.axis_groups = self.merge_axes()
        self.dims = tuple(prod(self.X[a] for a in g) for g in self.axis_groups)
        self.reduced = tuple(g[0] in self.R for g in self.axis_groups)
        kept = [k for k, r in enumerate(self.reduced) if not r]
        self.split_axis = kept[0] if kept else None

    # ---- structure ----------------------------------------------------------------------------

    def levels(self) -> dict:
        level: dict = {}
        for n in self.nodes:
            ins = [self.body.view_root(i, self.roots)[0] for i in data_inputs(n)]
            base = max((level.get(id(r), 0) for r in ins), default=0)
            level[id(n)] = base + 1 if n.op in REDUCTIONS else base
        return level

    def uses(self):
        """{id(node): set of (pass kind, level) where it is read}."""
        used: dict = {}
        for n in self.nodes:
            kind = "X" if self.space[id(n)] == "X" or n.op in REDUCTIONS else "K"
            lvl = self.level[id(n)] - (1 if n.op in REDUCTIONS else 0)
            for i in data_inputs(n):
                root, _ = self.body.view_root(i, self.roots)
                used.setdefault(id(root), set()).add((kind, lvl))
        return used

    def plan_stores(self):
        """Outputs are stored; K values read after their own K-pass go to a buffer too."""
        used = self.uses()
        outputs = {id(o) for o in self.body.outputs}
        stores, scratch = {}, []
        for n in self.nodes:
            space, lvl = self.space[id(n)], self.level[id(n)]
            late = any(k == "X" or lv > lvl for k, lv in used.get(id(n), ())) and space == "K"
            if id(n) in outputs:
                stores[id(n)] = self.own_access(n, self.buffer_of(n, True))
            elif n.op in REDUCTIONS or late:
                scratch.append(n)
                stores[id(n)] = self.own_access(n, ("scratch", id(n)))
        copies = [o for o in self.body.outputs if id(o) not in self.space]
        for o in copies:
            stores[id(o)] = self.own_access(o, self.buffer_of(o, True))
        return stores, scratch, copies

    def loads_stored(self, node, pass_space: str, pass_level: int) -> bool:
        """Does a pass over `pass_space` at `pass_level` load `node` from its own store rather
        than compute it? (The loop emitter and the in-place check must agree on this.)"""
        space, level = self.space[id(node)], self.level[id(node)]
        if space == "S" or id(node) not in self.stores:
            return False
        if space == "K":
            return pass_space == "X" or level < pass_level or node.op in REDUCTIONS
        return level < pass_level

    def pointer(self, buffer) -> int:
        for k, b in enumerate(self.pointers):
            if b is buffer or b == buffer:
                return k
        self.pointers.append(buffer)
        return len(self.pointers) - 1

    def own_access(self, node, buffer) -> Access:
        """Where `node`'s own contiguous buffer holds the value of X element x."""
        space = self.space.get(id(node), "X")
        view = View.contiguous(self.syms.shape(node))
        strides, offset = embed(view, space, self.X, self.R, self.syms)
        ptr = None if buffer is None else self.pointer(buffer)
        return Access(ptr, node.dtype, strides, offset)

    def plan_reads(self) -> dict:
        reads = {}
        readers = list(self.nodes) + [("copy", o) for o in self.copies]
        for n in readers:
            if isinstance(n, tuple):
                n = n[1]
                ins, space, shape = [n], "X", self.syms.shape(n)
            else:
                ins = data_inputs(n)
                space = "X" if n.op in REDUCTIONS else self.space[id(n)]
                shape = self.syms.shape(ins[0]) if n.op in REDUCTIONS else self.syms.shape(n)
            for k, value in enumerate(ins):
                root, chain = self.body.view_root(value, self.roots)
                if id(root) in self.space:
                    reads[(id(n), k)] = ("node", root, root)
                else:
                    reads[(id(n), k)] = ("load", self.load_access(root, chain, shape, space), root)
        return reads

    def load_access(self, root, chain, shape, space) -> Access:
        view = View.contiguous(self.syms.shape(root))
        for v in chain:
            view = movement_view(v, view, self.syms)
        view = broadcast_view(view, shape, self.syms) if len(view.shape) <= len(shape) else view
        strides, offset = embed(view, space, self.X, self.R, self.syms)
        ptr = None if root.op == "constant" and root.attr("value").value.size == 1 else \
            self.pointer(self.buffer_of(root, False))
        return Access(ptr, root.dtype, strides, offset)

    # ---- merging axes -------------------------------------------------------------------------

    def accesses(self):
        out = list(self.stores.values())
        out += [r[1] for r in self.reads.values() if r[0] == "load"]
        out += list(self.linear.values())
        return out

    def merge_axes(self) -> list:
        """Merge neighbouring axes (same kind) that every access walks as one: for (N, 500) of
        contiguous operands the loop becomes one loop of N*500 elements. Returns the groups of
        X's axes that became one axis; every access's strides are rewritten to match."""
        accesses = self.accesses()
        merged: list = []
        for a in range(len(self.X)):
            if merged and self.mergeable(merged[-1][-1], a, accesses):
                merged[-1].append(a)
            else:
                merged.append([a])
        for acc in accesses:
            acc.strides = tuple(acc.strides[g[-1]] for g in merged)
        return merged

    def mergeable(self, a, b, accesses) -> bool:
        if (a in self.R) != (b in self.R):
            return False
        return all(acc.strides[a] == acc.strides[b] * self.X[b] for acc in accesses)

    def param_polys(self):
        """Every non-constant size the kernel needs, in a stable order."""
        polys = list(self.dims)
        for acc in self.accesses():
            polys += [s for s in acc.strides if not (s.is_const and s.const in (0, 1))]
            polys.append(acc.offset)
        for n in self.nodes:
            if n.op in ("size", "mean"):
                polys.append(size_poly(n, self.syms))
        out = []
        for p in polys:
            if is_param(p) and p not in out:
                out.append(p)
        return out


BAKED_LIMIT = 64  # sizes up to this are constants in the code (small loops unroll well);
# larger ones are arguments, so kernels that differ only in large sizes share one function


def is_param(p: Poly) -> bool:
    return not p.is_const or p.const > BAKED_LIMIT


def size_poly(node, syms) -> Poly:
    shape = syms.shape(node.inputs[0])
    return prod(shape[a] for a in normalize_axes(node.attr("axis"), len(shape)))
