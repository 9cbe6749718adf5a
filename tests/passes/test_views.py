"""Strided views (passes/views.py) on their own: where each element of a movement op's
result lives in its input's buffer, and when a movement needs a copy."""

import graphc as gc
from passes.symbols import Poly, Symbols
from passes.views import View, broadcast_view, embed, movement_view


def consts(values):
    return tuple(Poly.of(v) for v in values)


def view_of(node, syms):
    """The view of a movement node over its input's contiguous buffer."""
    return movement_view(node, View.contiguous(syms.shape(node.inputs[0])), syms)


def test_contiguous_strides_are_row_major_with_size_one_axes_zero():
    view = View.contiguous(consts((2, 1, 3)))
    assert view.strides == consts((3, 0, 1)) and view.offset == Poly.of(0)
    assert view.is_contiguous


def test_transpose_permutes_strides_and_is_not_contiguous():
    syms = Symbols()
    t = gc.transpose(gc.placeholder((2, 3)), (1, 0))
    view = view_of(t, syms)
    assert view.shape == consts((3, 2)) and view.strides == consts((1, 3))
    assert not view.is_contiguous


def test_expand_dims_inserts_a_zero_stride():
    syms = Symbols()
    view = view_of(gc.expand_dims(gc.placeholder((2, 3)), 1), syms)
    assert view.shape == consts((2, 1, 3)) and view.strides == consts((3, 0, 1))


def test_reshape_of_a_contiguous_view_is_a_view_and_of_a_transpose_is_a_copy():
    syms = Symbols()
    x = gc.placeholder((2, 3))
    assert view_of(gc.reshape(x, (3, 2)), syms).strides == consts((2, 1))
    t = gc.transpose(x, (1, 0))
    reshaped = gc.reshape(t, (6,))
    assert movement_view(reshaped, view_of(t, syms), syms) is None


def test_getitem_moves_the_offset_and_scales_strides():
    syms = Symbols()
    x = gc.placeholder((4, 6))
    view = view_of(x[1, ::2], syms)
    assert view.shape == consts((3,)) and view.strides == consts((2,))
    assert view.offset == Poly.of(6)
    assert view_of(x[-1], syms).offset == Poly.of(18)


def test_broadcast_reads_the_same_element_along_new_and_unit_axes():
    syms = Symbols()
    view = broadcast_view(View.contiguous(consts((1, 3))), consts((4, 2, 3)), syms)
    assert view.strides == consts((0, 0, 1))


def test_broadcast_of_a_runtime_size_gets_a_symbolic_stride():
    syms = Symbols()
    x = gc.placeholder((None, 3))
    n = syms.shape(x)[0]
    view = broadcast_view(View.contiguous((n, Poly.of(3))), (Poly.of(5), Poly.of(3)), syms)
    assert not view.strides[0].is_const and view.strides[1] == Poly.of(1)


def test_embed_puts_zero_strides_on_reduced_axes_of_kept_space_views():
    syms = Symbols()
    X = consts((4, 5))
    kept = View.contiguous(consts((4,)))
    assert embed(kept, "K", X, (1,), syms) == (consts((1, 0)), Poly.of(0))
    row = View.contiguous(consts((5,)))
    assert embed(row, "X", X, None, syms) == (consts((0, 1)), Poly.of(0))
