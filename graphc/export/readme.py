"""The README written next to an exported library: what is there and how to compile against it."""

from __future__ import annotations

from graphc.export.csource import parameters


def readme(name: str, lowered, cpu: str, weights_file: bool) -> str:
    xs, ys = parameters(lowered.predict)
    create = (f'{name}_create(2, "{name}.weights")' if weights_file else f"{name}_create(2)")
    inputs = "\n".join(f"- input {k} `{n}`: n x {shape}" for k, (n, shape) in
                       enumerate(lowered.predict.inputs))
    outputs = "\n".join(f"- output {k} `{n}`: n x {shape}" for k, (n, shape) in
                        enumerate(lowered.predict.outputs))
    weights = (f"The weights are in `{name}.weights`; pass its path to `{name}_create`."
               if weights_file else "The weights are embedded in the library.")
    rows = "any n > 0"
    if not lowered.predict.chunked:
        rows = f"0 < n <= {lowered.predict.chunk}"
        weights += (f"\n`{name}_predict` takes at most {lowered.predict.chunk} rows a call: the "
                    f"model mixes the rows of its batch ({lowered.predict.mixes}).")
    if lowered.train is not None:
        weights += (f"\n`{name}_train_step` (at most {lowered.train.chunk} rows a step) trains "
                    f"the context's own copy of the weights; see `{name}.h`. Training steps "
                    f"of different contexts take turns (predict calls do not).")
    return f"""# {name}: a graphc model as a C library

Files: `lib{name}.so` (shared), `lib{name}.a` (static), `{name}.h` (the API).
Compiled for cpu {cpu}. {weights}
Nothing else is needed at run time: no Python, no llvmlite, no libstdc++ (libc, libm and
pthreads only).

{inputs}
{outputs}

```c
#include "{name}.h"
{name}_context* ctx = {create};          /* 2 threads */
if (!ctx) {{ puts({name}_last_error(NULL)); return 1; }}
int err = {name}_predict(ctx, {", ".join(xs)}, n, {", ".join(ys)});  /* {rows} */
if (err) puts({name}_last_error(ctx));
{name}_destroy(ctx);
```

Compile and run against the shared library:

    cc main.c -I. -L. -l{name} -Wl,-rpath,'$ORIGIN' -lpthread -lm -o main && ./main

or link it statically: `cc main.c -I. lib{name}.a -lpthread -lm -o main`.
"""
