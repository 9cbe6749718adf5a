"""What `graphc dot`, `graphc compare` and `graphc summary` do, and how they find what the user
names (the argument parsing is in graphc/cli.py; bench, info and cache are in cli_machine.py)."""

from __future__ import annotations

import inspect
import runpy
import sys
import traceback
from pathlib import Path

import numpy as np

import graphc as gc
from graphc import __version__
from graphc.cli_models import model_support
from graphc.compare import compare as run_compare
from graphc.ir import Graph, Node, shape_text
from graphc.viz import to_dot

REPO_ROOT = Path(__file__).resolve().parent.parent


class UsageError(Exception):
    """The command line or an input file is wrong (exit code 2)."""


class CommandError(Exception):
    """The command could not do its work; the message says why (exit code 1)."""


def version() -> str:
    return __version__


# ---- finding what the user means -----------------------------------------------------------


def is_graph_object(obj) -> bool:
    is_function = hasattr(obj, "pipeline") and hasattr(obj, "graph")
    nodes = isinstance(obj, (list, tuple)) and obj and all(isinstance(n, Node) for n in obj)
    return is_function or isinstance(obj, (Graph, Node)) or bool(nodes)


def is_model(obj) -> bool:
    return hasattr(obj, "layers") and hasattr(obj, "summary") and not isinstance(obj, type)


def split_target(spec: str) -> tuple[Path, str | None]:
    """'file.py:name' -> (Path('file.py'), 'name'); 'file.py' -> (Path('file.py'), None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head.endswith(".py") and tail.isidentifier():
        return Path(head), tail
    return Path(spec), None


def run_user_file(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        return runpy.run_path(str(path), run_name="__graphc_target__")
    except Exception as err:  # the user's code failed: one line naming its file:line
        raise CommandError(
            f"running {path} failed at {failing_line(err, path)}: {type(err).__name__}: {err}"
        ) from err
    finally:
        sys.path.remove(folder)  # by value: the file may have changed sys.path itself


def failing_line(err: Exception, path: Path) -> str:
    """'file:line' of the deepest frame of `err` inside the user's file."""
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if Path(f.filename).resolve() == path.resolve()
    ]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


def pick_default(namespace: dict, path: Path):
    found = {
        k: v
        for k, v in namespace.items()
        if not k.startswith("_") and (is_model(v) or hasattr(v, "pipeline"))
    }
    if len(found) == 1:
        return next(iter(found.items()))
    builders = sorted(
        k
        for k, v in namespace.items()
        if callable(v)
        and not k.startswith("_")
        and getattr(v, "__module__", None) == "__graphc_target__"
    )
    candidates = sorted(found) + [k for k in builders if k not in found]
    choice = ""
    if candidates:
        choice = f"; name one, e.g. {path}:{candidates[0]} ({', '.join(candidates)})"
    what = "several" if found else "no"
    raise UsageError(f"{path} defines {what} graphc Functions or models at module level{choice}")


def load_target(spec: str, allow_code: bool = False):
    """(name, object) for FILE.py[:NAME], calling NAME if it is a zero-argument function;
    a saved model file otherwise (`allow_code`: --unsafe-allow-code)."""
    path, name = split_target(spec)
    if path.suffix != ".py":
        return path.stem, load_saved_model(path, allow_code)
    namespace = run_user_file(path)
    if name is None:
        name, obj = pick_default(namespace, path)
    elif name not in namespace:
        raise UsageError(f"{path} has no {name!r}")
    else:
        obj = namespace[name]
    if callable(obj) and not (is_graph_object(obj) or is_model(obj) or isinstance(obj, type)):
        obj = call_builder(obj, f"{path}:{name}")
    if not (is_graph_object(obj) or is_model(obj)):
        raise UsageError(
            f"{path}:{name} is not a graphc Function, Graph, node or model "
            f"(it is of type {type(obj).__name__})"
        )
    return name, obj


def call_builder(builder, label: str):
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    try:
        parameters = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: just try the call
        parameters = []
    needed = [p for p in parameters if p.default is p.empty and p.kind in positional]
    if needed:
        raise UsageError(
            f"{label} needs arguments ({', '.join(p.name for p in needed)}); "
            f"name a function that takes none"
        )
    return builder()


def load_saved_model(path: Path, allow_code: bool = False):
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        support = model_support()
    except ImportError as err:
        raise CommandError(f"cannot load {path}: the frontend is not available ({err})") from None
    try:
        return support.load(str(path), allow_code)
    except support.bad_file_errors as err:  # a bad input file: exit code 2
        raise UsageError(str(err)) from err


# ---- dot -------------------------------------------------------------------------------------


def model_function(model, instead: str):
    """The compiled training step of a frontend model (built by its first fit); `instead`
    says what else the user can do with an unfitted model."""
    fn = getattr(model, "train_function", None)
    if fn is None:
        raise UsageError(
            f"this model has no training step yet (fit builds it): {instead}, or name a "
            f"function in your file that compiles and fits the model"
        )
    return fn


def output_path(output, name: str, all_stages: bool, stage_name: str):
    if output is None:
        return Path(f"{name}-{stage_name}.svg")
    path = Path(output)
    return path.with_name(f"{path.stem}-{stage_name}{path.suffix}") if all_stages else path


def stages_to_draw(fn, args, name: str) -> list:
    """The pipeline stages `graphc dot` draws; [None] for a Graph or nodes, which have none."""
    if hasattr(fn, "pipeline"):
        return list(fn.pipeline.stages) if args.all_stages else [args.stage or "optimized"]
    if args.stage or args.all_stages:
        raise UsageError(
            f"{name} is a {type(fn).__name__}, which has no pipeline stages: leave out "
            f"--stage/--all-stages, or name a gc.function(...)"
        )
    return [None]


def dot(args) -> int:
    name, obj = load_target(args.target, args.unsafe_allow_code)
    if is_model(obj) and args.stage is None and not args.all_stages:
        out = Path(args.output or f"{name}.svg")
        print(model_support().draw(obj, str(out), args.rankdir))
        return 0
    fn = model_function(obj, "leave out --stage to draw its layers") if is_model(obj) else obj
    for stage in stages_to_draw(fn, args, name):
        out = output_path(args.output, name, args.all_stages, stage or "graph")
        diagram = to_dot(
            fn,
            stage=stage or "optimized",
            show_constants=not args.no_constants,
            rankdir=args.rankdir,
        )
        print(diagram.save(out))
    return 0


# ---- compare ---------------------------------------------------------------------------------


def demo_mlp():
    """A 784-64-10 MLP training step (softmax cross-entropy, SGD), compiled with llvm."""
    rng = np.random.default_rng(0)
    x, y = gc.placeholder((None, 784), name="x"), gc.placeholder((None, 10), name="y")
    w1 = gc.shared(rng.normal(0, 0.05, (784, 64)).astype("float32"), name="W1")
    b1 = gc.shared(np.zeros(64, "float32"), name="b1")
    w2 = gc.shared(rng.normal(0, 0.05, (64, 10)).astype("float32"), name="W2")
    b2 = gc.shared(np.zeros(10, "float32"), name="b2")
    logits = gc.relu(x @ w1 + b1) @ w2 + b2
    loss = -gc.mean(gc.sum(y * gc.log_softmax(logits), axis=1))
    params = [w1, b1, w2, b2]
    updates = [(p, p - 0.1 * g) for p, g in zip(params, gc.grad(loss, params))]
    return gc.function([x, y], loss, updates=updates, name="demo_mlp")


DEMOS = {"mlp": demo_mlp}
DEFAULT_BATCH = 32  # run-time dimensions when neither --batch nor --shape says


def parse_shapes(specs: list, fn) -> dict:
    """{input name: shape} from --shape NAME=D1,D2,... options, checked against `fn`'s inputs."""
    names = [p.name for p in fn.inputs]
    shapes = {}
    for spec in specs or ():
        name, sep, dims = spec.partition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",")) if dims.strip() else ()
        except ValueError:
            shape = None
        if not sep or shape is None or any(d < 1 for d in shape):
            raise UsageError(f"--shape {spec!r}: expected NAME=D1,D2,... e.g. x=100,784")
        if name not in names:
            raise UsageError(f"--shape {spec!r}: the function has no input {name!r} ({names})")
        shapes[name] = shape
    return shapes


def input_shape(p, given: dict, batch: int) -> tuple:
    """The shape of the random array for input `p`: --shape's if given, else its own
    with each run-time (None) dimension `batch`."""
    shape = given.get(p.name) or tuple(batch if d is None else d for d in p.shape)
    if len(shape) != len(p.shape) or any(d not in (None, s) for d, s in zip(p.shape, shape)):
        dims = ",".join(map(str, shape))
        raise UsageError(f"--shape {p.name}={dims}: input {p.name} has shape {shape_text(p.shape)}")
    return shape


def random_inputs(fn, batch: int, seed: int, given: dict | None = None) -> list:
    """One random array per input, of the --shape `given` or with each run-time (None)
    dimension `batch`."""
    rng = np.random.default_rng(seed)
    arrays = []
    for p in fn.inputs:
        shape = input_shape(p, given or {}, batch)
        if p.dtype.startswith("float"):
            arrays.append(rng.standard_normal(shape).astype(p.dtype))
        elif p.dtype == "bool":
            arrays.append(rng.random(shape) < 0.5)
        else:  # small integers stay valid as indices and class labels
            arrays.append(rng.integers(0, 2, shape).astype(p.dtype))
    return arrays


def function_to_compare(label: str, obj):
    if is_model(obj):
        return model_function(obj, "graphc compare runs a model's training step")
    if hasattr(obj, "pipeline"):
        return obj
    raise UsageError(
        f"{label} is a {type(obj).__name__}; graphc compare needs a Function "
        f"(gc.function(...)) or a trained model"
    )


def compare(args) -> int:
    if (args.target is None) == (args.demo is None):
        raise UsageError("give either FILE.py[:NAME] or --demo NAME")
    if args.demo:
        fn = DEMOS[args.demo]()
    else:
        fn = function_to_compare(args.target, load_target(args.target)[1])
    given = parse_shapes(args.shape, fn)
    batch = args.batch or next((s[0] for s in given.values() if s), DEFAULT_BATCH)
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    try:
        report = run_compare(fn, *random_inputs(fn, batch, args.seed, given))
    except ValueError as err:  # random inputs that do not fit the function's shapes
        shapes = ", ".join(f"{p.name or 'input'} {shape_text(p.shape)}" for p in fn.inputs)
        raise CommandError(
            f"random inputs ({shapes}; each ? = --batch {batch}) do not "
            f"fit: {err}. Give the inputs' shapes, e.g. --shape {fn.inputs[0].name}=100,784"
        ) from err
    print(report.table())
    if args.dot:
        llvm_fn = fn if "fused" in fn.stages else None
        if llvm_fn is None:
            raise CommandError(
                "--dot draws the llvm backend's fused stage: compile the "
                "function with backend='llvm'"
            )
        print(to_dot(llvm_fn, stage="fused", report=report, collapse_kernels=True).save(args.dot))
    if not report.ok():
        bad = sum(a.mismatches > 0 for a in report.outputs + report.updates + report.kernels)
        raise CommandError(
            f"{bad} values differ beyond tolerance between the interpreter and "
            f"the compiled code (worst relative error {report.worst:.2e})"
        )
    return 0


# ---- summary ---------------------------------------------------------------------------------


def summary(args) -> int:
    model = load_saved_model(Path(args.model), args.unsafe_allow_code)
    model.summary()
    return 0
