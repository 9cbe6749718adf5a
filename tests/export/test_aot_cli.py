"""`graphc export MODEL --format so -o DIR`: a saved model file, or a Function in a Python file,
becomes a C library whose predict equals the model's."""

import textwrap

import numpy as np
import pytest

import frontend  # noqa: F401 - registers model loading with the CLI, as its entry point would
from frontend.models import load_model
from graphc.cli import main
from tests.export.aot_helpers import Library, host_has, needs_cc, small_model

pytestmark = needs_cc

FUNCTION_FILE = textwrap.dedent("""
    import numpy as np
    import graphc as gc

    x = gc.placeholder((None, 4), "float32", name="x")
    w = gc.shared(np.arange(12, dtype="float32").reshape(4, 3) / 10, name="w")
    scores = gc.function([x], gc.softmax(x @ w), name="scores")
""")


def test_saved_model_file_exports_as_a_c_library(tmp_path, capsys):
    model = small_model("mlp", seed=11)
    model.save(str(tmp_path / "digits.zip"))
    code = main(["export", str(tmp_path / "digits.zip"), "--format", "so", "-o",
                 str(tmp_path / "out"), "--cpu", "x86-64-v3", "--batch-chunk", "16"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "libdigits_mlp.so" in printed and "compiled for cpu x86-64-v3" in printed
    if not host_has("avx2"):
        pytest.skip("this CPU lacks AVX2: the x86-64-v3 library cannot run here")
    lib = Library(tmp_path / "out" / "libdigits_mlp.so", "digits_mlp", 1, 1)
    ctx = lib.create(2)
    x = np.random.default_rng(0).random((37, 784))
    status, (y,) = lib.run(ctx, [x], [(37, 10)])
    lib.destroy(ctx)
    assert status == 0
    want = load_model(str(tmp_path / "digits.zip")).predict(x.astype("float32"), verbose=0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_function_in_a_python_file_exports_under_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.py").write_text(FUNCTION_FILE)
    assert main(["export", "scores.py:scores", "-o", "lib", "--weights-file"]) == 0
    lib = Library(tmp_path / "lib" / "libscores.so", "scores", 1, 1, weights_file=True)
    ctx = lib.create(1, str(tmp_path / "lib" / "scores.weights").encode())
    x = np.ones((2, 4))
    status, (y,) = lib.run(ctx, [x], [(2, 3)])
    lib.destroy(ctx)
    logits = x @ (np.arange(12).reshape(4, 3) / 10)
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert status == 0
    np.testing.assert_allclose(y, want, rtol=1e-5)


def test_bad_command_lines_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.py").write_text(FUNCTION_FILE)
    assert main(["export", "missing.zip", "-o", "out"]) == 2
    assert "no such file: missing.zip" in capsys.readouterr().err
    assert main(["export", "scores.py:scores", "--format", "tflite", "-o", "out"]) == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err
