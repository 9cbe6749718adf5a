"""Hypothesis strategies shared by the op tests and the backend tests."""

from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from graphc.ops.conv import resolve_padding


@dataclass(frozen=True)
class ConvGeometry:
    """Spatial sizes, kernel, strides, dilation, padding mode and the pads it resolves to."""

    sizes: tuple
    kernel: tuple
    strides: tuple
    dilation: tuple
    padding: str
    pads: tuple

    @property
    def rank(self) -> int:
        return len(self.sizes)


@st.composite
def conv_geometries(draw, max_size: int, max_kernel: int) -> ConvGeometry:
    """A 1-d or 2-d window geometry whose dilated kernel fits the padded input."""
    rank = draw(st.sampled_from([1, 2]))
    sizes = tuple(draw(st.integers(1, max_size)) for _ in range(rank))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"] + (["causal"] if rank == 1 else [])))
    pads = resolve_padding(padding, sizes, kernel, strides, dilation)
    extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    assume(all(n + lo + hi >= e for n, (lo, hi), e in zip(sizes, pads, extents)))
    return ConvGeometry(sizes, kernel, strides, dilation, padding, pads)
