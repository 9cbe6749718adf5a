"""Fused kernels drawn as clusters of their inner ops, optionally coloured by a compare report."""

import re
import types

import numpy as np
import pytest

import graphc as gc
from graphc.viz import to_dot
from graphc.viz.kernels import error_colour
from graphc.viz.parts import BACKWARD, FORWARD, parts_of_stage
from passes.expand import expand_composites
from passes.fuse import fuse_kernels, kernel_nodes
from passes.manager import CORE_PIPELINE, run_pipeline


@pytest.fixture
def fused_step():
    """A stand-in Function whose pipeline ends with the llvm backend's fusion stages."""
    rng = np.random.default_rng(0)
    x, y = gc.placeholder((None, 4), name="x"), gc.placeholder((None, 3), name="y")
    w1 = gc.shared(rng.normal(size=(4, 8)).astype("float32"), name="W1")
    b1 = gc.shared(np.zeros(8, "float32"), name="b1")
    w2 = gc.shared(rng.normal(size=(8, 3)).astype("float32"), name="W2")
    loss = -gc.mean(gc.sum(y * gc.log_softmax(gc.relu(x @ w1 + b1) @ w2), axis=1))
    params = [w1, b1, w2]
    updates = tuple((w, w - 0.1 * g) for w, g in zip(params, gc.grad(loss, params)))
    stages = CORE_PIPELINE + (("expanded", expand_composites), ("fused", fuse_kernels))
    run = run_pipeline(gc.Graph((x, y), (loss,), updates), stages)
    return types.SimpleNamespace(pipeline=run, graph=run.stages.__getitem__, name="step")


def clusters(source: str) -> dict:
    """{cluster label's first line: [node ids inside]}."""
    found = {}
    for block in re.findall(r"subgraph cluster_\w+ \{(.*?)\n\t\}", source, re.S):
        label = re.search(r'label="([^"\n]*)', block).group(1)
        found[label] = re.findall(r"^\t\t(n\d+) \[", block, re.M)
    return found


def test_one_cluster_per_kernel_around_its_ops(fused_step):
    graph = fused_step.graph("fused")
    source = to_dot(fused_step, stage="fused").source
    found = clusters(source)
    kernels = kernel_nodes(graph)
    assert len(found) == len(kernels)
    for kernel in kernels:
        body = kernel.attr("body")
        assert len(found[f"{body.name} ({body.kind})"]) == len(body.nodes)
    assert "kernel_output" not in source and '"kernel' not in source


def test_edges_between_kernels_start_at_the_producing_op(fused_step):
    source = to_dot(fused_step, stage="fused").source
    inside = {n for ids in clusters(source).values() for n in ids}
    edges = re.findall(r"^\t(n\d+) -> (n\d+)", source, re.M)
    # every edge into a kernel's op comes from a drawn node: a leaf or another inner op
    drawn = set(re.findall(r"^\t+(n\d+) \[", source, re.M))
    assert all(a in drawn and b in drawn for a, b in edges)
    assert any(a in inside and b in inside for a, b in edges)


def test_inner_ops_keep_their_forward_and_backward_parts(fused_step):
    parts = parts_of_stage(
        fused_step.pipeline.stages,
        "fused",
        lambda n: n.attr("body").nodes if n.op == "kernel" else (),
    )
    kinds = {}
    for kernel in kernel_nodes(fused_step.graph("fused")):
        kinds[kernel.name] = {parts[id(n)] for n in kernel.attr("body").nodes}
    assert kinds["k0_dense_add_relu"] == {FORWARD}
    assert {FORWARD, BACKWARD} in kinds.values()  # softmax + cross-entropy + its gradient
    source = to_dot(fused_step, stage="fused").source
    assert 'fillcolor="#fee2e2"' in source and 'fillcolor="#ffffff"' in source


def test_report_colours_kernels_by_error_and_shows_time(fused_step):
    names = [k.name for k in kernel_nodes(fused_step.graph("fused"))]
    rows = [types.SimpleNamespace(name=n, error=1e-7, seconds=2e-4) for n in names]
    rows[0].error = 0.5
    report = types.SimpleNamespace(kernels=rows)
    source = to_dot(fused_step, stage="fused", report=report).source
    assert "error 5.0e-01, 0.2 ms" in source and "error 1.0e-07" in source
    assert source.count('color="#dc2626"') == 1 and "#16a34a" in source


def test_error_colours():
    assert error_colour(1e-7) == "#16a34a"
    assert error_colour(1e-4) == "#d97706"
    assert error_colour(float("nan")) == error_colour(1.0) == "#dc2626"


def test_a_report_without_kernels_is_refused(fused_step):
    with pytest.raises(TypeError, match="per-kernel"):
        to_dot(fused_step, stage="fused", report={"not": "a report"})


@pytest.mark.needs_dot
def test_fused_stage_renders(fused_step, tmp_path):
    written = to_dot(fused_step, stage="fused").save(tmp_path / "fused.png")
    assert written.read_bytes().startswith(b"\x89PNG")


def test_collapsed_kernels_are_one_box_each(fused_step):
    graph = fused_step.graph("fused")
    source = to_dot(fused_step, stage="fused", collapse_kernels=True).source
    assert clusters(source) == {}
    for kernel in kernel_nodes(graph):
        assert f"{kernel.name} ({kernel.attr('kind')})" in source
    assert "matmul add relu" in source  # the ops of the first dense kernel
    assert 'fillcolor="#ffffff:#fee2e2"' in source  # a kernel with forward and backward ops
    drawn = set(re.findall(r"^\t(n\d+) \[", source, re.M))
    edges = re.findall(r"^\t(n\d+) -> (n\d+)", source, re.M)
    assert edges and all(a in drawn and b in drawn for a, b in edges)


def test_colours_from_a_real_compare_report():
    x = gc.placeholder((None, 5), name="x")
    w = gc.shared(np.linspace(-1, 1, 15, dtype="float32").reshape(5, 3), name="w")
    loss = gc.mean(gc.sigmoid(x @ w) ** 2)
    step = gc.function([x], loss, updates=[(w, w - 0.5 * gc.grad(loss, w))])
    report = gc.compare(step, np.ones((4, 5), "float32"))
    source = to_dot(step, stage="fused", report=report).source
    labels = [k.name for k in kernel_nodes(step.graph("fused"))]
    assert labels and all(re.search(rf"{name} \(\w+\)\nerror ", source) for name in labels)
    assert "#dc2626" not in source  # the two backends agree
