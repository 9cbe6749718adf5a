"""passes/symbols.py on its own: Poly arithmetic and its canonical form, Symbols (new, unify,
check, values), the op table's symbolic-shape rules through derive_dims, broadcast_dims and
concrete_shapes."""

import numpy as np
import pytest

import graphc as gc
from graphc.ir import ShapeError, toposort
from passes.symbols import Poly, Symbols, broadcast_dims, concrete_shapes, derive_dims, prod

S0, S1 = Poly.sym(0), Poly.sym(1)


# ---- Poly ------------------------------------------------------------------------------------


def test_poly_canonical_form_makes_equal_polynomials_equal():
    assert S0 + S1 == S1 + S0
    assert (S0 + 1) * (S0 - 1) == S0 * S0 - 1
    assert hash(S0 * S1 + 2) == hash(2 + S1 * S0)
    assert S0 - S0 == 0 and (S0 - S0).terms == ()


def test_poly_constants():
    assert Poly.of(6) == 6 and Poly.of(6).is_const and Poly.of(6).const == 6
    assert Poly.of(0).const == 0
    assert not (S0 + 1).is_const
    assert Poly.of(S0) is S0
    assert prod([2, S0, 3]) == 6 * S0


def test_poly_evaluate_symbols_and_repr():
    p = 3 * S0 * S1 + 2 * S0 + 5
    assert p.evaluate([4, 10]) == 3 * 40 + 8 + 5
    assert p.symbols() == {0, 1}
    assert repr(Poly.of(7)) == "7"
    assert repr(S0 + 1) == "1 + 1*s0"


# ---- Symbols ---------------------------------------------------------------------------------


def test_new_gives_one_symbol_per_node_axis():
    x = gc.placeholder((None, None, 3))
    syms = Symbols()
    assert syms.dim_of(x, 0) is syms.dim_of(x, 0)
    assert syms.dim_of(x, 0) != syms.dim_of(x, 1)
    assert syms.shape(x) == (S0, S1, Poly.of(3))
    assert syms.values({id(x): (5, 7, 3)}) == [5, 7]


def test_derived_symbols_are_computed_from_earlier_ones():
    x = gc.placeholder((None, 3))
    syms = Symbols()
    n = syms.dim_of(x, 0)
    stride = syms.new(("bstride", n, 3 * n))  # 0 when the size is 1 (a broadcast), else 3n
    start = syms.new(("start", ("slice", -2, None, None), n))
    assert syms.new(("bstride", n, 3 * n)) is stride and start != stride
    assert syms.values({id(x): (5, 3)}) == [5, 15, 3]
    assert syms.values({id(x): (1, 3)}) == [1, 0, 0]


def test_unify_merges_two_symbols_and_check_verifies_it_at_run_time():
    x, y = gc.placeholder((None,)), gc.placeholder((None,))
    z = x + y
    syms = Symbols()
    a, b = syms.dim_of(x, 0), syms.dim_of(y, 0)
    assert syms.unify(a, b, z) == a
    assert syms.norm(b) == a and syms.norm(2 * b + 1) == 2 * a + 1
    syms.check([4, 4])
    with pytest.raises(ShapeError, match="add: run-time sizes 4 and 5"):
        syms.check([4, 5])


def test_unify_refuses_what_is_not_one_symbol_each():
    syms = Symbols()
    x = gc.placeholder((None, None))
    a, b = syms.dim_of(x, 0), syms.dim_of(x, 1)
    assert syms.unify(a * b, a, None) is None
    assert syms.unify(2 * a, b, None) is None
    assert syms.unify(a, a, None) == a


# ---- symbolic-shape rules of the op table, through derive_dims ----------------------------


def test_elementwise_ops_unify_run_time_sizes_that_meet():
    x, y = gc.placeholder((None, 4)), gc.placeholder((None, 1))
    syms = Symbols()
    out = syms.shape(x * y)
    assert out == (syms.shape(x)[0], Poly.of(4))
    assert syms.shape(y)[0] == syms.shape(x)[0]  # assumed equal, checked at run time
    assert len(syms.assumed) == 1


def test_matmul_unifies_inner_sizes_and_keeps_rows_and_columns():
    a, b = gc.placeholder((None, None)), gc.placeholder((None, None))
    node = gc.matmul(a, b)
    syms = Symbols()
    sa, sb = syms.shape(a), syms.shape(b)
    assert derive_dims(node, [sa, sb], syms) == [sa[0], sb[1]]
    assert syms.norm(sa[1]) == syms.norm(sb[0])


def test_reductions_transpose_and_reshape_follow_their_inputs():
    x = gc.placeholder((None, 3, 4))
    # Symbols keys nodes by id: keep every node alive, as a graph does
    kept, peak = gc.sum(x, axis=1, keepdims=True), gc.max(x, axis=(1, 2))
    moved, same, flat = gc.transpose(x, (2, 0, 1)), gc.reshape(x, (-1, 3, 4)), x.reshape(-1, 12)
    syms = Symbols()
    batch = syms.shape(x)[0]
    assert syms.shape(kept) == (batch, Poly.of(1), Poly.of(4))
    assert syms.shape(peak) == (batch,)
    assert syms.shape(moved) == (Poly.of(4), batch, Poly.of(3))
    assert syms.shape(same)[0] == batch
    assert syms.shape(flat)[0] != batch  # a new run-time size


def test_one_hot_adds_its_depth_and_ops_without_a_rule_get_fresh_symbols():
    labels = gc.placeholder((None,), "int64")
    hot = gc.one_hot(labels, 5)
    syms = Symbols()
    assert syms.shape(hot) == (syms.shape(labels)[0], Poly.of(5))
    x = gc.placeholder((None, 2))
    joined = gc.concatenate([x, x], axis=0)
    assert derive_dims(joined, [syms.shape(x)] * 2, syms) is None
    assert syms.shape(joined)[0] not in syms.shape(x)


# ---- broadcast_dims and concrete_shapes -----------------------------------------------------


def test_broadcast_dims():
    assert broadcast_dims([(S0, Poly.of(1)), (Poly.of(4),)]) == [S0, Poly.of(4)]
    assert broadcast_dims([(Poly.of(1),), ()]) == [Poly.of(1)]
    assert broadcast_dims([(S0,), (S1,)]) == [None]  # unknown without Symbols to unify them


def test_concrete_shapes_runs_the_shape_rules_and_names_the_op_on_error():
    x = gc.placeholder((None, 3))
    y = gc.sum(x * 2.0, axis=1)
    shapes = concrete_shapes(toposort([y]), [x], [np.zeros((5, 3))])
    assert shapes[id(y)] == (5,)
    m = gc.placeholder((None, None))
    bad = gc.matmul(m, m)
    with pytest.raises(ShapeError, match="matmul: .*Received shapes"):
        concrete_shapes(toposort([bad]), [m], [np.zeros((2, 3))])
