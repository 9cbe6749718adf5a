"""Suite-wide settings.

Hypothesis runs derandomized by default, so CI sees the same examples on every run and a red
build is reproducible; `HYPOTHESIS_PROFILE=explore pytest` draws fresh examples when hunting
for new failures.
"""

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
