"""vecmath.py: accuracy in ulps against NumPy/math, special values, scalar and vector forms."""

import ctypes
import functools
import math

import numpy as np
import pytest
from llvmlite import ir

from graphc.backends.llvm import jit, vecmath


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


REFERENCE = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _sigmoid,
             "erf": np.vectorize(math.erf, otypes=[np.float64])}
# name -> (ranges, max ulps); the docstring of vecmath.py reports the measured maxima
CASES = {
    "exp": ([(-103, 88), (-1, 1), (-745, 709)], 1.5),
    "log": ([(1e-40, 1e-30), (0.5, 2.0), (1e-3, 1e30), (1e-310, 1e-300)], 1.5),
    "tanh": ([(-0.7, 0.7), (-10, 10), (-0.01, 0.01)], 2.5),
    "sigmoid": ([(-120, 40), (-5, 5)], 3.5),
    "erf": ([(-1, 1), (-7, 7), (-0.01, 0.01)], 3.0),
}
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-30]


@functools.cache
def kernel(name, dtype, width):
    """y[i] = f(x[i]) for i < n, computed `width` lanes at a time (width 1 = scalar code)."""
    T = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    V = T if width == 1 else ir.VectorType(T, width)
    i64 = ir.IntType(64)
    module = ir.Module(name="vecmath_test")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 2 + [i64]), "f")
    x, y, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    loop, done = fn.append_basic_block("loop"), fn.append_basic_block("done")
    entry = b.block
    b.cbranch(b.icmp_signed(">", n, ir.Constant(i64, 0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), entry)
    value = b.load(b.gep(x, [i], source_etype=T), typ=V, align=1)
    b.store(getattr(vecmath, f"emit_{name}")(b, value), b.gep(y, [i], source_etype=T), align=1)
    nxt = b.add(i, ir.Constant(i64, width))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
    b.position_at_end(done)
    b.ret_void()
    compiled = jit.compile_ir(str(module), f"vecmath_{name}_{dtype}_{width}")
    f = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(
        compiled.address("f"))

    def run(values):
        xs = np.ascontiguousarray(values, dtype)
        assert xs.size % width == 0
        ys = np.empty_like(xs)
        f(xs.ctypes.data, ys.ctypes.data, xs.size)
        return ys
    run.module = compiled
    return run


def ulp_error(got, reference, dtype):
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(reference.astype(dtype))).astype(np.float64)
    return np.abs(got.astype(np.float64) - reference) / spacing


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_accuracy_in_ulps(name, dtype):
    ranges, bound = CASES[name]
    run = kernel(name, dtype, 16 if dtype == "float32" else 8)
    finfo = np.finfo(dtype)
    for lo, hi in ranges:
        if max(abs(lo), abs(hi)) > finfo.max or 0 < hi < finfo.tiny:
            continue
        if name == "exp" and dtype == "float32" and lo < -104:
            continue
        make = np.geomspace if name == "log" else np.linspace
        xs = make(lo, hi, 32768).astype(dtype)
        with np.errstate(over="ignore"):
            reference = REFERENCE[name](xs.astype(np.float64))
        err = ulp_error(run(xs), reference, dtype)
        worst = int(np.argmax(err))
        assert err[worst] <= bound, (name, dtype, xs[worst], err[worst])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_special_values_and_scalar_form(name, dtype):
    xs = np.array(SPECIALS, dtype)
    with np.errstate(all="ignore"):
        expected = REFERENCE[name](xs.astype(np.float64)).astype(dtype)
    scalar, vector = kernel(name, dtype, 1), kernel(name, dtype, 8)
    np.testing.assert_allclose(scalar(xs), expected, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(vector(xs), scalar(xs))


def test_exp_overflow_and_underflow_edges():
    run = kernel("exp", "float32", 16)
    xs = np.array([88.7, 88.73, 89, 1000, -87.3, -103, -104, -1000, 0, 1e-8, -1e-8, 2, 3, 4, 5, 6],
                  np.float32)
    with np.errstate(over="ignore"):
        expected = np.exp(xs.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(run(xs), expected, rtol=2e-7)


def test_non_float_value_is_rejected():
    b = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []), "g")
                     .append_basic_block())
    with pytest.raises(TypeError, match="emit_exp"):
        vecmath.emit_exp(b, ir.Constant(ir.IntType(32), 1))


def test_activation_names():
    assert set(vecmath.ACTIVATIONS) >= {"linear", "relu", "sigmoid", "tanh"}
    b = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []), "g")
                     .append_basic_block())
    with pytest.raises(ValueError, match="swish"):
        vecmath.emit_activation(b, "swish", ir.Constant(ir.FloatType(), 1.0))
