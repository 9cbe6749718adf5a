"""Loop kernels that reduce outer axes and keep the innermost one (bias gradients: column sums of
a ReLU-masked gradient, fused with the bias's Adam update) cut the kept axis into blocks of whole
unrolled vector bodies (loop_kernel.VECTOR_ROWS columns), about a COLUMN_BLOCKS-th of the row up
to MAX_COLUMNS wide. Column counts around those widths, odd row counts, both dtypes: the same
values as the interpreter, and bit-identical on one and two threads."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphc as gc
from graphc.backends.llvm import threads
from graphc.backends.llvm.loop_kernel import COLUMN_BLOCKS, MAX_COLUMNS, VECTOR_ROWS

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {"float32": (1, 7, 33, VECTOR_ROWS - 1, VECTOR_ROWS + 1, 257,
                       COLUMN_BLOCKS * MAX_COLUMNS + 1),
           "float64": (7, VECTOR_ROWS + 1)}
ROWS = (1, 7, 33, 257)
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


def bias_gradient_step(columns, dtype, backend):
    """(dz, updated bias) of h, dy: dz = dy where h > 0; the bias takes an Adam step on the
    column sums of dz."""
    h = gc.placeholder((None, columns), dtype, name="h")
    dy = gc.placeholder((None, columns), dtype, name="dy")
    dz = gc.where(h > 0, dy, dy * 0)
    bias = gc.shared(np.linspace(-1, 1, columns).astype(dtype), name="bias")
    m, v = (gc.shared(np.full(columns, 0.5, dtype)) for _ in range(2))
    g = gc.sum(dz, axis=0)
    m1, v1 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
    new_bias = bias - 1e-3 * m1 / (gc.sqrt(v1) + 1e-7)
    step = gc.function([h, dy], [dz, g], updates=[(m, m1), (v, v1), (bias, new_bias)],
                       backend=backend)
    return step, bias


def run_cases(backend):
    """{(columns, dtype, rows): (dz, column sums, bias after the step)}."""
    rng = np.random.default_rng(3)
    out = {}
    for dtype, widths in COLUMNS.items():
        for columns in widths:
            step, bias = bias_gradient_step(columns, dtype, backend)
            for rows in ROWS:
                h, dy = rng.standard_normal((2, rows, columns)).astype(dtype)
                dz, g = step(h, dy)
                out[(columns, dtype, rows)] = (dz, g, bias.get_value().copy())
    return out


def digests() -> str:
    lines = []
    for key, arrays in run_cases("llvm").items():
        data = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
        lines.append(f"{key}: {hashlib.sha256(data).hexdigest()[:16]}")
    return "\n".join(lines)


def test_column_sums_match_the_interpreter_at_every_width_around_a_block():
    compiled, reference = run_cases("llvm"), run_cases("numpy")
    for key, arrays in compiled.items():
        tol = TOLERANCE[key[1]]
        np.testing.assert_array_equal(arrays[0], reference[key][0], err_msg=str(key))
        for got, want in zip(arrays[1:], reference[key][1:]):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=str(key))


def test_column_sums_are_bit_identical_on_one_and_two_threads():
    other = 1 if threads.num_threads() > 1 else 2  # this process runs the other count
    code = "import tests.backends.test_column_blocks as t\nprint(t.digests())\n"
    env = dict(os.environ, GRAPHC_NUM_THREADS=str(other), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == digests()
