"""`graphc bench`, `graphc info` and `graphc cache`: timing, the machine, the compile cache."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import graphc as gc
from graphc.cli_commands import REPO_ROOT, CommandError, UsageError, version
from graphc.files import graphc_home

# ---- bench -----------------------------------------------------------------------------------


def mlp_training_step(backend: str):
    """784-500-500-10 relu MLP, softmax cross-entropy, SGD: the tutorial's model."""
    rng = np.random.default_rng(0)
    x, y = gc.placeholder((None, 784), name="x"), gc.placeholder((None, 10), name="y")
    params, h = [], x
    for i, (n_in, n_out) in enumerate([(784, 500), (500, 500), (500, 10)]):
        w = gc.shared(
            rng.normal(0, (2 / n_in) ** 0.5, (n_in, n_out)).astype("float32"), name=f"W{i}"
        )
        b = gc.shared(np.zeros(n_out, "float32"), name=f"b{i}")
        params += [w, b]
        h = h @ w + b if i == 2 else gc.relu(h @ w + b)
    loss = -gc.mean(gc.sum(y * gc.log_softmax(h), axis=1))
    updates = [(p, p - 0.01 * g) for p, g in zip(params, gc.grad(loss, params))]
    return gc.function([x, y], loss, updates=updates, backend=backend)


def time_backend(backend: str, steps: int) -> tuple[float, float]:
    """(compile seconds, milliseconds per step) on batch 100."""
    rng = np.random.default_rng(1)
    xb = rng.random((100, 784), dtype=np.float32)
    yb = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]
    start = time.perf_counter()
    step = mlp_training_step(backend)
    compiled = time.perf_counter() - start
    step(xb, yb)  # warm up
    start = time.perf_counter()
    for _ in range(steps):
        step(xb, yb)
    return compiled, (time.perf_counter() - start) / steps * 1e3


def bench(args) -> int:
    if args.scripts:
        return run_bench_scripts(args.names)
    if args.names:
        raise UsageError("script names need --scripts")
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    print(f"MLP 784-500-500-10 training step, batch 100, {args.steps} steps")
    print(f"{'backend':<8} {'compile s':>10} {'ms/step':>10}")
    backends = args.backend or ["numpy", "llvm"]
    failed = 0
    for backend in backends:
        try:
            compiled, ms = time_backend(backend, args.steps)
        except NotImplementedError as err:
            print(f"{backend:<8} unavailable: {err}")
            failed += 1
            continue
        print(f"{backend:<8} {compiled:>10.2f} {ms:>10.2f}")
    return 1 if failed == len(backends) else 0  # one backend timed is a useful answer


def run_bench_scripts(names) -> int:
    folder = REPO_ROOT / "bench"
    scripts = sorted(folder.glob("*.py")) if folder.is_dir() else []
    if names:
        by_name = {p.stem: p for p in scripts}
        missing = [n for n in names if Path(n).stem not in by_name]
        if missing:
            raise UsageError(
                f"no bench script {', '.join(missing)} in {folder} "
                f"(there are: {', '.join(by_name) or 'none'})"
            )
        scripts = [by_name[Path(n).stem] for n in names]
    if not scripts:
        raise UsageError(f"no benchmark scripts in {folder}")
    failures = 0
    for script in scripts:
        print(f"== {script.relative_to(REPO_ROOT)}", flush=True)
        failures += subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT).returncode != 0
    return 1 if failures else 0


# ---- info and cache --------------------------------------------------------------------------


def row(label: str, value) -> None:
    print(f"{label:<15}{value}")


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # no /proc (macOS, Windows): platform's less precise name below
        pass
    return platform.processor() or platform.machine()


def llvm_modules():
    """(jit, cache, threads, versions) modules of the llvm backend, or why they cannot load."""
    try:
        names = ("jit", "cache", "threads", "versions")
        return [importlib.import_module(f"graphc.backends.llvm.{n}") for n in names], None
    except Exception as err:  # any import failure: report it, keep printing the rest
        return None, f"{type(err).__name__}: {err}"


def size_text(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


def info_arguments(p) -> None:
    p.add_argument("--peak", action="store_true",
                   help="print only the machine's float32 peak and memory bandwidth per cache "
                        "level (measured once, then cached)")
    p.add_argument("--remeasure", action="store_true",
                   help="with --peak: time the FMA and bandwidth loops again and update the cache")


def info(args) -> int:
    if getattr(args, "remeasure", False) and not args.peak:
        raise UsageError("--remeasure goes with --peak (graphc info --peak --remeasure)")
    if getattr(args, "peak", False):
        return print_peak(args.remeasure)
    row("graphc", f"{version()} ({Path(__file__).resolve().parent})")
    row("python", f"{platform.python_version()} ({sys.executable})")
    row("numpy", np.__version__)
    row("cpu", cpu_model_name())
    modules, problem = llvm_modules()
    if modules is None:
        row("llvm backend", f"unavailable ({problem})")
        row("threads", f"{os.cpu_count()} CPUs")
    else:
        print_llvm_info(*modules)
    row("datasets", graphc_home() / "datasets")
    dot_path = shutil.which("dot")
    dot_version = (
        subprocess.run([dot_path, "-V"], capture_output=True, text=True).stderr.strip()
        if dot_path
        else "not installed: diagrams are written as .dot text"
    )
    row("graphviz", dot_version)
    return 0


def print_llvm_info(jit, cache, threads, versions) -> None:
    cpu, features = jit.host_cpu()
    enabled = sorted(f[1:] for f in features.split(",") if f.startswith("+"))
    avx512 = [f for f in enabled if f.startswith("avx512")]
    wide = f"yes ({len(avx512)} extensions)" if avx512 else "no"
    row("llvm cpu", f"{cpu} (LLVM's name); {len(enabled)} features; AVX-512: {wide}")
    indent = " " * 15
    wrapped = textwrap.wrap(", ".join(enabled), 99, initial_indent=indent, subsequent_indent=indent)
    row("cpu features", "\n".join(wrapped)[len(indent) :])
    row(
        "threads",
        f"{threads.num_threads()} (GRAPHC_NUM_THREADS="
        f"{os.environ.get('GRAPHC_NUM_THREADS', 'unset')}; {os.cpu_count()} CPUs)",
    )
    row("llvmlite", versions.llvmlite_version())
    row("peak", importlib.import_module("graphc.backends.llvm.peak").describe_peak())
    row("bf16 GEMM", importlib.import_module("graphc.backends.llvm.gemm_bf16").describe_path())
    row("int8 GEMM", importlib.import_module("graphc.backends.llvm.gemm_int8_path").describe_path())
    files, nbytes = cache.cache_size()
    state = "on" if cache.enabled() else "off (GRAPHC_CACHE=0)"
    row("compile cache", f"{cache.cache_dir()}: {files} entries, {size_text(nbytes)}; {state}")


def print_peak(remeasure: bool) -> int:
    modules, problem = llvm_modules()
    if modules is None:
        raise CommandError(f"the peak is measured with the llvm backend, which is not "
                           f"available ({problem})")
    row("peak", importlib.import_module("graphc.backends.llvm.peak").describe_peak(remeasure))
    bandwidth = importlib.import_module("graphc.backends.llvm.bandwidth")
    row("bandwidth", "\n".join(" " * 15 * bool(i) + line for i, line in
                                enumerate(bandwidth.describe_bandwidth(remeasure))))
    return 0


def cache_module():
    modules, problem = llvm_modules()
    if modules is None:
        raise CommandError(f"the llvm backend's cache is not available ({problem})")
    return modules[1]


def cache_info(args) -> int:
    cache = cache_module()
    files, nbytes = cache.cache_size()
    print(f"{cache.cache_dir()}: {files} entries, {size_text(nbytes)}")
    return 0


def cache_clear(args) -> int:
    cache = cache_module()
    removed = cache.clear_cache()
    print(f"removed {removed} entries from {cache.cache_dir()}")
    return 0


def cache_prebuild(args) -> int:
    cache = cache_module()
    if not cache.enabled():
        raise CommandError("the compile cache is off (GRAPHC_CACHE=0): nothing to prebuild into")
    library = importlib.import_module("graphc.backends.llvm.gemm_library")
    start = time.perf_counter()
    built, cached = library.prebuild()
    print(f"GEMM library in {cache.cache_dir()}: compiled {len(built)} variants, "
          f"{len(cached)} already cached ({time.perf_counter() - start:.1f} s)")
    return 0
