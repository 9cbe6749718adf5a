"""Import layering (DESIGN.md): frontend -> graphc API -> passes -> graphc.ir/ops, no circles.

Each package is imported in a fresh interpreter with the layers above it blocked, so an import
that goes up (or round a circle) fails here rather than by import order elsewhere.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ABOVE_PASSES = ("graphc.api", "graphc.function", "graphc.nn_api", "graphc.backends", "frontend",
                "llvmlite")
ABOVE_OPS = ("passes",) + ABOVE_PASSES

# module imported -> modules it must not load
LAYERS = {
    "graphc": ("graphc.ir", "passes", "frontend", "llvmlite"),  # public names load on first use
    "graphc.ir": ("graphc.ops",) + ABOVE_OPS,
    "graphc.ops": ABOVE_OPS,
    "passes": ABOVE_PASSES,
    "graphc.api": ("graphc.backends.llvm", "frontend", "llvmlite"),
}

BLOCKER = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in {blocked!r}):
            raise ImportError(f"{{name}} must not be imported by {module}")

sys.meta_path.insert(0, Blocker())
import {module}
"""


def run_python(code: str) -> None:
    """Run `code` in a fresh interpreter with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_package_imports_alone_without_the_layers_above_it(module):
    code = BLOCKER.format(blocked=LAYERS[module], module=module)
    run_python(code)


def test_public_names_load_on_first_use_and_are_listed():
    code = (
        "import graphc as gc\n"
        "from graphc.function import shape_text\n"  # a submodule named like a public function
        "from graphc import compare, function, conv2d\n"
        "assert callable(gc.function) and callable(gc.compare) and gc.tanh.__name__ == 'tanh'\n"
        "assert function is gc.function and {'tanh', 'function', 'Node'} <= set(dir(gc))\n"
    )
    run_python(code)


def test_gradient_rules_and_passes_work_without_the_public_api():
    code = BLOCKER.format(blocked=ABOVE_PASSES, module="passes") + (
        "from graphc.ir import Graph\n"
        "from graphc.ops import make_node\n"
        "from graphc.ops.grad import grad\n"
        "x = make_node('placeholder', (), {'shape': (3,), 'dtype': 'float32'})\n"
        "cost = (x * x).sum()\n"  # operators come with the op table
        "graph = passes.differentiate(Graph((x,), (grad(cost, x),)))\n"
        "assert graph.count('grad') == 0 and graph.outputs[0].shape == (3,)\n"
    )
    run_python(code)
