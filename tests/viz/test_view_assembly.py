"""Where the viewer's assembly comes from: the object code compile cached, disassembled by
objdump; compiled again only for a small module or when asked; never silently missing."""

import argparse

import numpy as np
import pytest

from graphc import cli_view
from graphc.viz import view_assembly
from graphc.viz.view import view
from graphc.viz.view_assembly import split_functions
from tests.viz.test_view import llvm_step, page_data

pytestmark = pytest.mark.needs_dot

LISTING = """
/tmp/module.o:     file format elf64-x86-64


Disassembly of section .text:

0000000000000000 <k0_add>:
   0:\tvaddps %ymm1,%ymm0,%ymm0
   4:\tret

0000000000000010 <k0_add.block>:
  10:\tjmp    10 <k0_add.block>
"""


def test_an_objdump_listing_is_split_by_function():
    found = split_functions(LISTING)
    assert list(found) == ["k0_add", "k0_add.block"]
    assert found["k0_add"] == "k0_add:\n   0:\tvaddps %ymm1,%ymm0,%ymm0\n   4:\tret"
    assert found["k0_add.block"].startswith("k0_add.block:\n  10:\tjmp")


def called_step():
    step = llvm_step()
    step(np.ones((7, 4), "float32"), np.zeros((7, 3), "float32"))
    return step


@pytest.fixture(scope="module")
def step():
    return called_step()


@pytest.mark.skipif(view_assembly.objdump_program() is None, reason="no objdump installed")
def test_the_assembly_is_disassembled_from_the_cached_object(step, tmp_path, monkeypatch):
    monkeypatch.setattr(view_assembly.get_backend("llvm").jit, "assembly_of", None)  # unused
    data = page_data(view(step, tmp_path / "v.html").read_text())
    assert data["asm_source"].startswith("disassembled by")
    for kernel in step.kernels:
        assert data["asm"][kernel.name].startswith(kernel.function + ":")
        assert "ret" in data["asm"][kernel.name]


@pytest.mark.skipif(view_assembly.objdump_program() is None, reason="no objdump installed")
def test_a_module_compiled_in_parts_is_disassembled_from_all_of_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GRAPHC_COMPILE_PROCESSES", "2")
    monkeypatch.setattr(view_assembly.get_backend("llvm").parallel_compile, "MIN_SPLIT_CHARS", 0)
    step = called_step()
    data = page_data(view(step, tmp_path / "v.html").read_text())
    assert data["asm_source"].startswith("disassembled by")
    for kernel in step.kernels:
        assert data["asm"][kernel.name].startswith(kernel.function + ":")


def test_without_objdump_a_small_module_is_compiled_again(step, tmp_path, monkeypatch):
    monkeypatch.setattr(view_assembly, "objdump_program", lambda: None)
    data = page_data(view(step, tmp_path / "v.html").read_text())
    assert data["asm_source"].startswith("compiled again")
    assert set(data["asm"]) == {k.name for k in step.kernels}


def test_a_big_module_without_its_object_says_how_to_get_the_assembly(step, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(view_assembly, "objdump_program", lambda: None)
    monkeypatch.setattr(view_assembly, "SMALL_MODULE", 10)
    data = page_data(view(step, tmp_path / "v.html").read_text())
    assert data["asm"] == {} and data["ir"]
    assert "objdump is not installed" in data["asm_source"]
    assert "assembly=True" in data["asm_source"]
    data = page_data(view(step, tmp_path / "v.html", assembly=True).read_text())
    assert set(data["asm"]) == {k.name for k in step.kernels}


def test_assembly_false_leaves_it_out(step, tmp_path):
    data = page_data(view(step, tmp_path / "v.html", assembly=False).read_text())
    assert data["asm"] == {} and data["ir"] and "assembly=False" in data["asm_source"]


def test_the_command_line_can_leave_the_assembly_out(tmp_path):
    source = tmp_path / "step.py"
    source.write_text(
        "import numpy as np\n"
        "import graphc as gc\n"
        "x = gc.vector('x')\n"
        "f = gc.function([x], gc.exp(x) * 2, name='f')\n"
        "f(np.ones(7, 'float32'))\n"
    )
    parser = argparse.ArgumentParser()
    cli_view.arguments(parser)
    out = tmp_path / "f.html"
    assert cli_view.run(parser.parse_args([f"{source}:f", "--no-assembly", "-o", str(out)])) == 0
    data = page_data(out.read_text())
    assert data["asm"] == {} and data["ir"] and "assembly=False" in data["asm_source"]
    assert cli_view.run(parser.parse_args([f"{source}:f", "--assembly", "-o", str(out)])) == 0
    assert page_data(out.read_text())["asm"]
