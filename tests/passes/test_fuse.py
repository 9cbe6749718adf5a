"""Fusion passes: what becomes one kernel, and fused graphs compute what the original did
(run with the NumPy reference implementations, independently of any code generation)."""

import numpy as np

import graphc as gc
from graphc.backends.numpy_backend import Interpreter
from graphc.function import check_updates
from graphc.ir import Graph
from passes.expand import expand_composites
from passes.fuse import evaluate_fused, fuse_kernels, inner_nodes, kernel_nodes
from passes.manager import run_pipeline
from passes.memory import peak_live_bytes, plan_offsets


def fused(inputs, outputs, updates=()):
    run = run_pipeline(Graph(tuple(inputs), tuple(outputs), check_updates(updates)))
    run.run("expanded", expand_composites)
    return run, run.run("fused", fuse_kernels)


def kernels(graph):
    return [(k.attr("kind"), k.attr("ops")) for k in kernel_nodes(graph)]


def agrees(run, graph, args):
    env = Interpreter(run.stages["optimized"]).run(args)
    got = evaluate_fused(graph, args)
    want = run.stages["optimized"]
    for g, o in zip(got["outputs"], want.outputs):
        np.testing.assert_allclose(g, env[id(o)], rtol=1e-6)
    for g, (_, e) in zip(got["updates"], want.updates):
        np.testing.assert_allclose(g, env[id(e)], rtol=1e-6)


def test_elementwise_chain_with_broadcast_is_one_loop():
    x = gc.placeholder((None, 5), name="x")
    b = gc.placeholder((5,), name="b")
    run, g = fused([x, b], [gc.tanh(x * 2 + b) - b])
    assert kernels(g) == [("loop", ("mul", "add", "tanh", "sub"))]
    agrees(run, g, [np.ones((3, 5), "f4"), np.arange(5, dtype="f4")])


def test_mean_of_squares_is_one_reduction_kernel():
    x, y = gc.placeholder((None, 4), name="x"), gc.placeholder((None, 4), name="y")
    run, g = fused([x, y], [gc.mean(gc.square(x - y))])
    ((kind, ops),) = kernels(g)
    assert kind == "loop" and set(ops) == {"sub", "square", "mean"}
    agrees(run, g, [np.ones((3, 4), "f4"), np.zeros((3, 4), "f4")])


def test_dense_layer_puts_bias_and_activation_in_the_gemm():
    x = gc.placeholder((None, 6), name="x")
    W, b = gc.shared(np.ones((6, 3), "f4")), gc.shared(np.ones(3, "f4"))
    run, g = fused([x], [gc.relu(x @ W + b)])
    assert kernels(g) == [("dense", ("matmul", "add", "relu"))]
    agrees(run, g, [np.ones((2, 6), "f4")])


def mlp_graph():
    import tests.backends.test_llvm_backend as backend

    ins, loss, updates, params = backend.mlp_step("float32", (20, 16, 12, 5))
    return ins, fused(ins, [loss], updates)


def test_mlp_training_step_fuses_as_designed():
    ins, (run, g) = mlp_graph()
    ks = kernel_nodes(g)
    dense = [k.attr("ops") for k in ks if k.attr("kind") == "dense"]
    assert dense.count(("matmul", "add", "relu")) == 2 and ("matmul", "add") in dense
    # softmax cross-entropy, forward and backward, in one loop with its reductions
    ce = [k for k in ks if {"max", "exp", "log"} <= set(k.attr("ops"))]
    assert len(ce) == 1 and ce[0].attr("ops").count("sum") >= 2
    # Adam: each weight matrix's moments and update in one pass with three outputs
    adam = [k for k in ks if k.attr("kind") == "loop" and "sqrt" in k.attr("ops")]
    assert len(adam) == 6  # 3 weights alone, 3 biases inside their gradient's reduction
    assert sum(len(k.attr("body").outputs) for k in adam) == 3 * 6 + 2  # + 2 relu backwards
    assert all(n.op != "kernel" for k in ks for n in inner_nodes(k))
    rng = np.random.default_rng(0)
    agrees(run, g, [rng.standard_normal((7, 20)).astype("f4"),
                    np.eye(5, dtype="f4")[rng.integers(0, 5, 7)]])


def test_expand_composites_removes_softmax_and_reads_relu_outputs():
    x = gc.placeholder((None, 4), name="x")
    h = gc.relu(x)
    run, g = fused([x], [gc.softmax(h), gc.cast(gc.greater(x, 0.0), "float32")])
    expanded = run.stages["expanded"]
    assert expanded.count("softmax") == 0 and expanded.count("max") == 1
    (greater,) = [n for n in expanded.nodes() if n.op == "greater"]
    assert greater.inputs[0].op == "relu"
    agrees(run, g, [np.array([[1, -2, 0, 3]], "f4")])


def test_views_are_read_in_place_not_copied():
    x = gc.placeholder((4, 6), name="x")
    run, g = fused([x], [gc.transpose(x)[1:3] * 2 + gc.reshape(x, (6, 4))[1:3]])
    assert kernels(g) == [("loop", ("transpose", "getitem", "mul", "reshape", "getitem", "add"))]
    agrees(run, g, [np.arange(24, dtype="f4").reshape(4, 6)])


def test_memory_plan_reuses_dead_buffers_and_aligns():
    sizes = [100, 64, 300, 10, 128]
    lives = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
    offsets, total = plan_offsets(sizes, lives)
    assert all(o % 64 == 0 for o in offsets)
    for i in range(5):
        for j in range(i):
            overlap = lives[i][0] <= lives[j][1] and lives[j][0] <= lives[i][1]
            apart = offsets[i] + sizes[i] <= offsets[j] or offsets[j] + sizes[j] <= offsets[i]
            assert apart or not overlap
    assert peak_live_bytes(sizes, lives) <= total < sum(sizes) + 5 * 64
