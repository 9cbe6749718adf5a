"""gc.einsum against numpy.einsum (values on both backends, gradients against finite
differences), with unknown batch sizes, an ellipsis, and errors that name the equation."""

import numpy as np
import pytest

import graphc as gc
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match, outputs_on

RNG = np.random.default_rng(2)

CASES = [
    ("abc,cde->abde", (2, 3, 4), (4, 5, 6)),  # a multi-head projection
    ("aecd,abcd->acbe", (2, 5, 3, 4), (2, 6, 3, 4)),  # attention scores
    ("acbe,aecd->abcd", (2, 3, 6, 5), (2, 5, 3, 4)),  # attention context
    ("abcd,cde->abe", (2, 3, 4, 5), (4, 5, 7)),  # heads merged
    ("ij->ji", (3, 4)),
    ("ijk->i", (2, 3, 4)),
    ("...ij,jk->...ik", (2, 3, 4, 5), (5, 6)),
    ("ab,ab->a", (3, 4), (3, 4)),
    ("ab,cd->abcd", (2, 3), (4, 5)),  # an outer product
    ("abc,c->ab", (2, 3, 4), (4,)),
    ("abc,bd->ad", (2, 3, 4), (3, 5)),  # c summed before the product
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_numpy(backend, case):
    equation, *shapes = case
    arrays = [RNG.standard_normal(s).astype("float32") for s in shapes]
    got = outputs_on(backend, lambda *xs: gc.einsum(equation, *xs), arrays)
    np.testing.assert_allclose(got, np.einsum(equation, *arrays), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_einsum_with_an_unknown_batch_size(backend):
    a, b = RNG.standard_normal((3, 4, 5)).astype("float32"), RNG.standard_normal((5, 2, 3))
    x = gc.placeholder((None, 4, 5))
    out = gc.einsum("abc,cde->abde", x, gc.constant(b.astype("float32")))
    assert out.shape == (None, 4, 2, 3)
    got = gc.function([x], out, backend=backend)(a)
    np.testing.assert_allclose(got, np.einsum("abc,cde->abde", a, b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", [CASES[1], CASES[6], CASES[10]], ids=lambda c: c[0])
def test_einsum_gradients(backend, case):
    equation, *shapes = case
    arrays = [RNG.standard_normal(s) for s in shapes]
    assert_gradients_match(backend, lambda *xs: gc.einsum(equation, *xs), arrays)


@pytest.mark.parametrize(
    "equation,shapes,match",
    [
        ("ab,bc", [(2, 3), (3, 4)], "explicit"),
        ("ab,bc->ac", [(2, 3), (4, 4)], "index 'b'.*sizes 3 and 4"),
        ("abc,bc->a", [(2, 3), (3, 4)], "'abc'.*shape \\(2, 3\\)"),
        ("aa->a", [(3, 3)], "repeated index"),
        ("ab->ac", [(3, 3)], "output indices"),
    ],
)
def test_einsum_errors_name_the_equation_and_line(equation, shapes, match):
    nodes = [gc.placeholder(s) for s in shapes]
    with pytest.raises(gc.ShapeError, match=match) as err:
        gc.einsum(equation, *nodes)
    assert "test_einsum.py" in str(err.value)
