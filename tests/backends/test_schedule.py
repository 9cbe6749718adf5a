"""Scheduling on its own (graphc/backends/llvm/schedule.py, inplace.py): kernel order,
which updates are written straight into their shared variable, and phases between barriers."""

import numpy as np

import graphc as gc
from graphc.backends.llvm.buffers import plan_memory
from graphc.backends.llvm.schedule import reaches, schedule_kernels, topological
from graphc.function import check_updates
from graphc.ir import Graph
from passes.expand import expand_composites
from passes.fuse import fuse_kernels
from passes.manager import run_pipeline


def compiled_stages(inputs, outputs, updates=()):
    """(schedule, program) of a small function, through the backend's own stage functions."""
    run = run_pipeline(Graph(tuple(inputs), tuple(outputs), check_updates(updates)))
    expanded = run.run("expanded", expand_composites)
    schedule = schedule_kernels(run.run("fused", fuse_kernels))
    return schedule, plan_memory(schedule, expanded)


def storage(var):
    return id(var.attr("storage"))


def sgd(rows=8, cols=16):
    """A linear layer's loss and its SGD update (W large enough to update in place)."""
    x = gc.placeholder((None, rows), name="x")
    W = gc.shared(np.ones((rows, cols), "f4"), name="W")
    loss = gc.sum(x @ W)
    return x, W, loss, [(W, W - 0.1 * gc.grad(loss, W))]


def test_topological_order_takes_the_lowest_ready_kernel_first():
    assert topological({0: set(), 1: {2}, 2: set(), 3: {0, 1}}) == [0, 2, 1, 3]
    assert reaches({0: set(), 1: {0}, 2: {1}}, 2, 0) and not reaches({0: set(), 1: set()}, 1, 0)


def test_kernels_run_after_the_kernels_they_read():
    x = gc.placeholder((4, 7), name="x")
    schedule, _ = compiled_stages([x], [gc.exp(gc.cast(gc.argmax(gc.exp(x), axis=1), "float32"))])
    position = {id(b): k for k, b in enumerate(schedule.order)}
    for body in schedule.order:
        assert all(position[d] < position[id(body)] for d in schedule.deps[id(body)])


def test_an_update_is_written_in_place_after_every_reader_of_the_old_value():
    x, W, loss, updates = sgd()
    schedule, program = compiled_stages([x], [loss], updates)
    assert set(schedule.inplace) == {storage(W)}
    writer = schedule.inplace[storage(W)][0]
    readers = [b for b in schedule.order if id(b) != writer and any(
        i.op == "shared" and storage(i) == storage(W) for i in b.inputs)]
    assert readers and all(id(r) in schedule.deps[writer] for r in readers)
    assert program.inplace == ["W"] and not program.copies


def test_small_variables_are_copied_at_the_end_instead():
    x = gc.placeholder((3,), name="x")
    step = gc.shared(np.zeros(1, "f4"), name="step")
    schedule, program = compiled_stages([x], [gc.sum(x)], [(step, step + 1.0)])
    assert not schedule.inplace and program.inplace == []
    ((dst, _),) = program.copies
    assert dst.kind == "shared"


def test_an_update_that_reads_other_elements_of_its_variable_is_not_in_place():
    W = gc.shared(np.ones((10, 10), "f4"), name="W")
    schedule, program = compiled_stages([], [], [(W, W - gc.transpose(W, (1, 0)))])
    assert not schedule.inplace and len(program.copies) == 1


def test_independent_kernels_share_a_phase_and_readers_wait_for_the_next():
    x, y = gc.placeholder((4, 7), name="x"), gc.placeholder((3,), name="y")
    a = gc.exp(x)
    _, program = compiled_stages([x, y], [a, gc.log(y), gc.argmax(a, axis=1)])
    phase = {call.body.computed_ops: call.phase for call in program.calls}
    assert phase[("exp",)] == phase[("log",)] == 0 and phase[("argmax",)] == 1


def test_temporaries_live_from_their_writers_phase_to_their_last_readers():
    x = gc.placeholder((4, 7), name="x")
    a = gc.exp(x)
    i = gc.argmax(a, axis=1)
    _, program = compiled_stages([x], [gc.cast(i, "float32") + gc.sum(a, axis=1)])
    temps = [b for b in program.buffers if b.kind == "temp"]
    phase_of = {id(c.body): c.phase for c in program.calls}
    assert temps
    for buf in temps:
        writers = [c for c in program.calls if any(
            program.values.get((id(c.body), k)) is buf for k in range(len(c.body.outputs)))]
        readers = [c for c in program.calls if buf in c.pointers and c not in writers]
        assert buf.first == min(phase_of[id(c.body)] for c in writers)
        assert buf.last == max(phase_of[id(c.body)] for c in writers + readers)
