"""`graphc.function`: compile inputs -> outputs (+ Theano-style updates) into a callable."""

from __future__ import annotations

import numpy as np

from graphc import ir
from graphc.backends import get_backend
from graphc.distributed.phased import PhasedFunction
from graphc.distributed.split import mentions_allreduce
from graphc.ir import DtypeError, Graph, GraphError, Node, ShapeError, user_site
from graphc.ops.leaves import SharedVariable
from graphc.ops.operators import as_node
from graphc.shared_locks import VariableLocks
from graphc.size_one import SizeOnePrograms
from passes.manager import run_pipeline
from passes.symbols import SizeOneBroadcast


class Function:
    """A compiled graph. Call it with one value per input; it returns the outputs and applies
    the updates (all computed from the values before the call, then all stored).

    `f.graph(stage)` gives the graph at a pipeline stage ('raw', 'grad', 'optimized', and
    the backend's own such as 'fused'); `f.stages` lists them; `f.kernels` describes
    compiled kernels (llvm backend).

    Calls from several threads are safe: a call holds the locks of the shared variables it
    reads or writes (graphc.shared_locks), so no update is lost between functions.

    A call in which a None size of an input is 1 and broadcasts runs a program compiled for
    that size 1 (graphc.size_one), once per such pattern of sizes.
    """

    def __init__(self, inputs, outputs, updates=None, backend="llvm", name=None):
        self.name = name
        self.site = user_site()
        self.inputs = check_inputs(inputs)
        self.single = isinstance(outputs, Node)
        outs = [outputs] if self.single else list(outputs or [])
        if not all(isinstance(o, Node) for o in outs):
            raise TypeError(f"function outputs must be graph nodes, got {outs!r} (at {self.site})")
        raw = Graph(self.inputs, tuple(outs), check_updates(updates))
        check_no_missing_inputs(raw)
        self.backend = backend
        try:
            module = get_backend(backend)
        except ValueError as err:
            raise ValueError(f"gc.function: {err} (at {user_site()})") from None
        self.pipeline = run_pipeline(raw, lazy=True)  # the backend may skip the passes
        self.executable = module.compile(self.pipeline)
        self.locks = VariableLocks(n.attr("storage") for n in raw.nodes() if n.op == "shared")
        self.size_one = SizeOnePrograms(raw, module)

    @property
    def stages(self) -> list[str]:
        return list(self.pipeline.stages)

    def graph(self, stage: str = "optimized") -> Graph:
        if stage not in self.pipeline.stages:
            raise KeyError(f"no stage {stage!r}; stages are {', '.join(self.stages)}")
        return self.pipeline.stages[stage]

    @property
    def kernels(self) -> list:
        return list(getattr(self.executable, "kernels", []))

    def __call__(self, *args):
        return self.call_coerced(self.coerce_arguments(args))

    def call_coerced(self, arrays: list):
        """The call on `arrays` that are already what coerce_arguments gives: one C-contiguous
        array per input, of its dtype and shape (a caller that checked them skips the checks:
        ~1.2 us of a batch-1 predict)."""
        with self.locks.held():
            try:
                outputs = self.executable(*arrays)
            except SizeOneBroadcast as err:  # checked before any native code ran
                outputs = self.size_one.program_for(arrays, err)(*arrays)
        return outputs[0] if self.single else outputs

    def coerce_arguments(self, args: tuple) -> list:
        """The call's arguments as arrays; errors name this function and the caller's line."""
        if len(args) != len(self.inputs):
            names = ", ".join(p.name or f"input {i}" for i, p in enumerate(self.inputs))
            raise TypeError(
                f"{self.label()} expects {len(self.inputs)} arguments ({names}), got {len(args)} "
                f"(called at {user_site()})"
            )
        try:
            return [coerce_input(p, a, i) for i, (p, a) in enumerate(zip(self.inputs, args))]
        except (DtypeError, ShapeError) as err:
            raise type(err)(f"{self.label()}: {err} (called at {user_site()})") from None

    def label(self) -> str:
        """This function in an error message (built only on errors: calls are a hot path)."""
        return f"function {self.name!r}" if self.name else "function"


def check_inputs(inputs) -> tuple:
    inputs = tuple([inputs] if isinstance(inputs, Node) else inputs)
    for i, p in enumerate(inputs):
        if not isinstance(p, Node) or p.op != "placeholder":
            raise TypeError(
                f"function input {i} must be a placeholder, got {p!r} (at {user_site()})"
            )
    if len({id(p) for p in inputs}) != len(inputs):
        raise ValueError(f"a placeholder appears twice among the inputs (at {user_site()})")
    return inputs


def check_no_missing_inputs(graph: Graph) -> None:
    given = {id(p) for p in graph.inputs}
    for node in graph.nodes():
        if node.op == "placeholder" and id(node) not in given:
            raise GraphError(
                f"placeholder {node.name or node!r} (built at {node.site}) is needed "
                f"by the outputs but is not among the function's inputs "
                f"(function built at {user_site()})"
            )


def check_updates(updates) -> tuple:
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates or [])
    out, seen = [], set()
    for var, expr in pairs:
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates must target shared variables, got {var!r} (at {user_site()})")
        if id(var) in seen:
            raise ValueError(f"shared {var.name!r} is updated twice (at {user_site()})")
        seen.add(id(var))
        expr = as_node(expr, like=var)
        if expr.dtype != var.dtype or not shape_fits(expr.shape, var.shape):
            raise ShapeError(
                f"update of {var.name or 'shared'!r}: new value is {expr.shape} "
                f"{expr.dtype}, the variable is {var.shape} {var.dtype} "
                f"(at {expr.site})"
            )
        out.append((var, expr))
    return tuple(out)


def coerce_input(p: Node, value, position: int) -> np.ndarray:
    """`value` as a C-contiguous array of the placeholder's dtype, or a clear error."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" and array.dtype.name != "bfloat16":
        raise DtypeError(f"{input_label(p, position)}: cannot use {array.dtype} data for a "
                         f"{p.dtype} input")
    if array.dtype != p.dtype:
        label = input_label(p, position)
        if not np.can_cast(array.dtype, p.dtype, "same_kind"):
            raise DtypeError(f"{label}: cannot cast {array.dtype} to {p.dtype} safely")
        check_integer_range(array, p.dtype, label)
        array = array.astype(p.dtype)
    if not shape_fits(p.shape, array.shape):
        raise ShapeError(f"{input_label(p, position)}: expected shape {shape_text(p.shape)}, "
                         f"got {array.shape}")
    return array if array.flags.c_contiguous else array.copy(order="C")  # keeps 0-d arrays 0-d


def input_label(p: Node, position: int) -> str:
    return f"input {position}" + (f" ({p.name!r})" if p.name else "")


def shape_fits(expected: tuple, shape: tuple) -> bool:
    """Whether `shape` has `expected`'s rank and sizes (None: any); a plain loop, as this runs
    on every call (a generator cost ~1 us of a batch-1 predict)."""
    if len(shape) != len(expected):
        return False
    for want, got in zip(expected, shape):  # noqa: SIM110 - a loop: all() of a generator is slower
        if want is not None and want != got:
            return False
    return True


def check_integer_range(array: np.ndarray, dtype: str, label: str) -> None:
    """Integers that do not fit a narrower integer dtype raise instead of wrapping around."""
    target = np.dtype(dtype)
    if target.kind not in "iu" or array.dtype.kind not in "iu" or array.size == 0 or \
            np.can_cast(array.dtype, target, "safe"):
        return
    info, low, high = np.iinfo(target), array.min(), array.max()
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise OverflowError(f"{label}: value {bad} does not fit the input's dtype {dtype} "
                            f"(range {info.min}..{info.max})")


def shape_text(shape) -> str:
    """`shape` as users write it (Keras's way): None for a size known only at run time."""
    return ir.shape_text(shape, unknown="None")


def function(inputs, outputs, updates=None, backend="llvm", name=None) -> Function:
    """Compile a function of `inputs` computing `outputs` and applying `updates`.

    Args:
        inputs: placeholders, in call order.
        outputs: a node (the call returns one array) or a list of nodes (returns a list).
        updates: (shared variable, new value expression) pairs, or a dict.
        backend: 'llvm' (native code) or 'numpy' (the reference interpreter).
    Example:
        train = gc.function([x, y], loss, updates=[(W, W - 0.1 * gc.grad(loss, W))])
    With gc.allreduce nodes it returns a graphc.distributed PhasedFunction (docs/distributed.md).
    """
    if mentions_allreduce(outputs, updates):
        outs = [outputs] if isinstance(outputs, Node) else list(outputs)
        raw = Graph(check_inputs(inputs), tuple(outs), check_updates(updates))
        return PhasedFunction(raw, isinstance(outputs, Node), backend, name, Function)
    return Function(inputs, outputs, updates, backend, name)
