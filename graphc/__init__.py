"""graphc: a dataflow-graph compiler for neural networks that a person can read.

Theano-style core API:
    import graphc as gc
    x = gc.matrix("x"); W = gc.shared(np.zeros((784, 10), "float32"), name="W")
    loss = gc.mean(gc.softmax(x @ W))
    train = gc.function([x], loss, updates=[(W, W - 0.1 * gc.grad(loss, W))])

Public names load on first use (PEP 562, as in Scientific Python SPEC 1 lazy loading): importing
graphc.ir, graphc.ops or the passes, which the public API is built on, never imports the API,
`function` or the passes back, so no package import circle exists.
"""

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> the module that provides it
PUBLIC = {
    "SharedVariable": "graphc.api",
    "abs": "graphc.api",
    "add": "graphc.api",
    "apply": "graphc.api",
    "argmax": "graphc.api",
    "argmin": "graphc.api",
    "as_node": "graphc.api",
    "broadcast_to": "graphc.api",
    "cast": "graphc.api",
    "clip": "graphc.api",
    "concatenate": "graphc.api",
    "constant": "graphc.api",
    "cos": "graphc.api",
    "div": "graphc.api",
    "dot": "graphc.api",
    "einsum": "graphc.einsum",
    "elu": "graphc.api",
    "eq": "graphc.api",
    "equal": "graphc.api",
    "erf": "graphc.api",
    "exp": "graphc.api",
    "export": "graphc.export",
    "export_onnx": "graphc.onnx",  # needs the onnx extra; loaded on first use
    "expand_dims": "graphc.api",
    "expm1": "graphc.api",
    "ge": "graphc.api",
    "gelu": "graphc.api",
    "grad": "graphc.api",
    "greater": "graphc.api",
    "greater_equal": "graphc.api",
    "gt": "graphc.api",
    "hard_sigmoid": "graphc.api",
    "layer_norm": "graphc.transformer_api",
    "le": "graphc.api",
    "less": "graphc.api",
    "less_equal": "graphc.api",
    "log": "graphc.api",
    "log1p": "graphc.api",
    "log_softmax": "graphc.api",
    "logical_and": "graphc.api",
    "logical_not": "graphc.api",
    "logical_or": "graphc.api",
    "lt": "graphc.api",
    "masked_softmax": "graphc.transformer_api",
    "flash_attention": "graphc.flash_api",
    "conv_transpose": "graphc.conv_family_api",
    "depthwise_conv": "graphc.conv_family_api",
    "separable_conv": "graphc.conv_family_api",
    "matmul": "graphc.api",
    "matrix": "graphc.api",
    "max": "graphc.api",
    "maximum": "graphc.api",
    "mean": "graphc.api",
    "min": "graphc.api",
    "minimum": "graphc.api",
    "mul": "graphc.api",
    "neg": "graphc.api",
    "neq": "graphc.api",
    "not_equal": "graphc.api",
    "one_hot": "graphc.api",
    "placeholder": "graphc.api",
    "pow": "graphc.api",
    "random_uniform": "graphc.api",
    "relu": "graphc.api",
    "quantized_conv": "graphc.quant_api",
    "quantized_matmul": "graphc.quant_api",
    "reshape": "graphc.api",
    "scalar": "graphc.api",
    "selu": "graphc.api",
    "shared": "graphc.api",
    "sigmoid": "graphc.api",
    "sign": "graphc.api",
    "stop_gradient": "graphc.api",
    "sin": "graphc.api",
    "size": "graphc.api",
    "softmax": "graphc.api",
    "softplus": "graphc.api",
    "softsign": "graphc.api",
    "sqrt": "graphc.api",
    "square": "graphc.api",
    "stack": "graphc.api",
    "sub": "graphc.api",
    "sum": "graphc.api",
    "take": "graphc.api",
    "tanh": "graphc.api",
    "tensor": "graphc.api",
    "transpose": "graphc.api",
    "vector": "graphc.api",
    "where": "graphc.api",
    "CompareReport": "graphc.compare",
    "compare": "graphc.compare",
    "Function": "graphc.function",
    "function": "graphc.function",
    "DtypeError": "graphc.ir",
    "Graph": "graphc.ir",
    "GraphError": "graphc.ir",
    "Node": "graphc.ir",
    "ShapeError": "graphc.ir",
    "avg_pool1d": "graphc.nn_api",
    "avg_pool2d": "graphc.nn_api",
    "conv1d": "graphc.nn_api",
    "conv2d": "graphc.nn_api",
    "global_avg_pool": "graphc.nn_api",
    "global_max_pool": "graphc.nn_api",
    "gru": "graphc.nn_api",
    "lstm": "graphc.nn_api",
    "max_pool1d": "graphc.nn_api",
    "max_pool2d": "graphc.nn_api",
    "reverse_time": "graphc.nn_api",
    "simple_rnn": "graphc.nn_api",
    "unfold_like": "graphc.nn_api",
    "upsample": "graphc.nn_api",
    "zero_pad": "graphc.nn_api",
    "OPS": "graphc.ops",
    "allreduce": "graphc.ops.collective",
    "compare_overlay": "graphc.overlays",
    "machine_peak": "graphc.backends.llvm.peak",
    "profile": "graphc.profile",
    "debugprint": "graphc.printing",
    "to_dot": "graphc.viz",
    "view": "graphc.viz.view",
}

__all__ = sorted(PUBLIC)


def __getattr__(name: str):
    if name not in PUBLIC:
        raise AttributeError(f"module 'graphc' has no attribute {name!r}")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(PUBLIC))


class _Package(types.ModuleType):
    """Keeps gc.function and gc.compare the functions when their modules graphc.function and
    graphc.compare are imported (the import system sets a submodule as an attribute of its
    package)."""

    def __setattr__(self, name: str, value) -> None:
        if not (isinstance(value, types.ModuleType) and name in PUBLIC):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
