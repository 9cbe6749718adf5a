"""Parts of a module whose code is another part's under other names compile once.

A training step often holds kernels that differ only by name: the Adam updates of weights of
different sizes (the sizes are arguments), the bias-gradient sums of two layers (in the MLP
step, 3 of its 18 parts, ~85 ms of its ~365 ms of LLVM). Such a part is compiled as a thunk
instead: each function it exports jumps to the same function of the part it copies, which is
in the same module and so loads into the same engine. A thunk's object is cached under the
thunk's own IR; the copied part's object under its own IR, as every part's. The duplicate's
own key is never given the thunk, so a module without the copied part never loads one.
"""

from __future__ import annotations

import re

import llvmlite.binding as llvm

DEFINE = re.compile(r'^define (?:(internal|private) )?void @"([^"]+)"\(', re.M)


def duplicates(parts: list, missing: list) -> dict:
    """{k: j} for each part k in `missing` whose definitions are part j's (j < k, any part
    that is no duplicate itself) with each defined function renamed."""
    first: dict = {}
    found = {}
    for k, text in enumerate(parts):
        shape = renamed_body(text)
        if shape is None:
            continue
        if shape in first and k in missing:
            found[k] = first[shape]
        first.setdefault(shape, k)
    return found


def renamed_body(text: str) -> str | None:
    """The part's definitions (its declarations left out: parts of one module declare the
    same names alike) with its defined functions named by their order; None for a part that
    defines anything but void functions (globals, other return types)."""
    body = "\n".join(line for line in text.split("\n") if not line.startswith("declare "))
    names = [name for _, name in DEFINE.findall(body)]
    if not names or body.count("\ndefine ") + body.startswith("define ") != len(names) \
            or re.search(r"^@", body, re.M):
        return None
    for k, name in enumerate(names):
        body = body.replace(f'@"{name}"', f'@"#{k}"')
    return body


def exported(text: str) -> list:
    """Names of the functions a part defines with external linkage (what other parts call)."""
    return [name for linkage, name in DEFINE.findall(text) if not linkage]


def thunk_ir(duplicate: str, original: str) -> str:
    """IR defining each function `duplicate` exports as a tail call of the function at the
    same position among `original`'s exports (their signatures are equal: the bodies are)."""
    module = llvm.parse_assembly(duplicate)
    lines = []
    for name, target in zip(exported(duplicate), exported(original)):
        types = [str(arg.type) for arg in module.get_function(name).arguments]
        params = ", ".join(f"{t} %a{k}" for k, t in enumerate(types))
        lines += [f'declare void @"{target}"({", ".join(types)})',
                  f'define void @"{name}"({params}) {{',
                  "entry:",
                  f'  tail call void @"{target}"({params})',
                  "  ret void",
                  "}"]
    return "\n".join(lines) + "\n"
