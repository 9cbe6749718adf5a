"""The IR: topological order, graph queries, rebuild and transform."""

import numpy as np

import graphc as gc
from graphc.ir import toposort
from graphc.ops.rebuild import rebuild, transform


def test_toposort_puts_inputs_first_and_visits_shared_nodes_once():
    x = gc.vector("x")
    e = gc.exp(x)
    y = e * e + x
    order = toposort([y])
    assert order.index(x) < order.index(e) < order.index(y)
    assert len(order) == len({id(n) for n in order})


def test_deep_graphs_do_not_hit_the_recursion_limit():
    x = gc.vector("x")
    y = x
    for _ in range(5000):
        y = y + 1
    assert len(toposort([y])) > 5000


def test_networkx_view_has_the_edges():
    x = gc.vector("x")
    y = gc.tanh(x)
    g = gc.Graph((x,), (y,)).to_networkx()
    assert g.has_edge(id(x), id(y)) and g.nodes[id(y)]["node"] is y


def test_rebuild_reuses_unchanged_nodes_and_keeps_the_site():
    x, z = gc.vector("x"), gc.vector("z")
    y = gc.exp(x)
    assert rebuild(y, [x]) is y
    moved = rebuild(y, [z])
    assert moved.inputs == (z,) and moved.site == y.site


def test_transform_rewrites_bottom_up():
    x = gc.vector("x")
    graph = gc.Graph((x,), (gc.exp(gc.neg(x)),))
    swapped = transform(graph, lambda n: gc.abs(n.inputs[0]) if n.op == "neg" else None)
    out = swapped.outputs[0]
    assert out.op == "exp" and out.inputs[0].op == "abs"
    np.testing.assert_allclose(out.eval({x: np.array([-1.0, 2.0], "float32")}), np.exp([1, 2]))
