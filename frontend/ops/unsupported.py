"""keras.ops names graphc does not provide, each with the reason and what to use instead, so
`ops.sort(x)` says why rather than only "no attribute"."""

from __future__ import annotations

from frontend.compat import suggest

_DATA_DEPENDENT = "its output size depends on the values, which a static graph cannot hold"
_NO_SORT = "graphc has no sorting op"
_NO_LINALG = "graphc has no matrix decompositions (the other linalg ops: matmul, dot, norm)"
_CONTROL = "graphc graphs have no control flow: use ops.where on both branches"

REFUSED = {
    "sort": _NO_SORT,
    "argsort": _NO_SORT,
    "top_k": _NO_SORT + "; ops.argmax / ops.max give the top-1",
    "in_top_k": _NO_SORT + "; compare ops.argmax with the targets for k=1",
    "median": _NO_SORT,
    "quantile": _NO_SORT,
    "unique": _DATA_DEPENDENT,
    "nonzero": _DATA_DEPENDENT + "; ops.where(condition, x1, x2) works",
    "argwhere": _DATA_DEPENDENT,
    "cond": _CONTROL,
    "while_loop": _CONTROL,
    "fori_loop": _CONTROL + "; unroll a loop of known length in Python",
    "scan": _CONTROL + "; use an RNN layer",
    "switch": _CONTROL,
    "scatter": "graphc has no scatter op; build the result with ops.where and ops.one_hot",
    "scatter_update": "graphc has no scatter op; build the result with ops.where",
    "slice_update": "graphc has no in-place updates; ops.concatenate the pieces",
    "custom_gradient": "graphc differentiates its own ops only",
    "inv": _NO_LINALG,
    "det": _NO_LINALG,
    "solve": _NO_LINALG,
    "svd": _NO_LINALG,
    "qr": _NO_LINALG,
    "cholesky": _NO_LINALG,
    "eig": _NO_LINALG,
    "eigh": _NO_LINALG,
    "fft": "graphc has no Fourier transforms",
    "rfft": "graphc has no Fourier transforms",
    "stft": "graphc has no Fourier transforms",
}


def refuse(name: str, known) -> AttributeError:
    """The AttributeError for `frontend.ops.<name>`: why it is missing, or the closest name."""
    if name in REFUSED:
        return AttributeError(f"frontend.ops.{name} is not supported: {REFUSED[name]}")
    return AttributeError(f"module 'frontend.ops' has no attribute {name!r}.{suggest(name, known)}")
