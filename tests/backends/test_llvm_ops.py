"""Every op of the op table through the LLVM backend, against the NumPy interpreter.

Each op's cases (graphc.testing.OP_CASES) are compiled together as one function per dtype, so
the suite compiles about two modules per op. Tolerances: float64 kernels agree with NumPy to a
few ulp (1e-12 relative); float32 ones to 1e-5 relative, because exp/log/tanh/erf are
polynomial approximations good to 1-2 ulp and sums are reassociated for vectorization.
"""

import re

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import jit
from graphc.backends.llvm.emitters import EMITTERS, emitter_for
from graphc.ops import ELEMENTWISE, OPS, REDUCTIONS
from graphc.testing import OP_CASES, build_case

TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def computed_ops():
    """Every op a backend computes: not leaves, not the ops passes expand or make (structural)."""
    return sorted(n for n, op in OPS.items() if op.fusion not in ("leaf", "structural"))


def test_every_op_has_an_emitter():
    missing = [op for op in computed_ops() if op not in EMITTERS]
    assert not missing, f"ops without an LLVM emitter: {missing}"


def test_a_missing_emitter_is_a_clear_error():
    x = gc.placeholder((2,), name="x")
    node = gc.exp(x)
    fake = type("FakeNode", (), {"op": "no_such_op", "shape": (2,), "dtype": "float32",
                                 "site": node.site})()
    with pytest.raises(NotImplementedError, match="no_such_op.*test_llvm_ops.py"):
        emitter_for(fake)


_COMPILED = {}


def compiled_cases(op, dtype):
    """One llvm and one numpy function computing every case of `op` (cached per module)."""
    if (op, dtype) not in _COMPILED:
        rng = np.random.default_rng(sum(map(ord, op)))
        placeholders, outputs, values = [], [], []
        for case in OP_CASES[op]:
            ph, node = build_case(op, case, dtype)
            placeholders += ph
            outputs.append(node)
            values += case.sample(rng, dtype)
        fl = gc.function(placeholders, outputs)
        fn = gc.function(placeholders, outputs, backend="numpy")
        _COMPILED[op, dtype] = (fl, fn, values)
    return _COMPILED[op, dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", sorted(set(OP_CASES) & set(EMITTERS)))
def test_op_cases_match_the_interpreter(op, dtype):
    fl, fn, values = compiled_cases(op, dtype)
    for got, want in zip(fl(*values), fn(*values)):
        assert got.shape == want.shape and got.dtype == want.dtype
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, **TOL[str(want.dtype)], err_msg=op)
        else:
            np.testing.assert_array_equal(got, want, err_msg=op)


@pytest.mark.parametrize("op", ["add", "exp", "sum", "matmul", "take", "getitem", "softmax"])
def test_run_time_batch_matches(op):
    """The same cases with a run-time (None) first dimension, called with two batch sizes."""
    case = OP_CASES[op][0]
    ph, node = build_case(op, case, "float32", batch=True)
    fl = gc.function(ph, node)
    fn = gc.function(ph, node, backend="numpy")
    rng = np.random.default_rng(1)
    values = case.sample(rng, "float32")
    assert np.allclose(fl(*values), fn(*values), rtol=1e-5, atol=1e-6)


def test_dropout_mask_bits_match_the_interpreter():
    x = gc.placeholder((None, 257), name="x")
    key = gc.placeholder((), "int64", name="key")
    keep = gc.random_uniform(key, x) >= 0.3
    y = gc.where(keep, x / 0.7, 0.0) * 2.0
    outs = [gc.random_uniform(key, x), y, gc.sum(gc.cast(keep, "float32"))]
    fl, fn = gc.function([x, key], outs), gc.function([x, key], outs, backend="numpy")
    xs = np.random.default_rng(0).standard_normal((301, 257)).astype(np.float32)
    for k in (0, 12345, -7, 2**40 + 3):
        got, want = fl(xs, k), fn(xs, k)
        np.testing.assert_array_equal(got[0], want[0])  # bit for bit
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]



def test_no_fast_math_flag_that_may_drop_nan_or_inf_checks(monkeypatch):
    """nnan/ninf (and `fast`, which implies them) let LLVM delete the selects that propagate
    NaN and inf; reassoc/nsz/contract keep them (issue 10, defect 7) -- but not reassoc with nsz
    on a sum's accumulation, which folded sum(x - x) to 0 for x = inf (fuzz bug H:
    tests/backends/test_fuzz_regressions.py)."""
    texts = []
    compile_ir = jit.compile_ir
    monkeypatch.setattr(jit, "compile_ir", lambda text, *rest, **options: texts.append(text) or
                        compile_ir(text, *rest, **options))
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    placeholders, outputs = [], []
    for op in ELEMENTWISE + REDUCTIONS + ("softmax", "log_softmax", "matmul"):
        ph, node = build_case(op, OP_CASES[op][0], "float32")
        placeholders += ph
        outputs.append(gc.relu(node) if op == "matmul" else node)  # a GEMM epilogue
    gc.function(placeholders, outputs)
    assert texts and not re.findall(r"\b(?:fast|nnan|ninf)\b", "".join(texts))
