"""Hypothesis profiles: `default` (CI: derandomized, so a red build is reproducible) and
`explore` (HYPOTHESIS_PROFILE=explore: fresh examples, HYPOTHESIS_EXAMPLES of them per test,
10,000 unless set). A test states its CI example count with `@examples(n)`, which applies only
to the CI profile: a plain `@settings(max_examples=n)` would override every profile's count."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")

settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None,
                          max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 10_000)))


def load() -> None:
    settings.load_profile(PROFILE)


def examples(ci_count: int, **options) -> settings:
    """`ci_count` examples in the CI profile; in any other, the profile's own count. `options`
    are other hypothesis settings."""
    if PROFILE == "default":
        return settings(max_examples=ci_count, **options)
    return settings(**options)
