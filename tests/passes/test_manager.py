"""The pass manager on its own: stages in order, timed steps, and a deferred stage that is
computed (and timed) only when first read."""

import pytest

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


def test_asking_for_a_deferred_stage_does_not_compute_it():
    run = PipelineRun(stages={"raw": small_graph()})
    run.defer("later", lambda g: 1 / 0)
    assert "later" in run.stages and "missing" not in run.stages


def test_a_deferred_stage_that_fails_raises_again_when_read_again():
    run = PipelineRun(stages={"raw": small_graph()})
    run.defer("later", lambda g: 1 / 0)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            run.stages["later"]
