"""Data-parallel graphc across the ranks of an MPI run (docs/distributed.md): the
communicator (comm.py: mpi4py, imported only under an MPI launcher), the split of a program at
its gc.allreduce nodes into compiled phases (split.py) and the function that runs them
(phased.py)."""
