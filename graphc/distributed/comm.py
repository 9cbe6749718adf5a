"""The ranks of an MPI run, as graphc talks to them: a single process (no `mpiexec`: every
collective is the identity) or the MPI world through mpi4py, imported only when the process
was started by a launcher, so importing graphc never needs mpi4py.

Every collective is non-blocking underneath and waited for with a deadline
(`set_collective_timeout`, or the environment variable GRAPHC_COLLECTIVE_TIMEOUT in
seconds): a rank that stalls or dies makes the others fail with CollectiveTimeout, naming the
collective, instead of hanging. After a timeout the process aborts the MPI job at exit (a
normal MPI finalize would wait for the missing rank forever).
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import sys
import time

import numpy as np

# what MPI launchers (MPICH/Intel hydra, Open MPI, PMIx) put in each rank's environment
LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
DEFAULT_TIMEOUT = 600.0
_STATE: dict = {}


class CollectiveTimeout(RuntimeError):
    """A collective did not complete in time: another rank stalled or died."""


def launched_size() -> int:
    """The number of ranks the launcher started (1 without a launcher)."""
    for name in LAUNCHER_SIZE_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def collective_timeout() -> float:
    if "timeout" in _STATE:
        return _STATE["timeout"]
    return float(os.environ.get("GRAPHC_COLLECTIVE_TIMEOUT", DEFAULT_TIMEOUT))


def set_collective_timeout(seconds: float) -> None:
    """How long a collective waits for the other ranks before raising CollectiveTimeout."""
    if not seconds > 0:
        raise ValueError(f"set_collective_timeout: seconds must be positive, got {seconds!r}")
    _STATE["timeout"] = float(seconds)


def world():
    """This process's communicator: MPIWorld under a launcher with 2+ ranks, else SingleProcess."""
    if "world" not in _STATE:
        _STATE["world"] = MPIWorld() if launched_size() > 1 else SingleProcess()
    return _STATE["world"]


class SingleProcess:
    """One rank: collectives return their inputs."""

    rank, size = 0, 1

    def allreduce(self, arrays: list, op: str = "sum") -> list:
        return [np.array(a, copy=True) for a in arrays]

    def start_allreduce(self, arrays: list, op: str = "sum"):
        return Done(self.allreduce(arrays, op))

    def broadcast(self, arrays: list) -> list:
        return [np.array(a, copy=True) for a in arrays]

    def allgather(self, obj) -> list:
        return [obj]


class Done:
    """A collective that has completed already."""

    def __init__(self, result):
        self.result = result

    def wait(self):
        return self.result


class MPIWorld:
    """MPI.COMM_WORLD through mpi4py; arrays of one dtype travel as one packed buffer."""

    def __init__(self):
        try:
            self.MPI = importlib.import_module("mpi4py.MPI")
        except ImportError as err:
            raise ImportError(
                f"graphc was started by an MPI launcher ({launched_size()} ranks) but mpi4py "
                f"cannot be imported ({err}); install the extra: pip install 'graphc[mpi]'"
            ) from None
        self.comm = self.MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timed_out = False
        atexit.register(self.abort_if_timed_out)  # runs before mpi4py's own finalize

    def abort_if_timed_out(self) -> None:
        if self.timed_out:
            sys.stderr.flush()
            self.comm.Abort(1)

    def wait(self, request, what: str) -> None:
        """Wait for `request`, polling (a blocking wait cannot time out)."""
        deadline = time.monotonic() + collective_timeout()
        pause = 0.0
        while not request.Test():
            if time.monotonic() > deadline:
                self.timed_out = True
                message = (
                    f"graphc.distributed: rank {self.rank} of {self.size}: {what} did not "
                    f"complete within {collective_timeout():g} s; another rank has stalled or "
                    f"died (set GRAPHC_COLLECTIVE_TIMEOUT to wait longer)"
                )
                print(message, file=sys.stderr, flush=True)
                raise CollectiveTimeout(message)
            time.sleep(pause)
            pause = min(0.001, pause + 0.00002)  # spin first: most reductions take < 1 ms

    def start_allreduce(self, arrays: list, op: str = "sum"):
        """Start summing `arrays` over the ranks; `.wait()` gives the sums (means for 'mean')."""
        packed = Packed(arrays)
        result = [np.empty_like(buffer) for buffer in packed.buffers]
        requests = [
            self.comm.Iallreduce(buffer, out, op=self.MPI.SUM)
            for buffer, out in zip(packed.buffers, result)
        ]
        return PendingReduction(self, requests, packed, result, self.size if op == "mean" else 1)

    def allreduce(self, arrays: list, op: str = "sum") -> list:
        return self.start_allreduce(arrays, op).wait()

    def broadcast(self, arrays: list) -> list:
        """Rank 0's `arrays` on every rank."""
        packed = Packed(arrays)
        for buffer in packed.buffers:
            self.wait(self.comm.Ibcast(buffer, root=0), "a broadcast from rank 0")
        return packed.unpack(packed.buffers)

    def allgather(self, obj) -> list:
        """Every rank's `obj` (picklable), in rank order."""
        data = np.frombuffer(pickle.dumps(obj), np.uint8)
        sizes = np.zeros(self.size, np.int64)
        self.wait(self.comm.Iallgather(np.array([data.size], np.int64), sizes), "an allgather")
        gathered = np.empty(int(sizes.sum()), np.uint8)
        request = self.comm.Iallgatherv(data, [gathered, sizes.tolist()])
        self.wait(request, "an allgather")
        edges = np.concatenate([[0], np.cumsum(sizes)])
        return [pickle.loads(gathered[a:b].tobytes()) for a, b in zip(edges[:-1], edges[1:])]


class PendingReduction:
    """An allreduce under way: its requests, packing and the divisor of a mean."""

    def __init__(self, world, requests, packed, result, divisor):
        self.world, self.requests, self.packed = world, requests, packed
        self.result, self.divisor = result, divisor

    def wait(self) -> list:
        for request in self.requests:
            self.world.wait(request, "an allreduce")
        if self.divisor != 1:
            for buffer in self.result:
                buffer /= self.divisor
        return self.packed.unpack(self.result)


class Packed:
    """Arrays concatenated into one contiguous buffer per dtype (one message each)."""

    def __init__(self, arrays: list):
        arrays = [np.asarray(a) for a in arrays]
        self.dtypes = sorted({a.dtype.str for a in arrays})
        self.shapes = [(a.dtype.str, a.shape) for a in arrays]
        self.buffers = [
            np.concatenate([a.ravel() for a in arrays if a.dtype.str == d]) for d in self.dtypes
        ]

    def unpack(self, buffers: list) -> list:
        offsets = dict.fromkeys(self.dtypes, 0)
        by_dtype = dict(zip(self.dtypes, buffers))
        out = []
        for dtype, shape in self.shapes:
            size = int(np.prod(shape, dtype=np.int64))
            start = offsets[dtype]
            out.append(by_dtype[dtype][start : start + size].reshape(shape).copy())
            offsets[dtype] = start + size
        return out
