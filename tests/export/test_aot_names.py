"""C names of an exported library: input names that spell the same C identifier get distinct
parameters, and library names that would clash with the runtime's own C names are refused."""

import numpy as np
import pytest

import graphc as gc
from graphc.export import UnsupportedForExport
from graphc.export.csource import unique_identifiers
from tests.export.aot_helpers import Library, needs_cc


def test_unique_identifiers_keep_order_and_suffix_repeats():
    assert unique_identifiers(["in-1", "in_1", "in 1", "in_1_2", "2x"]) == [
        "in_1", "in_1_2", "in_1_3", "in_1_2_2", "_2x"]


def add_two(first: str, second: str):
    a = gc.placeholder((None, 3), "float32", name=first)
    b = gc.placeholder((None, 3), "float32", name=second)
    return gc.function([a, b], a * 2 + b, name="sum2")


@needs_cc
@pytest.mark.parametrize("threads", [1, 2])
def test_inputs_whose_names_spell_one_c_identifier_still_compile(tmp_path, threads):
    function = add_two("in-1", "in_1")
    gc.export(function, tmp_path, batch_chunk=4)
    header = (tmp_path / "sum2.h").read_text()
    assert "const float* x_in_1, const float* x_in_1_2" in header
    library = Library(tmp_path / "libsum2.so", "sum2", inputs=2, outputs=1)
    ctx = library.create(threads)
    xs = [np.arange(21, dtype="float32").reshape(7, 3), np.ones((7, 3), "float32")]
    code, (y,) = library.run(ctx, xs, [(7, 3)])
    library.destroy(ctx)
    assert code == 0
    np.testing.assert_array_equal(y, xs[0] * 2 + xs[1])


@pytest.mark.parametrize("name", ["graphc", "GraphC", "graphc_pool", "pthread"])
def test_names_that_clash_with_the_runtime_are_refused(tmp_path, name):
    with pytest.raises(UnsupportedForExport, match=rf"library name '{name}' is reserved .* "
                                                   r"pass another name= \(called at "
                                                   r".*test_aot_names.py:\d+\)"):
        gc.export(add_two("a", "b"), tmp_path, name=name)
    assert not any(tmp_path.iterdir())


@needs_cc
def test_a_name_that_only_starts_like_graphc_is_fine(tmp_path):
    result = gc.export(add_two("a", "b"), tmp_path, name="graphcnet")
    assert result.name == "graphcnet" and (tmp_path / "libgraphcnet.so").exists()
