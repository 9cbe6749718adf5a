"""examples/c_inference compiled with cc against exported MLP, CNN and LSTM libraries: its
outputs equal `predict`, at 1 and 2 threads, for row counts around the internal chunk."""

import re
import subprocess

import numpy as np
import pytest

from tests.export.aot_helpers import (
    SHAPES,
    compile_example,
    digits,
    needs_cc,
    run_example,
    small_model,
)

pytestmark = needs_cc
CHUNK = 33  # rows per internal step: 257 rows are 7 full chunks and 26 more


@pytest.fixture(scope="module", params=["mlp", "cnn", "lstm"])
def exported(request, tmp_path_factory):
    kind = request.param
    model = small_model(kind)
    folder = tmp_path_factory.mktemp(f"export_{kind}")
    model.export(str(folder), format="so", name="mnist", batch_chunk=CHUNK, verbose=False)
    program = compile_example("c_inference.c", folder, folder / "c_inference")
    return kind, model, program, folder


@pytest.mark.parametrize("rows", [1, 7, 33, 257])
@pytest.mark.parametrize("threads", [1, 2])
def test_c_program_outputs_equal_predict(exported, rows, threads, tmp_path):
    kind, model, program, _ = exported
    x, labels = digits(rows)
    stdout, y = run_example(program, x, labels, tmp_path, threads)
    want = model.predict(x.reshape((rows,) + SHAPES[kind]), verbose=0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    accuracy = 100.0 * np.mean(want.argmax(1) == labels)
    printed = float(re.search(r"accuracy ([\d.]+)%", stdout).group(1))
    assert printed == pytest.approx(accuracy, abs=0.006), stdout
    assert f"{rows} digits" in stdout and f"{threads} threads" in stdout


def test_bad_input_gets_error_codes_not_a_crash(exported, tmp_path):
    _, _, _, folder = exported
    program = compile_example("bad_input.c", folder, tmp_path / "bad_input", static=True)
    done = subprocess.run([str(program)], capture_output=True, text=True,
                                        timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all bad input reported" in done.stdout
    assert "n (rows) must be > 0; received -3" in done.stdout
    assert "input 0 is NULL" in done.stdout and "num_threads must be 1..1024" in done.stdout
