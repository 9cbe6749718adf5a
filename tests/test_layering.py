"""The import layering of ../shared/docs/DESIGN.md stays true: frontend -> graphc -> passes;
nothing imports the frontend; only the llvm backend imports llvmlite; only graphc.viz imports
graphviz. Each import runs in a fresh interpreter with the forbidden package blocked, and a scan
of the source catches imports inside functions, which only run later."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = textwrap.dedent("""
    import importlib, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == {blocked!r}:
                raise ImportError(f"{{name}} is imported against the layering")

    sys.meta_path.insert(0, Block())
    for module in {modules!r}:
        importlib.import_module(module)
""")

# blocked package -> modules that must import without it
IMPORTS_WITHOUT = {
    "frontend": [
        "graphc",
        "graphc.cli",
        "graphc.cli_commands",
        "graphc.cli_machine",
        "graphc.cli_models",
        "graphc.viz",
        "graphc.backends.llvm",
    ],
    "llvmlite": ["graphc", "graphc.cli", "graphc.cli_machine", "frontend", "frontend.models"],
}


@pytest.mark.parametrize("blocked", sorted(IMPORTS_WITHOUT))
def test_packages_import_without_what_they_must_not_use(blocked):
    code = BLOCKER.format(blocked=blocked, modules=IMPORTS_WITHOUT[blocked])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr


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
OPTIONAL = {"matplotlib"}


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


def test_no_function_level_imports_in_the_frontend_and_the_cli():
    files = sources("frontend") + sorted((ROOT / "graphc").glob("cli*.py"))
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
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
