"""log and cos for random numbers (Box-Muller, Gumbel-max) from +, -, *, /, comparisons and
where only.

Those operations are correctly rounded (IEEE) on every backend and graphc's LLVM code does
not contract them into fused multiply-adds, so these functions give the same bits on the NumPy
interpreter and in compiled code, which the library log and cos (polynomials of their own)
do not. Accuracy is a few ulps, plenty for random numbers.
"""

from __future__ import annotations

import math

import graphc as gc

LN2 = math.log(2.0)
# Series lengths that reach the dtype's precision on the reduced ranges below.
LOG_TERMS = {"float32": 6, "float64": 12}
COS_TERMS = {"float32": 8, "float64": 12}


def _const(value: float, like):
    return gc.as_node(float(value), like=like)


def log_positive(x):
    """log(x) for x in [2**-31, 2**31] (uniform draws, their logs, ...): x = m * 2**-e with m
    in [sqrt(1/2), sqrt(2)), then log(m) = 2 atanh((m - 1) / (m + 1)) as a short series."""
    m, e = x, x * 0.0
    for p in (16, 8, 4, 2, 1):  # binary search for the exponent: exact scalings by 2**p
        small, big = m < 2.0**-p, m >= 2.0**p
        m = gc.where(small, m * float(2**p), gc.where(big, m * 2.0**-p, m))
        e = gc.where(small, e + float(p), gc.where(big, e - float(p), e))
    low = m < math.sqrt(0.5)
    m = gc.where(low, m * 2.0, m)
    e = gc.where(low, e + 1.0, e)
    high = m >= math.sqrt(2.0)
    m = gc.where(high, m * 0.5, m)
    e = gc.where(high, e - 1.0, e)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    terms = LOG_TERMS[x.dtype]
    series = _const(1.0 / (2 * terms + 1), x)
    for k in range(terms - 1, -1, -1):
        series = series * s2 + 1.0 / (2 * k + 1)
    return 2.0 * s * series - e * LN2


def cos_turns(t):
    """cos(2 pi t) for t in [0, 1), by symmetry reduced to an angle in [0, pi/2], then its
    Taylor series."""
    t = gc.where(t > 0.5, 1.0 - t, t)  # cos(2 pi t) = cos(2 pi (1 - t)); now t in [0, 1/2]
    far = t > 0.25
    t = gc.where(far, 0.5 - t, t)  # cos(2 pi t) = -cos(2 pi (1/2 - t)); now t in [0, 1/4]
    theta = t * (2 * math.pi)
    theta2 = theta * theta
    terms = COS_TERMS[t.dtype]
    series = _const((-1) ** terms / math.factorial(2 * terms), t)
    for k in range(terms - 1, -1, -1):
        series = series * theta2 + (-1) ** k / math.factorial(2 * k)
    return gc.where(far, -series, series)
