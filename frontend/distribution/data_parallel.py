"""DataParallel and the process-wide distribution setting (Keras 3's names)."""

from __future__ import annotations

from graphc.distributed.comm import world
from graphc.ir import user_site

_STATE: dict = {"distribution": None}


def list_devices(device_type=None) -> list[str]:
    """The devices data-parallel training runs on: one 'cpu:<rank>' per MPI rank (one
    'cpu:0' without mpiexec); a rank runs its compiled steps on all its threads."""
    if device_type not in (None, "cpu", "CPU"):
        raise ValueError(
            f"list_devices: graphc runs on CPUs only. Received: device_type={device_type!r} "
            f"(at {user_site()})"
        )
    return [f"cpu:{rank}" for rank in range(world().size)]


class DataParallel:
    """Every rank holds the whole model and trains on its share of each global batch; the
    gradients are averaged across ranks before every update (as keras.distribution).

    Args:
        devices: the devices of list_devices() (default: all of them); graphc distributes
            over MPI ranks, so only the full list is accepted.
        device_mesh: accepted for Keras code only as None (a 1-D mesh over the ranks).
        auto_shard_dataset: True: each rank takes its shard of every batch fit reads.
        gradient_buckets: graphc's own option: the gradients are reduced in this many
            buckets, the last layers' first, each reduction under way while the earlier
            layers' gradients are computed (docs/distributed.md measures what it saves).
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True, *,
                 gradient_buckets=1):
        all_devices = list_devices()
        if device_mesh is not None:
            raise ValueError(
                f"DataParallel: graphc builds the 1-D mesh over the MPI ranks itself; pass "
                f"devices= or nothing. Received: device_mesh={device_mesh!r} (at {user_site()})"
            )
        if devices is not None and list(devices) != all_devices:
            raise ValueError(
                f"DataParallel: devices must be all MPI ranks {all_devices} (start more or fewer "
                f"ranks with mpiexec -n). Received: devices={list(devices)} (at {user_site()})"
            )
        if auto_shard_dataset is not True:
            raise ValueError(
                f"DataParallel: graphc shards every batch itself; auto_shard_dataset must be "
                f"True. Received: {auto_shard_dataset!r} (at {user_site()})"
            )
        if not isinstance(gradient_buckets, int) or gradient_buckets < 1:
            raise ValueError(
                f"DataParallel: gradient_buckets must be a positive integer. Received: "
                f"gradient_buckets={gradient_buckets!r} (at {user_site()})"
            )
        self.devices, self.gradient_buckets = all_devices, gradient_buckets
        self.world = world()

    @property
    def num_processes(self) -> int:
        return self.world.size

    @property
    def process_id(self) -> int:
        return self.world.rank

    def __repr__(self):
        return f"DataParallel(devices={self.devices})"


def set_distribution(value) -> None:
    """Use `value` (a DataParallel, or None for one process) for the models trained after."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            f"set_distribution expects a DataParallel or None. Received: {value!r} "
            f"(at {user_site()})"
        )
    _STATE["distribution"] = value


def distribution():
    """The distribution set by set_distribution (None: one process)."""
    return _STATE["distribution"]


def is_chief() -> bool:
    """Whether this process prints and writes files: rank 0, or the only process."""
    world = active_world()
    return world is None or world.rank == 0


def active_world():
    """The communicator fit shares work over: None without a distribution or with one rank."""
    current = _STATE["distribution"]
    return current.world if current is not None and current.world.size > 1 else None
