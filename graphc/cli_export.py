"""`graphc export MODEL --format so -o DIR`: a saved model (or FILE.py[:NAME], a Function or
model) written for use without graphc; `--format so` is a C library (graphc.export), `--format
onnx -o FILE.onnx` an ONNX model (graphc.onnx, the onnx extra)."""

from __future__ import annotations

import graphc as gc
from graphc.cli_commands import UsageError, is_model, load_target

HELP = "write a saved model (or a Function) as a C library (--format so) or ONNX (--format onnx)"
DESCRIPTION = (
    "Write libNAME.so, libNAME.a, NAME.h and a README (the compile line) to the output folder: "
    "the model's predict as a C library with its weights and a thread pool inside; no Python, "
    "llvmlite or libstdc++ at run time. Models also take the formats their export() knows."
)
CPUS = ("native", "x86-64-v3", "x86-64-v4")


def arguments(p) -> None:
    p.add_argument("target", help="a saved model file (.zip/.keras) or FILE.py[:NAME]")
    p.add_argument("--format", default="so", choices=("so", "onnx"),
                   help="what to write (default so: a C library; onnx: one .onnx file)")
    p.add_argument("-o", "--output", required=True,
                   help="the output folder (--format so) or file (--format onnx)")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset for --format onnx (default: graphc.onnx.DEFAULT_OPSET)")
    p.add_argument("--name", default=None, help="C prefix of the API; default the model's name")
    p.add_argument("--cpu", choices=CPUS, default="native",
                   help="CPU the code is compiled for (default native: this machine's)")
    p.add_argument("--weights-file", action="store_true",
                   help="write the weights to NAME.weights, read at create, not embedded")
    p.add_argument("--batch-chunk", type=int, default=256,
                   help="rows per internal step (calls take any number of rows)")
    p.add_argument("--unsafe-allow-code", action="store_true",
                   help="load a saved model's Lambda layers (safe_mode=False): trusted files only")


def run(args) -> int:
    name, obj = load_target(args.target, args.unsafe_allow_code)
    if args.format == "onnx":
        if not (is_model(obj) or isinstance(obj, gc.Function)):
            raise UsageError(f"{args.target} is a {type(obj).__name__}; export takes a model or "
                             f"a graphc Function")
        onnx_model = gc.export_onnx(obj, args.output, opset=args.opset)
        print(f"{args.output}\nONNX opset {onnx_model.opset_import[0].version}")
        return 0
    options = {"name": args.name, "cpu": args.cpu, "weights_file": args.weights_file,
               "batch_chunk": args.batch_chunk}
    if is_model(obj):
        result = obj.export(args.output, format=args.format, verbose=False, **options)
    elif isinstance(obj, gc.Function):
        options["name"] = options["name"] or name
        result = gc.export(obj, args.output, **options)
    else:
        raise UsageError(f"{args.target} is a {type(obj).__name__}; export takes a model or a "
                         f"graphc Function")
    files = getattr(result, "files", None)
    print(result if files is None else "\n".join(str(p) for p in files.values()))
    if files is not None:
        print(f"compiled for cpu {result.cpu}")
    return 0
