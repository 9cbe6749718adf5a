"""Suite-wide settings.

Hypothesis runs derandomized by default, so CI sees the same examples on every run and a red
build is reproducible; `HYPOTHESIS_PROFILE=explore pytest` draws fresh examples when hunting
for new failures, and also runs the tests marked `explore` (the long fuzzing run), which the
default run skips. Profiles and `@examples(n)` (a CI count the profile can override) live in
tests/fuzz/profiles.py. Tests marked `needs_dot` draw pictures with graphviz's `dot`: without it
they are skipped with the reason, not failed.
"""

import pytest

from graphc.viz import dot_program
from tests.fuzz import profiles

profiles.load()


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_dot") and dot_program() is None:
        pytest.skip("graphviz's `dot` is not on PATH (install graphviz to run this test)")
    if item.get_closest_marker("explore") and profiles.PROFILE != "explore":
        pytest.skip("a long fuzzing run: HYPOTHESIS_PROFILE=explore pytest -m explore")
