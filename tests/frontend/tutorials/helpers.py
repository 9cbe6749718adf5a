"""Helpers shared by the tutorial tests."""

import pytest

import frontend

N_TRAIN, N_TEST = 500, 200

# a logged value and a duration, as Keras prints them in progress lines
NUMBER = r"\d+\.\d{4}(e[-+]\d+)?"
TIME = r"\d+(s|ms|us)"


def run_or_skip_missing_emitter(tutorial, *args):
    """Run the tutorial; while the LLVM backend still lacks an op the tutorial needs (it says
    which one), skip with its message rather than fail."""
    try:
        return tutorial(*args)
    except NotImplementedError as err:
        if frontend.backend.default_backend() == "llvm" and "has no LLVM emitter" in str(err):
            pytest.skip(str(err).split(" (node")[0])
        raise


def keeps_learning(history, key="loss"):
    values = history.history[key]
    return values[-1] < values[0]
