"""Diagram colours by dtype, so the float32 islands of a mixed-precision or quantized model show.

Each op is outlined in the colour of the dtype it computes in: bfloat16 (purple) when it
produces or reads bfloat16 (a bf16 GEMM accumulates in float32 but runs on bf16 operands),
int8 (green) for the quantized ops (int8 weights and inputs, int32 sums) and for int8/uint8
values, int32 (orange), float32 (slate). A fused kernel takes the narrowest dtype of its ops.
float64, int64 and bool keep the default outline. Diagrams without bfloat16, int8 or int32
ops are unchanged; with them, a legend table is added.
"""

from __future__ import annotations

from graphc.ir import Node

COLOURS = {"int8": "#059669", "bfloat16": "#9333ea", "int32": "#ea580c", "float32": "#334155"}
LABELS = {"int8": "int8 / uint8", "bfloat16": "bfloat16", "int32": "int32", "float32": "float32"}
NARROWEST_FIRST = (*COLOURS, "other")  # other: float64, int64, bool
PEN = "2.2"  # outline width of a non-float32 op: visible at a glance


def dtype_class(dtype: str) -> str:
    """The colour class of a dtype name ('uint8' counts as int8)."""
    if dtype in ("int8", "uint8"):
        return "int8"
    return dtype if dtype in COLOURS else "other"


def compute_class(node: Node) -> str:
    """The colour class of the arithmetic `node` does (module doc)."""
    if node.op.startswith("quantized_"):
        return "int8"
    own = dtype_class(node.dtype)
    if own != "float32":
        return own
    reads_bf16 = any(i.dtype == "bfloat16" for i in node.inputs)
    return "bfloat16" if reads_bf16 else own


def narrowest(classes) -> str:
    """The first of NARROWEST_FIRST among `classes` (float32 when empty)."""
    present = set(classes)
    return next((c for c in NARROWEST_FIRST if c in present), "float32")


def outline(cls: str) -> dict:
    """Graphviz attributes that outline a node of class `cls` (nothing for float32 and
    'other')."""
    if cls in ("float32", "other"):
        return {}
    return {"color": COLOURS[cls], "penwidth": PEN}


class DtypeLegend:
    """Collects the classes drawn in one diagram and draws their legend, one small table,
    when some op computes in bfloat16, int8 or int32."""

    def __init__(self):
        self.seen: set = set()

    def note(self, cls: str) -> str:
        self.seen.add(cls)
        return cls

    def draw(self, dot) -> None:
        shown = [c for c in COLOURS if c in self.seen | {"float32"}]
        if len(shown) < 2:
            return
        rows = "".join(f'<tr><td><font color="{COLOURS[c]}">&#9632; {LABELS[c]}</font></td></tr>'
                       for c in shown)
        dot.node("dtype_legend", f'<<table border="1" cellborder="0" color="#cbd5e1">'
                                 f"<tr><td><b>dtype</b></td></tr>{rows}</table>>",
                 shape="plaintext", fontsize="9")
