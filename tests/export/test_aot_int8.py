"""A quantized model exported as a C library (model.export, format "so") keeps int8: its
outputs equal model.predict bit for bit, on odd batch sizes and both thread counts."""

import numpy as np
import pytest

from tests.export.aot_helpers import Library, needs_cc, small_model

RNG = np.random.default_rng(17)


@pytest.fixture(scope="module")
def quantized_mlp(tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    model = small_model("mlp", seed=5)  # Dense(32, relu), Dense(10, softmax) on 784 pixels
    model.predict(RNG.random((1, 784)).astype("float32"), verbose=0)
    model.quantize("int8")
    model.export(folder, name="qmlp", verbose=False)
    return model, Library(folder / "libqmlp.so", "qmlp", 1, 1)


@needs_cc
@pytest.mark.parametrize("rows", [1, 7, 33, 257])
@pytest.mark.parametrize("threads", [1, 2])
def test_quantized_mlp_library_equals_predict_bit_for_bit(quantized_mlp, rows, threads):
    model, lib = quantized_mlp
    assert [layer.kernel.dtype for layer in model.layers] == ["int8", "int8"]
    ctx = lib.create(threads)
    x = RNG.random((rows, 784)).astype("float32")
    code, (y,) = lib.run(ctx, [x], [(rows, 10)])
    lib.destroy(ctx)
    assert code == 0
    np.testing.assert_array_equal(y, model.predict(x, verbose=0))
