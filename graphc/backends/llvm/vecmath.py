"""Vectorizable math functions emitted inline as LLVM IR (no libm calls, so loops vectorize).

Public API (each takes an llvmlite `ir.IRBuilder` and a value of type float, double, or a vector
of either, and returns a value of the same type):
  emit_exp(builder, x)      emit_log(builder, x)     emit_tanh(builder, x)
  emit_sigmoid(builder, x)  emit_erf(builder, x)
  emit_log1p(builder, x)    emit_expm1(builder, x)   (accurate for tiny x, from exp and log)
  ACTIVATIONS: dict name -> emitter(builder, x) for 'linear', 'relu', 'sigmoid', 'tanh'
  emit_activation(builder, name, x)
  activation_function(module, name, ty) -> ir.Function   an internal, not-inlined function
      `ty f(ty)` applying the activation: one copy of a long expansion (sigmoid, tanh) that
      many call sites share (the GEMM epilogue uses it to keep compile time down)

Method: range reduction + polynomial (Horner with llvm.fma), with the exponent handled by
integer bit manipulation; special values (NaN, +-inf, 0, negatives for log, subnormals) are
handled with selects, so the code is branch-free and vectorizes. Coefficients: exp/log/tanh from
Cephes (float32) and fdlibm/Cephes/Taylor (float64); erf refitted with mpmath (see emit_erf).

Maximum error measured (2e5 points over several ranges each, including subnormal inputs and
outputs), in ulps of the correctly rounded result; reference: float64 NumPy/math.erf for
float32, NumPy/math.erf itself for float64 (so the float64 figures include the reference's own
error). tests/backends/test_vecmath.py asserts slightly looser bounds.
            exp    log    tanh   sigmoid  erf
  float32   0.96   0.80   1.27   2.59     2.34
  float64   1.00   1.00   2.00   3.00     2.00
"""

from __future__ import annotations

import math

from llvmlite import ir

# ---------------------------------------------------------------- types, constants, intrinsics

def _scalar_type(ty: ir.Type) -> ir.Type:
    return ty.element if isinstance(ty, ir.VectorType) else ty


def _is_double(ty: ir.Type) -> bool:
    return isinstance(_scalar_type(ty), ir.DoubleType)


def _check_float(value: ir.Value, what: str) -> ir.Type:
    ty = value.type
    if not isinstance(_scalar_type(ty), (ir.FloatType, ir.DoubleType)):
        raise TypeError(f"{what}: expected a float/double scalar or vector value; received {ty}")
    return ty


def _like(ty: ir.Type, scalar: ir.Type) -> ir.Type:
    """`scalar` shaped like `ty` (same vector length, or scalar)."""
    return ir.VectorType(scalar, ty.count) if isinstance(ty, ir.VectorType) else scalar


def _int_type(ty: ir.Type) -> ir.Type:
    return _like(ty, ir.IntType(64 if _is_double(ty) else 32))


def const(ty: ir.Type, value) -> ir.Constant:
    """A constant of type `ty`, splatted when `ty` is a vector."""
    if isinstance(ty, ir.VectorType):
        return ir.Constant(ty, [ir.Constant(ty.element, value)] * ty.count)
    return ir.Constant(ty, value)


def _mangle(ty: ir.Type) -> str:
    scalar = _scalar_type(ty)
    name = {ir.FloatType: "f32", ir.DoubleType: "f64"}.get(type(scalar))
    if name is None:
        name = f"i{scalar.width}"
    return f"v{ty.count}{name}" if isinstance(ty, ir.VectorType) else name


def intrinsic(builder: ir.IRBuilder, name: str, ty: ir.Type, arity: int) -> ir.Function:
    """Declare (once per module) the overloaded intrinsic `llvm.<name>.<type>`."""
    full = f"llvm.{name}.{_mangle(ty)}"
    module = builder.module
    existing = module.globals.get(full)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ty, [ty] * arity), name=full)


def fma(builder, a, b, c):
    return builder.call(intrinsic(builder, "fma", a.type, 3), [a, b, c])


def _call(builder, name, *args):
    return builder.call(intrinsic(builder, name, args[0].type, len(args)), list(args))


def horner(builder, x, coefficients):
    """c0*x^(n-1) + ... + c_{n-1}, highest power first, evaluated with fma."""
    ty = x.type
    acc = const(ty, coefficients[0])
    for c in coefficients[1:]:
        acc = fma(builder, acc, x, const(ty, c))
    return acc


def _select_nan(builder, x, result):
    """NaN inputs give NaN (as themselves)."""
    is_nan = builder.fcmp_unordered("uno", x, x)
    return builder.select(is_nan, x, result)


def _pow2(builder, n_int, ty):
    """2**n as a float of type `ty` for n in the normal exponent range (n an integer vector)."""
    mant_bits, bias = (52, 1023) if _is_double(ty) else (23, 127)
    ity = n_int.type
    biased = builder.add(n_int, const(ity, bias))
    return builder.bitcast(builder.shl(biased, const(ity, mant_bits)), ty)


# ---------------------------------------------------------------- exp

_EXPF_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
              1.6666665459e-1, 5.0000001201e-1]  # Cephes expf: exp(r) = 1 + r + r^2 P(r)
_EXP_POLY = [1 / math.factorial(k) for k in range(13, 1, -1)]  # Taylor, |r| <= ln2/2: < 1e-17


def emit_exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e**x. Overflow gives +inf, underflow 0 (through the subnormal range), NaN stays NaN."""
    ty = _check_float(x, "emit_exp")
    double = _is_double(ty)
    hi, lo = (709.782712893384, -745.1332191019412) if double else (88.72283935546875, -103.972)
    xc = _call(builder, "minnum", _call(builder, "maxnum", x, const(ty, lo)), const(ty, hi))
    n = _call(builder, "rint", builder.fmul(xc, const(ty, 1 / math.log(2))))
    ln2_hi, ln2_lo = ((6.93147180369123816490e-01, 1.90821492927058770002e-10) if double
                      else (0.693359375, -2.12194440e-4))
    r = fma(builder, n, const(ty, -ln2_hi), xc)
    r = fma(builder, n, const(ty, -ln2_lo), r)
    poly = horner(builder, r, _EXP_POLY if double else _EXPF_POLY)
    p = builder.fadd(fma(builder, poly, builder.fmul(r, r), r), const(ty, 1.0))
    # 2**n in two factors so results near overflow and in the subnormal range stay exact
    ni = builder.fptosi(n, _int_type(ty))
    n1 = builder.ashr(ni, const(ni.type, 1))
    n2 = builder.sub(ni, n1)
    result = builder.fmul(builder.fmul(p, _pow2(builder, n1, ty)), _pow2(builder, n2, ty))
    result = builder.select(builder.fcmp_ordered(">", x, const(ty, hi)),
                            const(ty, math.inf), result)
    result = builder.select(builder.fcmp_ordered("<", x, const(ty, lo)), const(ty, 0.0), result)
    return _select_nan(builder, x, result)


# ---------------------------------------------------------------- log

_LOGF_POLY = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
              1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
              3.3333331174e-1]  # Cephes logf
_LG = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01]  # fdlibm log Lg1..Lg7


def _split_exponent(builder, x, ty):
    """(m, e) with x = m * 2**e, m in [sqrt(1/2), sqrt(2)), e as a float; subnormals scaled."""
    double = _is_double(ty)
    ity = _int_type(ty)
    mant_bits, bias, scale_bits = (52, 1023, 54) if double else (23, 127, 25)
    tiny = builder.fcmp_ordered("<", x, const(ty, 2.0 ** (1 - bias)))
    x = builder.select(tiny, builder.fmul(x, const(ty, 2.0 ** scale_bits)), x)
    bits = builder.bitcast(x, ity)
    exp_field = builder.lshr(bits, const(ity, mant_bits))
    e = builder.sub(exp_field, const(ity, bias))
    e = builder.sub(e, builder.select(tiny, const(ity, scale_bits), const(ity, 0)))
    mantissa_mask = (1 << mant_bits) - 1
    one_bits = bias << mant_bits
    m_bits = builder.or_(builder.and_(bits, const(ity, mantissa_mask)), const(ity, one_bits))
    m = builder.bitcast(m_bits, ty)  # in [1, 2)
    big = builder.fcmp_ordered(">", m, const(ty, math.sqrt(2.0)))
    m = builder.select(big, builder.fmul(m, const(ty, 0.5)), m)
    e = builder.add(e, builder.zext(big, ity))
    return m, builder.sitofp(e, ty)


def _log_core_f32(builder, f, e, ty):
    z = builder.fmul(f, f)
    y = builder.fmul(builder.fmul(f, z), horner(builder, f, _LOGF_POLY))
    y = fma(builder, e, const(ty, -2.12194440e-4), y)
    y = fma(builder, z, const(ty, -0.5), y)
    return fma(builder, e, const(ty, 0.693359375), builder.fadd(f, y))


def _log_core_f64(builder, f, e, ty):
    s = builder.fdiv(f, builder.fadd(f, const(ty, 2.0)))
    z = builder.fmul(s, s)
    w = builder.fmul(z, z)
    odd = builder.fmul(z, horner(builder, w, [_LG[6], _LG[4], _LG[2], _LG[0]]))
    even = builder.fmul(w, horner(builder, w, [_LG[5], _LG[3], _LG[1]]))
    r = builder.fadd(odd, even)
    hfsq = builder.fmul(const(ty, 0.5), builder.fmul(f, f))
    e_lo = builder.fmul(e, const(ty, 1.90821492927058770002e-10))
    inner = fma(builder, s, builder.fadd(hfsq, r), e_lo)
    return fma(builder, e, const(ty, 6.93147180369123816490e-01),
               builder.fsub(f, builder.fsub(hfsq, inner)))


def emit_log(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Natural log. log(0) = -inf, log(inf) = inf, negative or NaN -> NaN."""
    ty = _check_float(x, "emit_log")
    m, e = _split_exponent(builder, x, ty)
    f = builder.fsub(m, const(ty, 1.0))
    core = _log_core_f64 if _is_double(ty) else _log_core_f32
    result = core(builder, f, e, ty)
    result = builder.select(builder.fcmp_ordered("==", x, const(ty, math.inf)), x, result)
    result = builder.select(builder.fcmp_ordered("==", x, const(ty, 0.0)),
                            const(ty, -math.inf), result)
    result = builder.select(builder.fcmp_ordered("<", x, const(ty, 0.0)),
                            const(ty, math.nan), result)
    return _select_nan(builder, x, result)


# ---------------------------------------------------------------- log1p, expm1
# Both correct the rounding of u = 1 + x (or u = e**x) with the exact u - 1 (Goldberg, "What
# every computer scientist should know about floating-point arithmetic", thm. 4; Kahan's expm1).


def emit_log1p(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """log(1 + x) = log(u) * x / (u - 1) with u = 1 + x rounded; x itself where u rounds to 1."""
    ty = _check_float(x, "emit_log1p")
    u = builder.fadd(x, const(ty, 1.0))
    u_minus_1 = builder.fsub(u, const(ty, 1.0))
    result = builder.fmul(emit_log(builder, u), builder.fdiv(x, u_minus_1))
    result = builder.select(builder.fcmp_ordered("==", u_minus_1, const(ty, 0.0)), x, result)
    return builder.select(builder.fcmp_ordered("==", x, const(ty, math.inf)), x, result)


def emit_expm1(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e**x - 1 = (u - 1) * x / log(u) with u = e**x rounded; x where u rounds to 1, -1 where
    u - 1 does, +inf past overflow."""
    ty = _check_float(x, "emit_expm1")
    u = emit_exp(builder, x)
    u_minus_1 = builder.fsub(u, const(ty, 1.0))
    result = builder.fmul(u_minus_1, builder.fdiv(x, emit_log(builder, u)))
    result = builder.select(builder.fcmp_ordered("==", u, const(ty, 1.0)), x, result)
    result = builder.select(builder.fcmp_ordered("==", u_minus_1, const(ty, -1.0)),
                            const(ty, -1.0), result)
    return builder.select(builder.fcmp_ordered("==", u, const(ty, math.inf)), u, result)


# ---------------------------------------------------------------- tanh, sigmoid

_TANHF_POLY = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
               -3.33332819422e-1]  # Cephes tanhf, |x| < 0.625: x + x^3 P(x^2)
_TANH_P = [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3]
_TANH_Q = [1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3]


def _tanh_small(builder, x, ty):
    z = builder.fmul(x, x)
    if _is_double(ty):
        ratio = builder.fdiv(horner(builder, z, _TANH_P), horner(builder, z, _TANH_Q))
    else:
        ratio = horner(builder, z, _TANHF_POLY)
    return fma(builder, builder.fmul(x, z), ratio, x)


def emit_tanh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """tanh: a rational/polynomial form for |x| < 0.625, 1 - 2/(exp(2|x|) + 1) beyond."""
    ty = _check_float(x, "emit_tanh")
    ax = _call(builder, "fabs", x)
    e = emit_exp(builder, builder.fmul(ax, const(ty, 2.0)))
    large = builder.fsub(const(ty, 1.0), builder.fdiv(const(ty, 2.0),
                                                      builder.fadd(e, const(ty, 1.0))))
    small = builder.fcmp_ordered("<", ax, const(ty, 0.625))
    # tanh is odd: the sign of x, also for -0.0 (the small form gives +0.0 there)
    return _call(builder, "copysign", builder.select(small, _tanh_small(builder, x, ty), large), x)


def emit_sigmoid(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it neither overflows nor loses the tail."""
    ty = _check_float(x, "emit_sigmoid")
    e = emit_exp(builder, builder.fneg(_call(builder, "fabs", x)))
    r = builder.fdiv(const(ty, 1.0), builder.fadd(const(ty, 1.0), e))
    positive = builder.fcmp_ordered(">=", x, const(ty, 0.0))
    return builder.select(positive, r, builder.fmul(e, r))


# ---------------------------------------------------------------- erf
# Fitted with mpmath.chebyfit (40 digits; fit errors: f32 1.2e-9 / 1.6e-8, f64 7e-18 / 1.2e-17):
#   |x| < 1:  erf(x) = x * P(x^2)
#   |x| >= 1: erf(x) = 1 - t * exp(-x^2 + Q(t - c)),  t = 1 / (1 + |x|/2)   (Numerical Recipes'
#             erfc form, refitted), and 1 from |x| >= 4 (f32) / 6 (f64) where erf rounds to 1.
_ERF_SMALL_F32 = [7.875875062685488e-05, -0.000801686428716587, 0.005189087423433974,
                  -0.026854212010626412, 0.11283594715160218, -0.37612626666720334,
                  1.1283791658483509]
_ERF_SMALL_F64 = [-7.795898827002142e-10, 1.3720064546777686e-08, -1.6208483801871705e-07,
                  1.6447424703317362e-06, -1.492473690741966e-05, 0.00012055294904839707,
                  -0.0008548325975389692, 0.0052239776071164225, -0.02686617064323777,
                  0.11283791670945006, -0.37612638903183543, 1.1283791670955126]
_ERF_LARGE_F32 = (4.0, 0.5, [0.11060414889576872, 0.26836603314316426, -0.15793511259786722,
                             -0.3749723110056554, 0.1893731297605265, 1.3452857819765076,
                             -0.6717940840566923])
_ERF_LARGE_F64 = (6.0, 0.4583333333333333, [
    0.5535888611630921, -0.4126653050574088, -0.3547259136137361, 0.52256130456081,
    0.07621143792160973, -0.4551979790631505, 0.09429941505793459, 0.3468585916222164,
    -0.16963712658886962, -0.2657747698285945, 0.19619415923712247, 0.24359275586583976,
    -0.21311761637261442, -0.3441290896194704, 0.23442498156110278, 1.327601228934298,
    -0.7274922853522042])


def emit_erf(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """The error function (odd; erf(+-inf) = +-1, NaN stays NaN)."""
    ty = _check_float(x, "emit_erf")
    double = _is_double(ty)
    ax = _call(builder, "fabs", x)
    x2 = builder.fmul(ax, ax)
    small = builder.fmul(ax, horner(builder, x2, _ERF_SMALL_F64 if double else _ERF_SMALL_F32))
    saturate, center, q_poly = _ERF_LARGE_F64 if double else _ERF_LARGE_F32
    t = builder.fdiv(const(ty, 1.0), fma(builder, ax, const(ty, 0.5), const(ty, 1.0)))
    q = horner(builder, builder.fsub(t, const(ty, center)), q_poly)
    erfc = builder.fmul(t, emit_exp(builder, builder.fsub(q, x2)))
    large = builder.fsub(const(ty, 1.0), erfc)
    large = builder.select(builder.fcmp_ordered(">=", ax, const(ty, saturate)),
                           const(ty, 1.0), large)
    magnitude = builder.select(builder.fcmp_ordered("<", ax, const(ty, 1.0)), small, large)
    return _call(builder, "copysign", magnitude, x)


# ---------------------------------------------------------------- activations (GEMM epilogue)

def emit_relu(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """max(x, 0): NaN stays NaN, -0.0 becomes 0.0 (as np.maximum(x, 0))."""
    ty = _check_float(x, "emit_relu")
    return builder.select(builder.fcmp_ordered("<=", x, const(ty, 0.0)), const(ty, 0.0), x)


ACTIVATIONS = {
    "linear": lambda builder, x: x,
    "relu": emit_relu,
    "sigmoid": emit_sigmoid,
    "tanh": emit_tanh,
}


def emit_activation(builder: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    """Apply the named activation; names are the keys of ACTIVATIONS."""
    try:
        emitter = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None
    return emitter(builder, x)


def activation_function(module: ir.Module, name: str, ty: ir.Type) -> ir.Function:
    """Define (once per module and type) `internal ty graphc_act_<name>_<type>(ty)`."""
    symbol = f"graphc_act_{name}_{_mangle(ty)}"
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), name=symbol)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(emit_activation(builder, name, fn.args[0]))
    return fn
