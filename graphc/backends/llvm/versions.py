"""The versions of llvmlite and of the LLVM it wraps, for `graphc info` (only the llvm backend
imports llvmlite)."""

from __future__ import annotations

import llvmlite
import llvmlite.binding as llvm


def llvmlite_version() -> str:
    """e.g. '0.45.1 (LLVM 20.1.8)'."""
    return f"{llvmlite.__version__} (LLVM {'.'.join(map(str, llvm.llvm_version_info))})"
