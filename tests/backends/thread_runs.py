"""Run a test module's function in a fresh interpreter with a given thread count (the count is
fixed when the runtime starts) and return its JSON result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def result_with_threads(module: str, function: str, threads: int):
    """`module.function()` (JSON-serializable) computed under GRAPHC_NUM_THREADS=threads."""
    code = f"import json, {module} as m\nprint(json.dumps(m.{function}()))"
    env = dict(os.environ, GRAPHC_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])
