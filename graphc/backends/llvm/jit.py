"""LLVM IR text -> native code in this process (llvmlite MCJIT), with an on-disk object cache.

Public API:
  host_target_machine() -> llvmlite.binding.TargetMachine   (cached; host CPU and features)
  host_cpu() -> (cpu_name, feature_string)                     (what the machine was built for)
  compile_ir(ir_text, name, debug=None, speed_level=3) -> CompiledModule
  assembly_of(ir_text, name, speed_level=3) -> str            (what compile_ir makes, to read)
  options_tag(speed_level) -> str                              (cache-key tag of the settings)
  CompiledModule.address(symbol) -> int, .name, .seconds, .from_cache, .optimized_ir (or None)
  debug_level(debug=None) -> int                               (explicit value, else GRAPHC_DEBUG)

Pipeline of `compile_ir`: parse -> verify -> new pass manager at O3 (loop and SLP vectorization,
unrolling, interleaving; `speed_level` picks O0-O3, 0 skipping the IR pipeline) -> `emit_object`
(the code generator always runs at O3) -> load the object into a fresh MCJIT engine. The object
bytes go to the disk cache (cache.py); a later compile of the same IR on the same host/toolchain
skips everything but the load (~ms). The engine lives as long as its CompiledModule.

Visibility (`debug=` argument, else the GRAPHC_DEBUG environment variable):
  1  print one line per module to stderr: name, cached or compiled, milliseconds
  2  also dump the optimized LLVM IR   (such a compile bypasses the cache read to have the IR)
  3  also dump the assembly
Dumps go to $GRAPHC_DEBUG_DIR/<name>.ll and <name>.s when that variable is set, else to stderr.

Modules that call the thread-pool runtime (`graphc_barrier`, `graphc_parallel_run`) get it
registered before they are linked (see threads.py). That is all this module adds to mcjit.py,
which does the work and which threads.py uses to compile the runtime itself.
"""

from __future__ import annotations

import re

from graphc.backends.llvm import threads
from graphc.backends.llvm.mcjit import (  # noqa: F401 (jit's public API)
    CompiledModule,
    assembly_of,
    compile_module,
    debug_level,
    host_cpu,
    host_target_machine,
    options_tag,
)

# A module that *declares* a runtime function needs the runtime registered before it is linked.
_RUNTIME_REFERENCE = re.compile(r'^declare [^\n]*@"?graphc_(barrier|parallel_run)"?\(', re.M)


def compile_ir(ir_text: str, name: str, debug: int | None = None,
               speed_level: int = 3, parts: list | None = None) -> CompiledModule:
    """Compile LLVM IR text to native code (or load it from the disk cache).

    Args:
      ir_text: a complete LLVM module in textual form (triple/datalayout are set to the host's).
      name: a human name used in debug output and dump file names.
      debug: 0-3, overrides GRAPHC_DEBUG (see the module docstring).
      speed_level: 0-3, the IR optimization pipeline (O3 by default). 0 runs none: for IR that
        is already vectorized and blocked by hand (the GEMM library), where O3 costs ~2/3 of
        the compile time and gains nothing measurable. Part of the disk cache key.
      parts: the same module split in modules that link together (emit.ModuleText.parts):
        on a cache miss each part's object comes from the disk cache under its own IR's key,
        the missing ones compiled at once in several processes (parallel_compile.py).
    Raises RuntimeError naming the module when the IR does not parse or verify.
    """
    if _RUNTIME_REFERENCE.search(ir_text):
        threads.ensure_runtime()
    return compile_module(ir_text, name, debug, speed_level, parts)
