"""What fit, evaluate and train_on_batch do differently under DataParallel: the same weights
and shuffling on every rank, each rank's shard of a batch, gradients averaged over the global
batch, metrics combined from their summed states, and only rank 0 printing."""

from __future__ import annotations

import contextlib
import math
import os

import graphc as gc
from frontend import seeding
from frontend.distribution.data_parallel import active_world, distribution, is_chief
from frontend.models.data import DataError
from graphc.ir import user_site


def averaged_gradients(grads: list, batch) -> list:
    """The gradients of the global batch's loss: each rank's weighted by its share of the
    samples (shards of a last partial batch may differ by one), as graph nodes; reduced in
    the distribution's gradient buckets, the last layers' first."""
    if active_world() is None:
        return list(grads)
    samples = gc.allreduce(batch, op="sum")
    bucket_of = gradient_buckets([g.shape for g in grads], distribution().gradient_buckets)
    return [gc.allreduce(g * gc.cast(batch, g.dtype), op="sum", bucket=b)
            / gc.cast(samples, g.dtype) for g, b in zip(grads, bucket_of)]


def gradient_buckets(shapes: list, count: int) -> list:
    """A bucket per gradient: sizes counted from the last gradient back, cut into `count`
    buckets of about equal size (bucket 0: the last layers', computed first)."""
    sizes = [math.prod(shape) for shape in shapes]
    total, behind, out = max(sum(sizes), 1), 0, []
    for size in reversed(sizes):
        out.append(min(count - 1, (2 * behind + size) * count // (2 * total)))  # its middle
        behind += size
    return out[::-1]


def layer_signature(model) -> list:
    """[(layer name, [(weight name, shape)])] of the model, to compare across ranks."""
    return [(layer.name, [(w.name, tuple(w.get_value().shape)) for w in layer.weights])
            for layer in model.layers]


def check_same_model(model, world) -> None:
    """Every rank's model must have rank 0's layers and weight shapes."""
    signatures = world.allgather(layer_signature(model))
    reference = signatures[0]
    for rank, signature in enumerate(signatures[1:], start=1):
        for position in range(max(len(reference), len(signature))):
            mine = signature[position] if position < len(signature) else ("(none)", [])
            ours = reference[position] if position < len(reference) else ("(none)", [])
            if mine != ours:
                raise ValueError(
                    f"DataParallel: rank {rank} built a different model than rank 0: layer "
                    f"{position} is {described(mine)} on rank {rank} but {described(ours)} on "
                    f"rank 0; every rank must run the same model definition (at {user_site()})"
                )


def described(layer: tuple) -> str:
    name, weights = layer
    shapes = ", ".join(f"{weight} {shape}" for weight, shape in weights) or "none"
    return f"'{name}' (weights: {shapes})"


def synchronize(model, once: bool = False) -> None:
    """Before training: check the ranks' models agree, then give every rank rank 0's weights
    and shuffling state (so all ranks draw the same batches). `once`: unless done before
    (train_on_batch: at the first call)."""
    world = active_world()
    if world is None or (once and getattr(model, "_ranks_synchronized", False)):
        return
    check_same_model(model, world)
    model._ranks_synchronized = True
    weights = model.weights
    for var, value in zip(weights, world.broadcast([w.get_value() for w in weights])):
        var.set_value(value)
    generator = seeding.rng().bit_generator
    generator.state = world.allgather(generator.state)[0]


def shard(arrays: list, method: str) -> list:
    """This rank's consecutive share of one global batch (all of it on one process); shares
    differ by at most one sample when the batch does not divide (averaged_gradients weighs
    each rank by its share, so the update is the global batch's exactly)."""
    world = active_world()
    if world is None or not arrays:
        return arrays
    n = len(arrays[0])
    if n < world.size:
        raise DataError(
            f"{method}: a batch of {n} samples cannot be shared by {world.size} ranks (the "
            f"last batch of the data?); make the number of samples leave at least "
            f"{world.size} in the last batch, or set steps_per_epoch (at {user_site()})"
        )
    start, stop = n * world.rank // world.size, n * (world.rank + 1) // world.size
    seeding.set_first_row(start)  # dropout masks: this shard's rows of the global batch's
    return [a[start:stop] for a in arrays]


def shard_prepared(prepared: tuple, method: str) -> tuple:
    """(xs, ys, sample weights) of one prepared batch, each list sharded."""
    xs, ys, sws = prepared
    flat = shard(list(xs) + list(ys) + list(sws), method)
    return flat[: len(xs)], flat[len(xs) : len(xs) + len(ys)], flat[len(xs) + len(ys) :]


def combined_results(metrics: list) -> dict:
    """{name: result} of `metrics` over every rank's samples: the metrics' states (totals and
    counts) are summed across ranks, then each result is computed from the sums."""
    world = active_world()
    if world is None:
        return {m.name: m.result() for m in metrics}
    variables = [v for m in metrics for v in m.variables]
    local = [v.get_value() for v in variables]
    for var, total in zip(variables, world.allreduce(local, "sum")):
        var.set_value(total.astype(var.dtype))
    try:
        return {m.name: m.result() for m in metrics}
    finally:
        for var, value in zip(variables, local):
            var.set_value(value)


@contextlib.contextmanager
def chief_output():
    """A context in which ranks other than 0 print nothing (their stdout is discarded)."""
    if is_chief():
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def refuse_custom_step(model) -> None:
    world = active_world()
    if world is not None:
        raise NotImplementedError(
            f"Model '{model.name}': DataParallel averages the gradients of the built-in "
            f"train_step; a custom train_step/compute_loss is not distributed yet. Average "
            f"your gradients with gc.allreduce (at {user_site()})"
        )


