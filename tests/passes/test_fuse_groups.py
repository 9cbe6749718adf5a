"""Fusion grouping on its own: which nodes of a small graph land in which typed kernel
(passes/kernels.py), with the facts each kernel type carries."""

import numpy as np

import graphc as gc
from graphc.ir import Graph
from passes.expand import expand_composites
from passes.fuse import fuse_kernels, kernel_nodes
from passes.kernels import ConvKernel, DenseKernel, LoopKernel, OpKernel, RecurrentKernel
from passes.manager import run_pipeline


def ids(nodes):
    """Identities (a node's == builds a comparison node)."""
    return [id(n) for n in nodes]


def bodies(inputs, outputs):
    run = run_pipeline(Graph(tuple(inputs), tuple(outputs), ()))
    run.run("expanded", expand_composites)
    return [k.attr("body") for k in kernel_nodes(run.run("fused", fuse_kernels))]


def test_dense_layer_is_one_dense_kernel_with_its_epilogue():
    x = gc.placeholder((None, 6), name="x")
    W, b = gc.shared(np.ones((6, 3), "f4")), gc.shared(np.ones(3, "f4"))
    (body,) = bodies([x], [gc.sigmoid(x @ W + b)])
    assert type(body) is DenseKernel and body.kind == "dense"
    assert body.gemm.op == "matmul" and body.bias is b and body.bias_add.op == "add"
    assert body.activation_name == "sigmoid" and ids(body.operands) == ids((x, W, b))
    assert ids(body.outputs) == ids((body.activation,))


def test_matmul_read_twice_keeps_no_epilogue():
    x, W = gc.placeholder((None, 4), name="x"), gc.placeholder((4, 2), name="W")
    y = x @ W
    kinds = bodies([x, W], [y + 1.0, y * 2.0])
    dense = [k for k in kinds if isinstance(k, DenseKernel)]
    assert len(dense) == 1 and dense[0].bias is None and dense[0].activation is None
    assert dense[0].activation_name == "linear"


def test_forward_convolution_is_a_conv_kernel():
    x = gc.placeholder((None, 5, 5, 2), name="x")
    w = gc.placeholder((3, 3, 2, 4), name="w")
    b = gc.placeholder((4,), name="b")
    (body,) = bodies([x, w, b], [gc.relu(gc.conv2d(x, w) + b)])
    assert type(body) is ConvKernel and body.kind == "dense"
    assert body.gemm.op == "conv2d" and body.bias is b and body.activation_name == "relu"


def test_elementwise_chain_with_a_broadcast_operand_is_one_loop_over_its_shape():
    x, b = gc.placeholder((3, 5), name="x"), gc.placeholder((5,), name="b")
    (body,) = bodies([x, b], [gc.tanh(x * 2 + b)])
    assert type(body) is LoopKernel and body.R is None
    assert tuple(d.const for d in body.X) == (3, 5)
    assert {id(x), id(b)} <= set(ids(body.inputs))
    assert {body.space[id(n)] for n in body.nodes if n.op in ("mul", "add", "tanh")} == {"X"}


def test_softmax_is_one_loop_reducing_its_last_axis():
    x = gc.placeholder((4, 7), name="x")
    (body,) = bodies([x], [gc.softmax(x)])
    assert type(body) is LoopKernel and body.R == (1,)
    reductions = [n for n in body.nodes if n.op in ("max", "sum")]
    assert len(reductions) == 2 and all(body.space[id(r)] == "K" for r in reductions)


def test_argmax_is_an_op_kernel_reading_the_loop_before_it():
    x = gc.placeholder((4, 7), name="x")
    loop, op = bodies([x], [gc.argmax(gc.exp(x), axis=1)])
    assert type(loop) is LoopKernel and type(op) is OpKernel
    assert op.node.op == "argmax" and ids(op.inputs) == ids(loop.outputs)


def test_a_recurrent_op_is_a_recurrent_kernel_with_its_steps_and_units():
    x = gc.placeholder((None, 5, 3), name="x")
    W, U = gc.placeholder((3, 16), name="W"), gc.placeholder((4, 16), name="U")
    b = gc.placeholder((16,), name="b")
    seq, _, _ = gc.lstm(x, W, U, b)
    recurrent = [k for k in bodies([x, W, U, b], [seq]) if isinstance(k, RecurrentKernel)]
    (body,) = recurrent
    assert body.kind == "op" and body.node.op == "lstm_seq"
    assert body.recurrent is U and body.steps == 5 and body.units == 4


def test_a_transposed_operand_view_becomes_a_gemm_transpose():
    x, W = gc.placeholder((None, 6), name="x"), gc.placeholder((3, 6), name="W")
    (body,) = bodies([x, W], [x @ gc.transpose(W, (1, 0))])
    assert type(body) is DenseKernel and ids(body.inputs) == ids((x, W))
    assert body.transposes == (False, True) and body.views[0].is_contiguous
    V = gc.placeholder((6, 3), name="V")
    (flagged,) = bodies([x, V], [gc.matmul(x, gc.transpose(V, (1, 0)), transpose_b=True)])
    assert flagged.transposes == (False, False)
