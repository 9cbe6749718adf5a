"""Parts the bfloat16 convolution kernels share (conv_bf16*.py): per-thread arrays
(ThreadBuffers), a GEMM run by one thread (ThreadGemm), element pointers, zeroing, rounding
and the 16 x 16 register transpose of dy.

A heap array that aligned_alloc cannot give makes the kernel store ALLOCATION_FAILED into its
status word and return at once (freeing what it got): the executable raises MemoryError
naming the op (runtime.py), so no result is computed from a missing buffer."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.bf16 import narrow_bits
from graphc.backends.llvm.gemm_amx_int8 import memset
from graphc.backends.llvm.gemm_bf16 import program_gemm, program_workspace_words
from graphc.backends.llvm.gemm_bf16_kernel import VL
from graphc.backends.llvm.irutil import (
    F32,
    I16,
    I32,
    I64,
    PTR,
    VOID,
    c64,
    declare,
    for_range,
)

WGRAD_PIXELS = 512  # output pixels per weight-gradient pass (dy^T's row length)
WGRAD_WIDTH = 320  # dW rows per weight-gradient pass (the GEMM's N; a multiple of BLOCK)
STACK_BYTES = 1 << 16  # larger per-thread arrays come from the heap (ThreadBuffers)
ITEM_BYTES = {"i16": 2, "i32": 4, "float": 4}
ALLOCATION_FAILED = 2  # the status word's code (1 is an index out of range)
HEAP_OPS = {f"conv{r}d{part}" for r in (1, 2) for part in ("", "_input_grad", "_weight_grad")}
VI16 = ir.VectorType(I16, VL)
BLOCK = 32  # the AMX GEMMs sum C in 32 x 32 blocks: 2 x 2 accumulator tiles (0-3), A 4-5, B 6-7
# the two halves of interleaving two 16-lane vectors: (a0, b0, a1, b1, ...), (a8, b8, ...)
INTERLEAVE = [ir.Constant(ir.VectorType(I32, VL), [half * 8 + k // 2 + VL * (k % 2)
                                                    for k in range(VL)]) for half in (0, 1)]


def rounded_up(n: int) -> int:
    """n rounded up to whole BLOCKs."""
    return -(-n // BLOCK) * BLOCK


def allocates_per_thread(node) -> bool:
    """The node's kernel may take heap arrays (and report ALLOCATION_FAILED)."""
    return node.dtype == "bfloat16" and node.op in HEAP_OPS


def elem(b, ptr, index, ty=I16):
    return b.gep(ptr, [index], source_etype=ty)


class ThreadBuffers:
    """A kernel's per-thread arrays, 64-byte aligned: on the thread's stack up to STACK_BYTES,
    larger ones from aligned_alloc at kernel entry, freed by finish() (a deep layer's packed
    weights alone take megabytes: 3x3x512 -> 512 packs 4.7 MB, past a thread's stack).
    Arrays are made before the kernel's body is emitted (the NULL checks open it)."""

    def __init__(self, kb):
        self.kb, self.heap = kb, []

    def array(self, ty, elems: int):
        size = max(1, elems) * ITEM_BYTES[str(ty)]
        if size <= STACK_BYTES:
            buffer = self.kb.pre.alloca(ty, size=c64(max(1, elems)))
            buffer.align = 64
            return buffer
        alloc = declare(self.kb.module, "aligned_alloc", PTR, [I64, I64])
        buffer = self.kb.pre.call(alloc, [c64(64), c64(-(-size // 64) * 64)])
        self.heap.append(buffer)
        self.fail_if_missing(buffer)
        return buffer

    def fail_if_missing(self, buffer):
        """No memory: report it in the status word, free the arrays got so far, return."""
        b = self.kb.b
        with b.if_then(b.icmp_unsigned("==", buffer, ir.Constant(PTR, None))):
            b.store(c64(ALLOCATION_FAILED), self.kb.status)
            self.free_all()
            b.ret_void()

    def free_all(self):
        free = declare(self.kb.module, "free", VOID, [PTR])
        for buffer in self.heap:
            self.kb.b.call(free, [buffer])  # free(NULL) does nothing

    def finish(self) -> ir.Function:
        """Free the heap arrays, then end the kernel (its body has no other exit)."""
        self.free_all()
        return self.kb.finish()


class ThreadGemm:
    """One bfloat16 GEMM variant run by a thread alone, with its own workspace."""

    def __init__(self, buffers, transposes, bias, activation, out_dtype, dims):
        self.b = buffers.kb.b
        self.fn = program_gemm(buffers.kb.module, *transposes, bias, activation, out_dtype)
        self.workspace = buffers.array(I32, program_workspace_words(*dims))

    def __call__(self, M, N, K, A, lda, B, ldb, C, ldc, bias=None):
        alone = (ir.Constant(I32, 0), ir.Constant(I32, 1))
        bias = ir.Constant(PTR, None) if bias is None else bias
        self.b.call(self.fn, [*alone, M, N, K, A, lda, B, ldb, C, ldc, bias, self.workspace])


def zero_floats(kb, ptr, count):
    """ptr[:count] = 0.0 (float32)."""
    zero_elements(kb, ptr, c64(0), count, F32)


def zero_elements(kb, ptr, lo, hi, ty=I16):
    """ptr[lo:hi] = 0 (`ty` elements; one memset)."""
    b = kb.b
    start = elem(b, ptr, lo, ty)
    memset(b, kb.module, start, b.mul(b.sub(hi, lo), c64(ITEM_BYTES[str(ty)])))


def round_into(kb, src, dst, dst_offset, count):
    """dst[dst_offset + i] = bfloat16(src[i]) (bits) for i < count: 16 at a time, then one."""
    b = kb.b
    out = elem(b, dst, dst_offset)

    def vector(v):
        i = b.mul(v, c64(VL))
        value = b.load(elem(b, src, i, F32), typ=ir.VectorType(F32, VL), align=4)
        b.store(narrow_bits(b, value), elem(b, out, i), align=2)

    def one(i):
        b.store(narrow_bits(b, b.load(elem(b, src, i, F32), typ=F32)), elem(b, out, i))

    vectors = b.sdiv(count, c64(VL))
    for_range(b, c64(0), vectors, vector, name="round")
    for_range(b, b.mul(vectors, c64(VL)), count, one, name="round1")


def transpose_rows(kb, src, rows, width: int, dst, dst_stride: int = WGRAD_PIXELS):
    """dst[j, i] = src[i, j] (bfloat16 bits) for i < rows, j < width; dst rows dst_stride
    apart. 16 x 16 tiles in registers (columns past `rows` get copies of the last row: the GEMM
    reads only the first `rows`), the columns past a multiple of 16 one value at a time."""
    b = kb.b
    full = width // VL * VL
    last = b.sub(rows, c64(1))

    def tile(i0, j0):
        sources = [b.select(b.icmp_signed("<", b.add(i0, c64(r)), rows), b.add(i0, c64(r)), last)
                   for r in range(VL)]
        vectors = [b.load(elem(b, src, b.add(b.mul(i, c64(width)), j0)), typ=VI16, align=2)
                   for i in sources]
        for _ in range(4):  # each round interleaves rows k and k + 8: four rounds transpose
            vectors = [b.shuffle_vector(vectors[k], vectors[k + VL // 2], half)
                       for k in range(VL // 2) for half in INTERLEAVE]
        for r, vector in enumerate(vectors):
            row = b.add(b.mul(b.add(j0, c64(r)), c64(dst_stride)), i0)
            b.store(vector, b.bitcast(elem(b, dst, row), VI16.as_pointer()), align=2)

    tiles = b.sdiv(b.add(rows, c64(VL - 1)), c64(VL))
    for_range(b, c64(0), tiles, lambda t: for_range(
        b, c64(0), c64(full // VL), lambda u: tile(b.mul(t, c64(VL)), b.mul(u, c64(VL))),
        name="tu"), name="tt")

    def column(j):
        def one(i):
            value = b.load(elem(b, src, b.add(b.mul(i, c64(width)), j)), typ=I16)
            b.store(value, elem(b, dst, b.add(b.mul(j, c64(dst_stride)), i)))

        for_range(b, c64(0), rows, one, name="ti")

    for_range(b, c64(full), c64(width), column, name="tj")


def lane_mask(b, left, lanes: int, pairs: bool = False):
    """Lanes i < left (pairs: lanes 2i and 2i + 1 for i < left) as a vector of i1."""
    index = [k // 2 if pairs else k for k in range(lanes)]
    limit = b.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), lanes), None), left,
                             ir.Constant(I32, 0))
    limit = b.shuffle_vector(limit, ir.Constant(limit.type, None),
                             ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))
    return b.icmp_signed("<", ir.Constant(limit.type, index), limit)


def masked_load(b, module, ptr, mask):
    """16 bfloat16 bit patterns, zero in the lanes off the mask (those are never read)."""
    fn = declare(module, "llvm.masked.load.v16i16.p0", VI16, [PTR, I32, mask.type, VI16])
    return b.call(fn, [ptr, ir.Constant(I32, 2), mask, ir.Constant(VI16, [0] * VL)])
