"""Loop planning on its own (graphc/backends/llvm/loop_plan.py): levels of reductions,
what is stored where, and which axes merge into one loop, for small fused loops."""

import graphc as gc
from graphc.backends.llvm.loop_plan import BAKED_LIMIT, LoopPlan, is_param
from graphc.ir import Graph
from passes.expand import expand_composites
from passes.fuse import fuse_kernels, kernel_nodes
from passes.kernels import LoopKernel
from passes.manager import run_pipeline
from passes.symbols import Poly


def loop_plan(inputs, outputs):
    """The LoopPlan of the only loop kernel of a graph (buffers named by node)."""
    run = run_pipeline(Graph(tuple(inputs), tuple(outputs), ()))
    run.run("expanded", expand_composites)
    (body,) = [k.attr("body") for k in kernel_nodes(run.run("fused", fuse_kernels))
               if isinstance(k.attr("body"), LoopKernel)]
    return LoopPlan(body, lambda node, write: ("buffer", id(node), write))


def by_op(plan, op):
    return [n for n in plan.nodes if n.op == op]


def test_elementwise_over_contiguous_operands_is_one_merged_loop():
    x, y = gc.placeholder((3, 5), name="x"), gc.placeholder((3, 5), name="y")
    plan = loop_plan([x, y], [gc.exp(x) * y])
    assert plan.dims == (Poly.of(15),) and plan.reduced == (False,)
    assert plan.top == 0 and plan.split_axis == 0 and not plan.scratch


def test_a_transposed_operand_keeps_both_axes():
    x, y = gc.placeholder((4, 6), name="x"), gc.placeholder((6, 4), name="y")
    plan = loop_plan([x, y], [x + gc.transpose(y, (1, 0))])
    assert plan.dims == (Poly.of(4), Poly.of(6))


def test_mean_of_squares_reduces_in_a_later_level():
    x = gc.placeholder((None, 4), name="x")
    plan = loop_plan([x], [gc.mean(gc.square(x), axis=1)])
    (square,), (mean,) = by_op(plan, "square"), by_op(plan, "mean")
    assert plan.level[id(square)] == 0 and plan.level[id(mean)] == 1 and plan.top == 1
    assert plan.reduced[-1] and plan.split_axis == 0
    assert id(mean) in plan.stores  # the output is stored where it is finalized
    assert plan.stores[id(mean)].ptr is not None


def test_softmax_keeps_its_row_max_in_scratch_for_the_next_pass():
    x = gc.placeholder((3, 8), name="x")
    plan = loop_plan([x], [gc.softmax(x)])
    (mx,), (total,) = by_op(plan, "max"), by_op(plan, "sum")
    assert plan.level[id(mx)] == 1 and plan.level[id(total)] == 2
    assert {id(n) for n in plan.scratch} >= {id(mx), id(total)}
    assert any(p == ("scratch", id(mx)) for p in plan.pointers)


def test_small_sizes_are_baked_into_the_code_and_large_ones_are_arguments():
    assert not is_param(Poly.of(BAKED_LIMIT)) and is_param(Poly.of(BAKED_LIMIT + 1))
    assert is_param(Poly.sym(0))
    x = gc.placeholder((None, 100), name="x")
    plan = loop_plan([x], [gc.exp(x)])
    assert all(is_param(p) for p in plan.param_polys()) and plan.param_polys()
