"""Vector passes over one contiguous row, for the row kernels (masked softmax, layer norm and
its gradient): a loop over chunks of VL lanes whose lanes past the row's end are masked off, so
any row length works without a scalar tail, and horizontal folds of the carried vectors."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_variant import VECTOR_LANES, declare
from graphc.backends.llvm.irutil import I1, I32, I64, MEM_TYPE, PTR, REG_TYPE, c64

_ALIGN = {"float32": 4, "float64": 8, "bool": 1}


class RowVectors:
    """Chunked vector loops over rows of `width` (an i64) elements of `dtype` in kernel `kb`."""

    def __init__(self, kb, dtype: str, width):
        self.kb, self.b, self.dtype, self.width = kb, kb.b, dtype, width
        self.vl = VECTOR_LANES[dtype]
        self.V = ir.VectorType(REG_TYPE[dtype], self.vl)
        self.lane_index = ir.Constant(ir.VectorType(I64, self.vl), list(range(self.vl)))

    def constant(self, value) -> ir.Constant:
        return vecmath.const(self.V, value)

    def splat(self, x):
        b, ty = self.b, ir.VectorType(x.type, self.vl)
        one = b.insert_element(ir.Constant(ty, ir.Undefined), x, ir.Constant(I32, 0))
        zeros = ir.Constant(ir.VectorType(I32, self.vl), [0] * self.vl)
        return b.shuffle_vector(one, ir.Constant(ty, ir.Undefined), zeros)

    def positions(self, j):
        """<VL x i64>: the row positions j, j+1, ..., j+VL-1 of a chunk."""
        return self.b.add(self.splat(j), self.lane_index)

    def in_row(self, j):
        """<VL x i1>: the chunk's lanes that lie inside the row."""
        return self.b.icmp_signed("<", self.positions(j), self.splat(self.width))

    def loop(self, body, carried=(), name="chunk"):
        """for j in range(0, width, VL): body(j, *carried) -> new carried values."""
        chunks = self.b.sdiv(self.b.add(self.width, c64(self.vl - 1)), c64(self.vl))

        def chunk(c, *values):
            return body(self.b.mul(c, c64(self.vl)), *values)

        return self.kb.loop(c64(0), chunks, chunk, carried, name=name)

    def load(self, ptr, start, j, fill=0.0):
        """Elements start+j .. of a `dtype` buffer; lanes past the row hold `fill`."""
        return self._masked_load(ptr, start, j, self.dtype, self.constant(fill))

    def load_bool(self, ptr, start, j):
        """<VL x i1> from a bool (byte) buffer; lanes past the row are False."""
        bytes_ = self._masked_load(ptr, start, j, "bool", ir.Constant(self._mem("bool"), None))
        return self.b.icmp_unsigned("!=", bytes_, ir.Constant(self._mem("bool"), None))

    def store(self, value, ptr, start, j):
        b, ty = self.b, self.V
        fn = declare(b.module, f"llvm.masked.store.{_mangle(ty)}.p0",
                     ir.FunctionType(ir.VoidType(), [ty, PTR, I32, self._mask_type()]))
        address = b.gep(ptr, [b.add(start, j)], source_etype=MEM_TYPE[self.dtype], inbounds=True)
        b.call(fn, [value, address, ir.Constant(I32, _ALIGN[self.dtype]), self.in_row(j)])

    def total(self, v):
        """The sum of a vector's lanes."""
        fn = declare(self.b.module, f"llvm.vector.reduce.fadd.{_mangle(self.V)}",
                     ir.FunctionType(self.V.element, [self.V.element, self.V]))
        return self.b.call(fn, [ir.Constant(self.V.element, 0.0), v])

    def maximum(self, v):
        """The largest of a vector's lanes."""
        fn = declare(self.b.module, f"llvm.vector.reduce.fmax.{_mangle(self.V)}",
                     ir.FunctionType(self.V.element, [self.V]))
        return self.b.call(fn, [v])

    def _mem(self, dtype):
        return ir.VectorType(MEM_TYPE[dtype], self.vl)

    def _mask_type(self):
        return ir.VectorType(I1, self.vl)

    def _masked_load(self, ptr, start, j, dtype, fill):
        b, ty = self.b, self._mem(dtype)
        fn = declare(b.module, f"llvm.masked.load.{_mangle(ty)}.p0",
                     ir.FunctionType(ty, [PTR, I32, self._mask_type(), ty]))
        address = b.gep(ptr, [b.add(start, j)], source_etype=MEM_TYPE[dtype], inbounds=True)
        return b.call(fn, [address, ir.Constant(I32, _ALIGN[dtype]), self.in_row(j), fill])


def _mangle(ty: ir.VectorType) -> str:
    element = {"float": "f32", "double": "f64", "i8": "i8"}[str(ty.element)]
    return f"v{ty.count}{element}"
