"""Keras 3's dtype policies: a layer's variable dtype and the dtype it computes in.

"mixed_bfloat16": variables (master weights) float32, compute bfloat16. A plain dtype name
(any of graphc's) computes and stores in that dtype. "mixed_float16" is refused with the
reason: graphc has no float16.
"""

from __future__ import annotations

from frontend import backend
from graphc.ir import DtypeError, normalize_dtype, user_site

MIXED = {"mixed_bfloat16": ("float32", "bfloat16")}


class DTypePolicy:
    """`DTypePolicy(name)`: .name, .compute_dtype, .variable_dtype (Keras 3)."""

    def __init__(self, name=None):
        name = backend.floatx() if name is None else name
        if name not in MIXED:
            try:
                name = normalize_dtype(name)
            except DtypeError as err:
                raise ValueError(
                    f"DTypePolicy: unknown policy {name!r}: {err}, or 'mixed_bfloat16' "
                    f"('mixed_float16' needs float16, which graphc does not have) "
                    f"(at {user_site()})") from None
        self._name = name
        self._variable_dtype, self._compute_dtype = MIXED.get(name, (name, name))

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


Policy = DTypePolicy  # Keras 2's name, kept by Keras 3
_global: DTypePolicy | None = None  # None: follow backend.floatx()


def set_global_policy(policy) -> None:
    """The policy of layers built without a dtype from now on (None: back to floatx)."""
    global _global
    _global = None if policy is None else as_policy(policy)


def global_policy() -> DTypePolicy:
    return _global if _global is not None else DTypePolicy(backend.floatx())


def as_policy(dtype) -> DTypePolicy:
    """A layer's `dtype` argument (None, a name, a DTypePolicy or its config) as a policy."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict) and "config" in dtype:  # a serialized DTypePolicy
        return DTypePolicy(**dtype["config"])
    return DTypePolicy(dtype)
