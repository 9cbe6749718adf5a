"""Shared variables' locks (graphc.shared_locks) in a fork()ed child: a lock the parent held
when it forked would be held forever in the child; the child renews them."""

import os
import signal

import numpy as np
import pytest

import graphc as gc


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_a_child_forked_while_a_variable_is_locked_can_update_it(backend):
    W = gc.shared(np.zeros(3, np.float32), name="W")
    x = gc.placeholder((3,), name="x")
    step = gc.function([x], gc.sum(W), updates=[(W, W + x)], backend=backend)
    with step.locks.held():  # as if another parent thread were calling `step`
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)  # a hang ends the child with SIGALRM
            step(np.ones(3, np.float32))
            os._exit(0 if W.get_value().tolist() == [1.0, 1.0, 1.0] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
