"""NaN, +-inf and -0.0 through every elementwise op and reduction, on both backends, against the
op's NumPy reference: NaN where NumPy gives NaN, the same infinities, and otherwise the usual
tolerances (a diverging run must show nan, not train on; issue 10, defect 7).

An elementwise op runs on a grid: input k varies along axis k, so every combination of the
special values meets in one call. A reduction runs on every pair of them, and on all at once.
"""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import ELEMENTWISE, OPS, REDUCTIONS, make_node
from graphc.testing import OP_CASES, In

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -1.5, 0.25, -3.0, 40.0, -40.0, 800.0]
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
BACKENDS = ["numpy", "llvm"]


def float_to_int_cast(case):
    # NaN and inf have no integer value: NumPy's result is whatever the CPU gives (with a
    # RuntimeWarning), LLVM's fptosi is poison; neither is a value to agree on
    return case.attrs.get("dtype") in ("int32", "int64") and case.inputs[0].dtype.startswith("f")


ELEMENTWISE_CASES = [
    (op, i) for op in ELEMENTWISE if op != "size"  # size reads only its input's shape
    for i, case in enumerate(OP_CASES[op])
    if all(s.shape for s in case.inputs) and not float_to_int_cast(case)
]
REDUCTION_AXES = [2, (0, 1), None]


def grid_input(spec, k, ndim, dtype, rng):
    """Input k of an op on the grid: SPECIALS along axis k for floats, samples otherwise."""
    shape = [1] * ndim
    shape[k] = len(SPECIALS)
    if spec.dtype.startswith("float"):
        return np.array(SPECIALS, dtype).reshape(shape)
    return In(tuple(shape), spec.kind, spec.dtype, spec.high).sample(rng)


def run(outputs_of, values, backend):
    """The nodes `outputs_of(placeholders for values)` and their values on `backend`."""
    placeholders = [gc.placeholder(v.shape, str(v.dtype)) for v in values]
    nodes = outputs_of(placeholders)
    return nodes, gc.function(placeholders, nodes, backend=backend)(*values)


def reference(node, values, **attrs):
    with np.errstate(all="ignore"):
        return np.asarray(OPS[node.op].impl(*values, **attrs), dtype=node.dtype)


def assert_matches(got, want, err_msg, signed_zeros=True):
    assert got.shape == want.shape and got.dtype == want.dtype, err_msg
    if want.dtype.kind == "f":  # NaN where NumPy has NaN, same infinities, else close
        np.testing.assert_allclose(got, want, **TOL[str(want.dtype)], err_msg=err_msg)
        if signed_zeros:
            zeros = want == 0  # and zeros of NumPy's sign (1 / x tells them apart)
            np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]),
                                          err_msg)
    else:
        np.testing.assert_array_equal(got, want, err_msg=err_msg)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op,i", ELEMENTWISE_CASES)
def test_elementwise_special_values_match_numpy(op, i, dtype, backend):
    case = OP_CASES[op][i]
    rng = np.random.default_rng(0)
    n = len(case.inputs)
    values = [grid_input(spec, k, n, dtype, rng) for k, spec in enumerate(case.inputs)]
    (node,), (got,) = run(lambda ps: [make_node(op, ps, case.attrs)], values, backend)
    assert_matches(got, reference(node, values, **case.attrs), f"{op} {case.attrs} on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions_of_special_values_match_numpy(op, dtype, backend):
    pairs = np.stack(np.broadcast_arrays(np.array(SPECIALS)[:, None], np.array(SPECIALS)), -1)
    x = pairs.astype(dtype)  # x[i, j] = (SPECIALS[i], SPECIALS[j])
    nodes, outputs = run(
        lambda ps: [make_node(op, ps, dict(axis=a, keepdims=False)) for a in REDUCTION_AXES],
        [x], backend)
    for axis, node, got in zip(REDUCTION_AXES, nodes, outputs):
        want = reference(node, [x], axis=axis, keepdims=False)
        # a sum may start from +0.0 where NumPy's starts from its first -0.0 (the nsz flag
        # allows it): zeros' signs are compared for max and min only
        assert_matches(got, want, f"{op} over {axis} on {backend}", op in ("max", "min"))


def test_softmax_argmax_and_dense_epilogues_keep_nan_and_inf():
    """Ops built from the elementwise ones and reductions: NaN rows stay NaN, argmax finds the
    first NaN as NumPy does, a GEMM's fused activation passes NaN and inf through."""
    specials = np.array(SPECIALS[:8], "float32")
    rows = np.stack([np.roll(specials, k) for k in range(8)])
    rows[5:] = np.random.default_rng(0).standard_normal((3, 8))
    w = np.random.default_rng(1).random((8, 8)).astype("float32")
    x, weights, bias = gc.placeholder((None, 8)), gc.placeholder((8, 8)), gc.placeholder((8,))
    dense = x @ weights + bias
    outs = [gc.softmax(x), gc.log_softmax(x), gc.argmax(x, axis=1), gc.argmin(x, axis=0),
            gc.relu(dense), gc.tanh(dense), gc.sigmoid(dense)]
    args = (rows, w, specials)
    with np.errstate(all="ignore"):
        wants = gc.function([x, weights, bias], outs, backend="numpy")(*args)
    gots = gc.function([x, weights, bias], outs)(*args)
    for k, (got, want) in enumerate(zip(gots, wants)):
        assert_matches(got, want, f"output {k}")
