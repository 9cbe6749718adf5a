"""gc.export / model.export(format="so") through ctypes: several inputs and outputs against the
numpy interpreter, the weights file, CPU levels, what the .so links and exports, and errors."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import graphc as gc
from frontend.layers import Dense, Embedding, Input
from frontend.models import Sequential
from graphc.export import ToolMissing, UnsupportedForExport
from graphc.export.build import c_compiler
from tests.export.aot_helpers import Library, host_has, needs_cc, small_model

RNG = np.random.default_rng(7)


def two_in_two_out(backend):
    x, z = gc.placeholder((None, 5), "float32", name="x"), gc.placeholder((None, 3), "float32",
                                                                           name="z")
    w = gc.shared(RNG.normal(size=(5, 3)).astype("float32"), name="w")
    h = gc.tanh(x @ w) * z
    return gc.function([x, z], [h, gc.sum(h * h, axis=1, keepdims=True)], backend=backend,
                       name="pair")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    function = two_in_two_out("llvm")
    result = gc.export(function, folder, batch_chunk=7)
    return function, folder, result


@needs_cc
@pytest.mark.parametrize("rows", [1, 7, 33, 257])
@pytest.mark.parametrize("threads", [1, 2])
def test_several_inputs_and_outputs_equal_the_interpreter(pair, rows, threads):
    function, folder, result = pair
    lib = Library(folder / "libpair.so", "pair", 2, 2)
    ctx = lib.create(threads)
    x, z = RNG.normal(size=(rows, 5)), RNG.normal(size=(rows, 3))
    code, (h, s) = lib.run(ctx, [x, z], [(rows, 3), (rows, 1)])
    lib.destroy(ctx)
    assert code == 0
    interpreter = gc.function(function.inputs, list(function.graph("raw").outputs),
                              backend="numpy")
    want_h, want_s = interpreter(x.astype("float32"), z.astype("float32"))
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, want_s, rtol=1e-5, atol=1e-6)


@needs_cc
def test_header_readme_and_result_describe_the_library(pair):
    _, folder, result = pair
    header = (folder / "pair.h").read_text()
    assert "int pair_predict(pair_context* ctx, const float* x_x, const float* x_z, " \
           "int64_t n, float* y_output0, float* y_output1);" in header
    assert "#define PAIR_INPUT1_SIZE 3" in header and "#define PAIR_BATCH_CHUNK 7" in header
    assert "native (this machine:" in result.cpu and result.cpu in header
    assert "cc main.c -I. -L. -lpair" in (folder / "README.md").read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "libpair.a", "libpair.so",
                                                         "pair.h"]  # no temporaries left


@needs_cc
def test_the_library_needs_no_python_llvm_or_libstdcxx_and_exports_only_its_api(pair):
    _, folder, _ = pair
    if shutil.which("ldd") is None or shutil.which("nm") is None:
        pytest.skip("ldd and nm (binutils) are needed to inspect the library")
    linked = subprocess.run(["ldd", str(folder / "libpair.so")], capture_output=True,
                            text=True).stdout
    for needless in ("python", "llvm", "stdc++"):
        assert needless not in linked.lower()
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(folder / "libpair.so")],
                             capture_output=True, text=True).stdout.split()
    assert sorted(s for s in symbols if s.startswith("pair")) == [
        "pair_create", "pair_destroy", "pair_last_error", "pair_predict"]


def assert_library_predicts_like(lib, model, rows, threads, *create_args):
    """The library's outputs for random rows equal model.predict (one 10-wide output)."""
    ctx = lib.create(threads, *create_args)
    x = RNG.random((rows, 784))
    code, (y,) = lib.run(ctx, [x], [(rows, 10)])
    lib.destroy(ctx)
    assert code == 0, lib.last_error(ctx)
    np.testing.assert_allclose(y, model.predict(x.astype("float32"), verbose=0), rtol=1e-5,
                               atol=1e-6)


@needs_cc
def test_weights_file_is_read_at_create_and_checked(tmp_path):
    model = small_model("mlp", seed=3)
    result = model.export(tmp_path, name="mlpw", weights_file=True, verbose=False)
    weights = result.files["weights"]
    lib = Library(tmp_path / "libmlpw.so", "mlpw", 1, 1, weights_file=True)
    assert_library_predicts_like(lib, model, 9, 2, str(weights).encode())
    (tmp_path / "other.weights").write_bytes(weights.read_bytes()[:-8] + b"\x01" * 8)
    assert not lib.create(1, str(tmp_path / "other.weights").encode())
    assert b"is not this library's weights file" in lib.last_error(None)
    assert not lib.create(1, str(tmp_path / "missing.weights").encode())
    assert b"cannot open the weights file" in lib.last_error(None)


@needs_cc
@pytest.mark.parametrize("cpu,feature", [("x86-64-v3", "avx2"), ("x86-64-v4", "avx512f")])
def test_portable_cpu_levels(tmp_path, cpu, feature):
    model = small_model("mlp", seed=4)
    result = model.export(tmp_path, name="lvl", cpu=cpu, verbose=False)
    assert result.cpu.startswith(cpu) and cpu in (tmp_path / "lvl.h").read_text()
    if not host_has(feature):
        pytest.skip(f"this CPU lacks {feature}: the {cpu} library cannot run here")
    assert_library_predicts_like(Library(tmp_path / "liblvl.so", "lvl", 1, 1), model, 5, 1)


@needs_cc
def test_two_libraries_in_one_process_keep_their_own_code(tmp_path):
    models = [small_model("mlp", seed=s) for s in (5, 6)]
    for k, model in enumerate(models):
        model.export(tmp_path / f"m{k}", name=f"twin{k}", verbose=False)
    for k, model in enumerate(models):
        lib = Library(tmp_path / f"m{k}" / f"libtwin{k}.so", f"twin{k}", 1, 1)
        assert_library_predicts_like(lib, model, 4, 2)


def test_unsupported_models_and_arguments_are_named(tmp_path):
    tokens = Sequential([Input((4,), dtype="int32"), Embedding(10, 3)], name="tokens")
    with pytest.raises(UnsupportedForExport, match=r"input 0 .* has dtype int32; exported "
                                                   r"libraries take float32 only \(called at "
                                                   r".*test_aot_library.py:\d+\)"):
        tokens.export(tmp_path, verbose=False)
    with pytest.raises(ValueError, match="unknown format 'tflite'; graphc exports onnx, so"):
        small_model("mlp").export(tmp_path, format="tflite")
    with pytest.raises(ValueError, match="cpu must be one of native, x86-64-v3, x86-64-v4; "
                                         "received 'pentium'"):
        small_model("mlp").export(tmp_path, cpu="pentium", verbose=False)
    with pytest.raises(ValueError, match="batch_chunk must be a positive int; received 0"):
        small_model("mlp").export(tmp_path, batch_chunk=0, verbose=False)
    assert not any(tmp_path.iterdir())


def test_functions_that_update_or_return_no_batch_are_named(tmp_path):
    x = gc.placeholder((None, 3), "float32", name="x")
    total = gc.shared(np.zeros(3, "float32"), name="running_total")
    counting = gc.function([x], x * 2, updates=[(total, total + gc.sum(x, axis=0))],
                           name="counting")
    with pytest.raises(UnsupportedForExport, match=r"function 'counting' updates variables "
                                                   r"\(running_total\); a stateful model"):
        gc.export(counting, tmp_path)
    summed = gc.function([x], gc.sum(x), name="summed")
    with pytest.raises(UnsupportedForExport, match=r"output 0 \(unnamed\) has shape \(\); "
                                                   r"exported libraries need the batch"):
        gc.export(summed, tmp_path)


def test_unbuilt_model_is_refused(tmp_path):
    model = Sequential([Dense(3)], name="unbuilt")
    with pytest.raises(ValueError, match="'unbuilt' has not been built yet"):
        model.export(tmp_path)


def test_missing_c_compiler_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(ToolMissing, match=r"no C compiler found .*apt-get install gcc"):
        c_compiler()
    monkeypatch.setenv("CC", "/usr/bin/cc")
    if os.path.exists("/usr/bin/cc"):
        assert c_compiler() == "/usr/bin/cc"
