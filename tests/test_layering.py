"""The import layering of ../shared/docs/DESIGN.md stays true: frontend -> graphc -> passes;
nothing imports the frontend; only the llvm backend imports llvmlite; only graphc.viz imports
graphviz. Each import runs in a fresh interpreter with the forbidden package blocked, and a scan
of the source catches imports inside functions, which only run later."""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import graphc
from graphc import api

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = textwrap.dedent("""
    import importlib, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in {blocked!r}):
                raise ImportError(f"{{name}} is imported against the layering")

    sys.meta_path.insert(0, Block())
    for module in {modules!r}:
        importlib.import_module(module)
""")

ABOVE_PASSES = ("graphc.api", "graphc.function", "graphc.nn_api", "graphc.backends", "frontend",
                "llvmlite")
ABOVE_OPS = ("passes",) + ABOVE_PASSES

# (blocked packages, modules that must import without them), each in a fresh interpreter
IMPORTS_WITHOUT = {
    "graphc loads its public names on first use": (
        ("graphc.ir", "passes", "frontend", "llvmlite", "graphviz"), ["graphc"]),
    "the IR is the bottom layer": (("graphc.ops",) + ABOVE_OPS, ["graphc.ir"]),
    "the op table sits below the passes": (ABOVE_OPS, ["graphc.ops"]),
    "the passes sit below the API and the backends": (ABOVE_PASSES, ["passes"]),
    "the API does not need the llvm backend": (
        ("graphc.backends.llvm", "frontend", "llvmlite"), ["graphc.api"]),
    "nothing in graphc imports the frontend": (("frontend",), [
        "graphc", "graphc.cli", "graphc.cli_commands", "graphc.cli_machine", "graphc.cli_models",
        "graphc.viz", "graphc.backends.llvm"]),
    "only the llvm backend imports llvmlite": (("llvmlite",), [
        "graphc", "graphc.cli", "graphc.cli_machine", "frontend", "frontend.models"]),
    "only graphc.viz imports graphviz": (
        ("graphviz",), ["graphc", "passes", "graphc.backends.llvm", "graphc.function"]),
}


def run_python(code: str) -> None:
    """Run `code` in a fresh interpreter with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("rule", sorted(IMPORTS_WITHOUT))
def test_packages_import_without_what_they_must_not_use(rule):
    blocked, modules = IMPORTS_WITHOUT[rule]
    run_python(BLOCKER.format(blocked=blocked, modules=modules))


def test_public_names_load_on_first_use_and_are_listed():
    run_python(
        "import graphc as gc\n"
        "from graphc.function import shape_text\n"  # a submodule named like a public function
        "from graphc import compare, function, conv2d\n"
        "assert callable(gc.function) and callable(gc.compare) and gc.tanh.__name__ == 'tanh'\n"
        "assert function is gc.function and {'tanh', 'function', 'Node'} <= set(dir(gc))\n"
    )


def test_every_public_function_of_the_api_is_in_the_public_table():
    defined = {name for name, value in vars(api).items()
               if callable(value) and getattr(value, "__module__", "") == "graphc.api"
               and not name.startswith("_")}
    assert defined - set(graphc.PUBLIC) == set()


def test_gradient_rules_and_passes_work_without_the_public_api():
    run_python(BLOCKER.format(blocked=ABOVE_PASSES, modules=["passes"]) + (
        "import passes\n"
        "from graphc.ir import Graph\n"
        "from graphc.ops import make_node\n"
        "from graphc.ops.grad import grad\n"
        "x = make_node('placeholder', (), {'shape': (3,), 'dtype': 'float32'})\n"
        "cost = (x * x).sum()\n"  # operators come with the op table
        "graph = passes.differentiate(Graph((x,), (grad(cost, x),)))\n"
        "assert graph.count('grad') == 0 and graph.outputs[0].shape == (3,)\n"
    ))


def imported_packages(path: Path) -> set:
    """Top-level names of every package `path` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def sources(folder: str) -> list:
    return sorted((ROOT / folder).rglob("*.py"))


def importers_of(package: str, folders=("graphc", "passes", "frontend")) -> set:
    return {
        str(p.relative_to(ROOT))
        for folder in folders
        for p in sources(folder)
        if package in imported_packages(p)
    }


def test_nothing_in_graphc_or_passes_imports_the_frontend():
    assert importers_of("frontend", ("graphc", "passes")) == set()


def test_only_the_llvm_backend_imports_llvmlite():
    outside = {p for p in importers_of("llvmlite") if not p.startswith("graphc/backends/llvm/")}
    assert outside == set()


def test_only_graphc_viz_imports_graphviz():
    outside = {p for p in importers_of("graphviz") if not p.startswith("graphc/viz/")}
    assert outside == set()


# Optional heavy packages may load inside the function that needs them; nothing else may.
OPTIONAL = {"matplotlib", "networkx", "tensorboardX"}  # optional, for one feature each


def function_level_imports(path: Path) -> list:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or "."]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names]
    return [f for f in found if f.rpartition(" ")[2].partition(".")[0] not in OPTIONAL]


def test_no_function_level_imports():
    files = sources("frontend") + sources("graphc") + sources("passes")
    assert [f for path in files for f in function_level_imports(path)] == []


@pytest.mark.parametrize(
    "module",
    [
        "frontend.models.saving",
        "frontend.models.loading",
        "frontend.layers.wrappers",
        "frontend.cli",
    ],
)
def test_frontend_modules_import_first_in_a_fresh_interpreter(module):
    run_python(f"import {module}")
