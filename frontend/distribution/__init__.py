"""Data-parallel training across the ranks of an MPI run, in Keras 3's `keras.distribution`
shape (docs/distributed.md):

    from frontend import distribution
    distribution.set_distribution(distribution.DataParallel())
    model = ...; model.compile(...); model.fit(x, y, batch_size=256)   # mpiexec -n 4 python ...

Each rank trains on its share of every global batch; gradients are averaged with an MPI
Allreduce between the compiled gradient computation and the compiled update. Without
`mpiexec` the same script runs as one process, unchanged.
"""

from frontend.distribution.data_parallel import (
    DataParallel,
    distribution,
    list_devices,
    set_distribution,
)

__all__ = ["DataParallel", "distribution", "list_devices", "set_distribution"]
