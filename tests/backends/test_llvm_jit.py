"""jit.py and cache.py: compile, disk cache hits, corrupt entries, debug dumps."""

import ctypes
import hashlib
import struct

import pytest

from graphc.backends.llvm import cache, jit

SQUARE_IR = """
define double @square(double %x) {
  %y = fmul double %x, %x
  ret double %y
}
@answer = global i64 42
"""


@pytest.fixture
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    monkeypatch.delenv("GRAPHC_DEBUG", raising=False)
    return tmp_path / "cache"


def call_square(module, x):
    return ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(module.address("square"))(x)


def test_compile_runs_and_exposes_globals(cache_in_tmp):
    module = jit.compile_ir(SQUARE_IR, "square")
    assert call_square(module, 3.0) == 9.0
    assert ctypes.c_int64.from_address(module.address("answer")).value == 42
    with pytest.raises(KeyError, match="nope"):
        module.address("nope")


def test_second_compile_loads_from_disk(cache_in_tmp):
    first = jit.compile_ir(SQUARE_IR, "square")
    second = jit.compile_ir(SQUARE_IR, "square")
    assert not first.from_cache and second.from_cache
    assert call_square(second, 1.5) == 2.25
    files, size = cache.cache_size()
    assert files == 1 and size > 0
    assert cache.clear_cache() == 1 and cache.cache_size() == (0, 0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_entry_is_recompiled(cache_in_tmp, damage):
    jit.compile_ir(SQUARE_IR, "square")
    (entry,) = list(cache_in_tmp.iterdir())
    blob = entry.read_bytes()
    damaged = {"truncate": blob[: len(blob) // 2],
               "flip": blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:],
               "garbage": b"not an object file at all" * 10,
               "empty": b""}[damage]
    entry.write_bytes(damaged)
    again = jit.compile_ir(SQUARE_IR, "square")
    assert not again.from_cache and call_square(again, 4.0) == 16.0
    assert jit.compile_ir(SQUARE_IR, "square").from_cache  # the entry was rewritten


CUBE_IR = """
define double @square(double %x) {
  %y = fmul double %x, %x
  %z = fmul double %y, %x
  ret double %z
}
"""


def test_swapped_entries_are_not_loaded(cache_in_tmp):
    """Two whole, checksummed entries swapped on disk: each must fail to prove it belongs to
    its key, so both modules are recompiled (and their entries rewritten)."""
    jit.compile_ir(SQUARE_IR, "square")
    jit.compile_ir(CUBE_IR, "cube")
    first, second = sorted(cache_in_tmp.iterdir())
    blobs = first.read_bytes(), second.read_bytes()
    first.write_bytes(blobs[1])
    second.write_bytes(blobs[0])
    square, cube = jit.compile_ir(SQUARE_IR, "square"), jit.compile_ir(CUBE_IR, "cube")
    assert not square.from_cache and not cube.from_cache
    assert call_square(square, 3.0) == 9.0 and call_square(cube, 3.0) == 27.0
    assert jit.compile_ir(SQUARE_IR, "square").from_cache
    assert jit.compile_ir(CUBE_IR, "cube").from_cache


def test_entries_of_the_old_format_are_misses(cache_in_tmp):
    jit.compile_ir(SQUARE_IR, "square")
    (entry,) = list(cache_in_tmp.iterdir())
    payload = entry.read_bytes()[cache._HEADER.size:]
    old = struct.pack("<8sQ32s", b"GRAPHCO1", len(payload), hashlib.sha256(payload).digest())
    entry.write_bytes(old + payload)
    assert not jit.compile_ir(SQUARE_IR, "square").from_cache


def test_cache_can_be_turned_off(cache_in_tmp, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    jit.compile_ir(SQUARE_IR, "square")
    assert not jit.compile_ir(SQUARE_IR, "square").from_cache
    assert cache.cache_size() == (0, 0)


def test_invalid_ir_names_the_module(cache_in_tmp):
    with pytest.raises(RuntimeError, match="broken_kernel"):
        jit.compile_ir("define i32 @f() { ret i64 0 }", "broken_kernel")


def test_debug_levels_dump_files(cache_in_tmp, tmp_path, monkeypatch, capsys):
    dumps = tmp_path / "dumps"
    monkeypatch.setenv("GRAPHC_DEBUG_DIR", str(dumps))
    monkeypatch.setenv("GRAPHC_DEBUG", "3")
    module = jit.compile_ir(SQUARE_IR, "my kernel/1")
    assert "my kernel/1" in capsys.readouterr().err
    assert "define double @square" in (dumps / "my_kernel_1.ll").read_text()
    assert "square:" in (dumps / "my_kernel_1.s").read_text()
    assert module.optimized_ir and call_square(module, 2.0) == 4.0


def test_debug_level_one_reports_cache_hits(cache_in_tmp, capsys):
    jit.compile_ir(SQUARE_IR, "sq", debug=1)
    jit.compile_ir(SQUARE_IR, "sq", debug=1)
    err = capsys.readouterr().err
    assert "sq: compiled in" in err and "sq: loaded from cache in" in err


def test_debug_dump_to_stderr_without_dir(cache_in_tmp, monkeypatch, capsys):
    monkeypatch.delenv("GRAPHC_DEBUG_DIR", raising=False)
    jit.compile_ir(SQUARE_IR, "sq", debug=2)
    assert "define double @square" in capsys.readouterr().err


def test_bad_debug_value_is_reported(monkeypatch):
    monkeypatch.setenv("GRAPHC_DEBUG", "loud")
    with pytest.raises(ValueError, match="loud"):
        jit.debug_level()


def test_target_prefers_512_bit_vectors_on_avx512():
    _cpu, features = jit.host_cpu()
    if "+avx512f" in features:
        assert features.endswith("-prefer-256-bit")


def test_unwritable_cache_warns_and_still_compiles(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="compile cache"):
        module = jit.compile_ir(SQUARE_IR, "square")
    assert call_square(module, 5.0) == 25.0 and not module.from_cache


def smallest_gemm_ir():
    from llvmlite import ir

    from graphc.backends.llvm import gemm

    module = ir.Module(name="gemm_lsr")
    gemm.define_gemm(module, "float32", True, False, False, "linear", True)
    return str(module)


def test_strength_reduction_off_is_for_that_compile_only():
    from graphc.backends.llvm import mcjit

    text = smallest_gemm_ir()
    default = mcjit.object_code(text, "gemm_lsr", 0)
    without = mcjit.object_code(text, "gemm_lsr", 0, strength_reduction=False)
    assert without != default  # the option reached the code generator
    assert mcjit.object_code(text, "gemm_lsr", 0) == default  # and was restored after it
