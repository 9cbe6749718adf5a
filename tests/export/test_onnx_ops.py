"""Every graphc op that has an ONNX emitter, on the op table's own test cases: the exported
graph run by onnxruntime equals the graphc function (numpy interpreter and llvm backends), at
the default and the lowest opset."""

import numpy as np
import pytest

import graphc as gc
from graphc.testing import OP_CASES, build_case
from tests.export.onnx_checks import EMITTERS, MIN_OPSET, assert_close, exported_outputs

PACKED_OPS = {"lstm_seq", "gru_seq"}  # their packed outputs are sliced: tested by layers
CASES = [
    pytest.param(op, k, spec, id=f"{op}-{k}")
    for op in sorted(set(EMITTERS) - PACKED_OPS)
    for k, spec in enumerate(OP_CASES.get(op, []))
]


def test_every_emitter_has_cases():
    assert {op for op, *_ in (p.values for p in CASES)} == set(EMITTERS) - PACKED_OPS


@pytest.mark.parametrize("backend, opset", [("numpy", MIN_OPSET), ("numpy", None), ("llvm", None)])
@pytest.mark.parametrize("op, k, spec", CASES)
def test_op_matches_graphc(op, k, spec, backend, opset, tmp_path):
    placeholders, node = build_case(op, spec, "float32")
    fn = gc.function(placeholders, node, backend=backend)
    arrays = spec.sample(np.random.default_rng(k), "float32")
    got = exported_outputs(fn, arrays, tmp_path, opset)
    assert_close(got, [np.asarray(fn(*arrays))])
