"""Fixtures shared by the backend tests."""

import pytest

import graphc.backends.llvm as llvm_backend


@pytest.fixture
def compiles(monkeypatch):
    """A list that gets one entry per llvm compile from here on."""
    seen = []
    real = llvm_backend.compile

    def counting(run, *args, **kwargs):
        seen.append(run)
        return real(run, *args, **kwargs)

    monkeypatch.setattr(llvm_backend, "compile", counting)
    return seen
