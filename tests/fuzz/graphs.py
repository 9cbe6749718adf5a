"""Random graphs for the backend fuzzer as recipes: plain tuples that hypothesis draws, that
print as the Python code building the graph (the reproducer), and that a worker process
rebuilds from their repr.

A recipe is (seed, specials, steps); each step makes one value, numbered from 0:
    ("input", static shape (None = a run-time size), run-time shape, dtype)
    ("call", name of a graphc function, argument value numbers, keyword arguments)
    ("index", value number, index items: ("int", i) | ("slice", start, stop, step))
An argument that is a tuple of numbers is a list of values (concatenate). Input k is fed
input_array(its run-time shape, its dtype, seed + k, specials). The function's outputs are
every value no other step reads, then the gradient of the sum of the first float one with
respect to every float input.
"""

from __future__ import annotations

import warnings

import numpy as np

import graphc as gc

SPECIAL_VALUES = (np.nan, np.inf, -np.inf, -0.0)


def python_index(items) -> tuple:
    return tuple(i[1] if i[0] == "int" else slice(*i[1:]) for i in items)


def make_node(step, values):
    """The node of one step, given the nodes of the values before it."""
    if step[0] == "input":
        return gc.placeholder(step[1], step[3])
    if step[0] == "index":
        return values[step[1]][python_index(step[2])]
    _, name, args, kwargs = step
    resolved = [[values[j] for j in a] if isinstance(a, tuple) else values[a] for a in args]
    return getattr(gc, name)(*resolved, **dict(kwargs))


def input_array(shape, dtype, seed, specials) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-5, 6, shape).astype(dtype)
    values = rng.standard_normal(shape) * rng.choice([0.5, 1.0, 3.0])
    if specials:
        values = np.where(rng.random(shape) < 0.2, rng.choice(SPECIAL_VALUES, shape), values)
    return np.asarray(values, dtype)


def build(recipe):
    """(placeholders, outputs, input arrays) of a recipe."""
    seed, specials, steps = recipe
    values, placeholders, arrays = [], [], []
    for k, step in enumerate(steps):
        values.append(make_node(step, values))
        if step[0] == "input":
            placeholders.append(values[-1])
            arrays.append(input_array(step[2], step[3], seed + k, specials))
    return placeholders, outputs_of(steps, values, placeholders), arrays


def read_values(steps) -> set:
    read = set()
    for step in steps:
        if step[0] == "index":
            read.add(step[1])
        elif step[0] == "call":
            read.update(j for a in step[2] for j in (a if isinstance(a, tuple) else (a,)))
    return read


def outputs_of(steps, values, placeholders) -> list:
    read = read_values(steps)
    sinks = [v for k, v in enumerate(values) if k not in read and steps[k][0] != "input"]
    floats = [v for v in sinks if v.dtype.startswith("float")]
    wrt = [p for p in placeholders if p.dtype.startswith("float")]
    if not floats or not wrt:
        return sinks
    return sinks + list(gc.grad(gc.sum(floats[0]), wrt, disconnected="zeros"))


def to_python(recipe) -> str:
    """The recipe as the code that builds it: a reproducer to paste."""
    seed, specials, steps = recipe
    lines = [f"# input k is fed tests.fuzz.graphs.input_array(shape, dtype, {seed} + k, "
             f"{specials})"]
    for k, step in enumerate(steps):
        if step[0] == "input":
            lines.append(f"v{k} = gc.placeholder({step[1]}, {step[3]!r})  # fed {step[2]}")
        elif step[0] == "index":
            lines.append(f"v{k} = v{step[1]}[{python_index(step[2])}]")
        else:
            names = [f"[{', '.join(f'v{j}' for j in a)}]" if isinstance(a, tuple) else f"v{a}"
                     for a in step[2]]
            kwargs = "".join(f", {key}={value!r}" for key, value in step[3])
            lines.append(f"v{k} = gc.{step[1]}({', '.join(names)}{kwargs})")
    return "\n".join(lines)


# ---- both backends on one recipe --------------------------------------------------------------

# llvm refuses run-time sizes that meet in an op unless equal when the size 1 that broadcasts
# is computed in the graph (a size of 1 of an input gets a program of its own: graphc/size_one)
KNOWN_REFUSAL = "the llvm backend needs run-time (None) sizes that meet in an op to be equal"
TOLERANCE = {"float32": 2e-3, "float64": 1e-9}  # relative, of the output's largest finite value


def mismatch(recipe) -> str | None:
    """None when the llvm backend agrees with the interpreter on the recipe's graph (or both
    refuse it), else what differs."""
    placeholders, outputs, arrays = build(recipe)
    try:
        with warnings.catch_warnings():  # the mean of nothing is NaN, as NumPy warns
            warnings.simplefilter("ignore", RuntimeWarning)
            wants = gc.function(placeholders, outputs, backend="numpy")(*arrays)
    except (gc.ShapeError, gc.DtypeError, IndexError, ValueError):
        return None  # the interpreter refuses it: not a graph to compare
    try:
        gots = gc.function(placeholders, outputs, backend="llvm")(*arrays)
    except gc.ShapeError as err:
        if KNOWN_REFUSAL in str(err):  # fuzz finding B of issue 10: a clear error, not a crash
            return None
        raise
    for k, (got, want) in enumerate(zip(gots, wants)):
        problem = differs(np.asarray(got), np.asarray(want))
        if problem:
            return f"output {k} ({outputs[k].op}): {problem}"
    return None


def problem_of(recipe) -> str | None:
    """mismatch(recipe), with a crash of the compiler or the compiled code as the problem."""
    try:
        return mismatch(recipe)
    except Exception as err:  # noqa: BLE001 - any crash is the finding to report
        return f"{type(err).__name__}: {err}"


def differs(got, want) -> str | None:
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"got {got.shape} {got.dtype}, want {want.shape} {want.dtype}"
    if want.dtype.kind != "f":
        return None if np.array_equal(got, want) else f"got {got}, want {want}"
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return f"NaN at other places: got {got}, want {want}"
    finite = np.isfinite(want)
    if not np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]):
        return f"infinities differ: got {got}, want {want}"
    scale = float(np.max(np.abs(want[finite]), initial=0.0))
    error = float(np.max(np.abs(got[finite] - want[finite]), initial=0.0))
    if error > TOLERANCE[str(want.dtype)] * max(scale, 1e-3):
        return f"max error {error:.3g} of scale {scale:.3g}: got {got}, want {want}"
    return None
