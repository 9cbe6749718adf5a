"""The pass manager on its own: stages in order, timed steps, and a deferred stage that is
computed (and timed) only when first read."""

import graphc as gc
from graphc.ir import Graph
from passes.manager import PipelineRun, run_pipeline


def small_graph():
    x = gc.placeholder((3,), name="x")
    return Graph((x,), (gc.exp(x) * 2.0,), ())


def test_stages_keep_every_graph_in_pipeline_order_with_their_times():
    run = run_pipeline(small_graph())
    assert list(run.stages) == ["raw", "grad", "optimized"]
    assert set(run.seconds) == {"grad", "optimized"} and run.last is run.stages["optimized"]


def test_measure_times_a_step_that_is_not_a_graph_stage():
    run = PipelineRun(stages={"raw": small_graph()})
    assert run.measure("count", len, [1, 2, 3]) == 3
    assert "count" in run.seconds and list(run.stages) == ["raw"]


def test_a_deferred_stage_runs_once_when_first_read():
    graph, calls = small_graph(), []

    def step(g):
        calls.append(g)
        return g

    run = PipelineRun(stages={"raw": graph})
    run.defer("later", step)
    assert list(run.stages) == ["raw", "later"] and not calls and "later" not in run.seconds
    assert run.stages["later"] is graph and run.stages["later"] is graph
    assert calls == [graph] and "later" in run.seconds
