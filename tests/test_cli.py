"""The `graphc` command line, run in-process through graphc.cli.main."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

import frontend  # registers model loading with the CLI, as its entry point would
import frontend.backend
from graphc.cli import main

STEP_FILE = textwrap.dedent("""
    import numpy as np
    import graphc as gc

    def build():
        x = gc.matrix("x")
        w = gc.shared(np.ones((3, 2), "float32"), name="w")
        loss = gc.mean(gc.tanh(x @ w))
        return gc.function([x], loss, updates=[(w, w - 0.1 * gc.grad(loss, w))],
                           backend="numpy")

    def needs(a):
        return a

    value = 3
    if __name__ == "__main__":
        raise SystemExit("the file's main part must not run")
""")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "step.py").write_text(STEP_FILE)
    (tmp_path / "bad.py").write_text("x = 1\nraise ValueError('boom')\n")
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("graphc: error: "), err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["dot", "--help"],
        ["compare", "--help"],
        ["summary", "--help"],
        ["bench", "--help"],
        ["info", "--help"],
        ["cache", "--help"],
        ["cache", "clear", "--help"],
    ],
)
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and "usage: graphc" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
        (["cache"], "required: ACTION"),
        (["dot", "missing.py:build"], "no such file: missing.py"),
        (["summary", "missing.zip"], "no such file: missing.zip"),
        (["dot", "step.py:nope"], "step.py has no 'nope'"),
        (["dot", "step.py"], "name one, e.g. step.py:build"),
        (["dot", "step.py:needs"], "needs arguments (a)"),
        (["dot", "step.py:value"], "not a graphc Function"),
        (["bench", "--scripts", "no_such_bench"], "no bench script no_such_bench"),
        (["compare"], "either FILE.py[:NAME] or --demo"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(workdir, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in one_line_error(err)


@pytest.mark.needs_dot
def test_dot_writes_the_optimized_stage_by_default(workdir, capsys):
    code, out, _ = run(capsys, "dot", "step.py:build")
    assert code == 0 and out.strip() == "build-optimized.svg"
    assert (workdir / "build-optimized.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.needs_dot
def test_dot_all_stages(workdir, capsys):
    code, out, _ = run(
        capsys,
        "dot",
        "step.py:build",
        "--all-stages",
        "-o",
        "pics/s.png",
        "--rankdir",
        "LR",
        "--no-constants",
    )
    assert code == 0
    assert out.split() == ["pics/s-raw.png", "pics/s-grad.png", "pics/s-optimized.png"]


def test_dot_without_graphviz_writes_text(workdir, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(workdir))
    code, out, err = run(capsys, "dot", "step.py:build", "--stage", "raw")
    assert code == 0 and out.strip() == "build-raw.dot"
    assert "install graphviz" in err and "digraph" in (workdir / "build-raw.dot").read_text()


def test_unknown_stage_fails_with_the_stages_listed(workdir, capsys):
    code, _, err = run(capsys, "dot", "step.py:build", "--stage", "nonesuch")
    assert code == 1 and "raw, grad, optimized" in one_line_error(err)


@pytest.mark.needs_dot
def test_nodes_have_one_picture_and_no_stages(workdir, capsys):
    (workdir / "nodes.py").write_text(
        "import graphc as gc\n\ndef expr():\n    return gc.tanh(gc.matrix('x'))\n"
    )
    code, out, _ = run(capsys, "dot", "nodes.py:expr")
    assert code == 0 and out.strip() == "expr-graph.svg"
    code, _, err = run(capsys, "dot", "nodes.py:expr", "--stage", "raw")
    assert code == 2 and "no pipeline stages" in one_line_error(err)


def test_error_in_the_users_file_names_file_and_line(workdir, capsys):
    code, _, err = run(capsys, "dot", "bad.py:x")
    assert code == 1 and "bad.py:2" in one_line_error(err) and "boom" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_traceback_on_request(workdir, capsys, monkeypatch, how):
    argv = ["dot", "bad.py:x"]
    if how == "flag":
        argv.insert(0, "--traceback")
    else:
        monkeypatch.setenv("GRAPHC_TRACEBACK", "1")
    code, _, err = run(capsys, *argv)
    assert code == 1 and "Traceback" in err and "ValueError: boom" in err


def test_info(capsys):
    code, out, _ = run(capsys, "info")
    assert code == 0
    for label in (
        "graphc",
        "numpy",
        "cpu",
        "threads",
        "llvmlite",
        "compile cache",
        "datasets",
        "graphviz",
    ):
        assert f"\n{label} " in "\n" + out


def test_info_without_llvm_backend_fails_soft(capsys, monkeypatch):
    import graphc.cli_machine as commands

    monkeypatch.setattr(commands, "llvm_modules", lambda: (None, "ImportError: not built"))
    code, out, _ = run(capsys, "info")
    assert code == 0 and "unavailable (ImportError: not built)" in out


def test_cache_info_and_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    for name in ("a.o", "b.o"):
        (tmp_path / name).write_bytes(b"x" * 10)
    code, out, _ = run(capsys, "cache", "info")
    assert code == 0 and "2 entries, 20 B" in out
    code, out, _ = run(capsys, "cache", "clear")
    assert code == 0 and out.startswith("removed 2 entries")
    assert list(tmp_path.iterdir()) == []


def test_bench_numpy(capsys):
    code, out, _ = run(capsys, "bench", "--backend", "numpy", "--steps", "1")
    assert code == 0 and "ms/step" in out and "\nnumpy " in out


def test_console_script_is_installed():
    done = subprocess.run(
        [sys.executable, "-m", "graphc.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("graphc ")
    done = subprocess.run(["graphc", "frob"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1


MODEL_FILE = textwrap.dedent("""
    import numpy as np
    from frontend.layers import Dense, Input
    from frontend.models import Sequential

    def trained():
        model = Sequential([Input((4,)), Dense(3, activation="relu"),
                            Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", backend="numpy")
        y = np.eye(2, dtype="float32")[[0, 1] * 4]
        model.fit(np.ones((8, 4), "float32"), y, epochs=1, verbose=0)
        model.save("m.zip")
        return model
""")


@pytest.fixture
def saved_model(workdir, capsys):
    frontend.backend.clear_session()  # the layer names the test expects, whatever ran before
    (workdir / "mdl.py").write_text(MODEL_FILE)
    code, out, _ = run(capsys, "dot", "mdl.py:trained", "-o", "layers.svg")
    assert code == 0 and out.strip() == "layers.svg"
    return workdir / "m.zip"


@pytest.mark.needs_dot
def test_model_from_a_file_layers_and_training_step(saved_model, workdir, capsys):
    assert "dense_1" in (workdir / "layers.svg").read_text()
    code, out, _ = run(capsys, "dot", "mdl.py:trained", "--stage", "grad")
    assert code == 0 and out.strip() == "trained-grad.svg"


@pytest.mark.needs_dot
def test_saved_model_summary_and_layers(saved_model, capsys):
    code, out, _ = run(capsys, "summary", "m.zip")
    assert code == 0 and "Total params: 23" in out
    code, out, _ = run(capsys, "dot", "m.zip", "-o", "saved.png")
    assert code == 0 and out.strip() == "saved.png"


@pytest.mark.needs_dot
def test_saved_model_has_no_training_step_to_draw(saved_model, capsys):
    code, _, err = run(capsys, "dot", "m.zip", "--stage", "raw")
    assert code == 2 and "no training step yet" in one_line_error(err)


def test_corrupt_saved_model_is_one_line(workdir, capsys):
    (workdir / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
    code, _, err = run(capsys, "summary", "bad.zip")
    assert code == 2 and "bad.zip" in one_line_error(err)  # issue 18: a bad input file is 2


STATIC_FILE = textwrap.dedent("""
    import numpy as np
    import graphc as gc

    x = gc.placeholder((None, 3), name="x")
    w = gc.shared(np.full((3, 2), 0.5, "float32"), name="w")
    loss = gc.mean(gc.tanh(x @ w))
    step = gc.function([x], loss, updates=[(w, w - 0.1 * gc.grad(loss, w))])
""")


@pytest.mark.needs_dot
def test_compare_demo_prints_the_table_and_draws_kernels(workdir, capsys):
    code, out, _ = run(capsys, "compare", "--demo", "mlp", "--batch", "8", "--dot", "cmp.svg")
    assert code == 0
    for text in ("[outputs]", "[updates]", "[kernels]", "k0_dense_add_relu", "time per call"):
        assert text in out
    assert out.strip().endswith("cmp.svg") and "error" in (workdir / "cmp.svg").read_text()


def test_compare_a_function_from_a_file(workdir, capsys):
    (workdir / "static.py").write_text(STATIC_FILE)
    code, out, _ = run(capsys, "compare", "static.py:step", "--batch", "4")
    assert code == 0 and "update w" in out


def test_compare_explains_inputs_that_do_not_fit(workdir, capsys):
    code, _, err = run(capsys, "compare", "step.py:build")
    assert code == 1 and "do not fit" in one_line_error(err)


def test_compare_needs_one_target(workdir, capsys):
    code, _, err = run(capsys, "compare", "step.py:build", "--demo", "mlp")
    assert code == 2 and "either" in one_line_error(err)


@pytest.mark.needs_dot
def test_saved_model_summary_finds_the_frontend_by_its_entry_point(saved_model, tmp_path):
    """A fresh `graphc summary` has not imported the frontend: it loads the library that the
    `graphc.models` entry point names (declared in pyproject.toml; faked here as installed)."""
    root = Path(__file__).resolve().parent.parent
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    dist = tmp_path / "plugins" / "graphc_models_test-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: graphc-models-test\nVersion: 0\n")
    lines = [f"{k} = {v}" for k, v in declared["graphc.models"].items()]
    (dist / "entry_points.txt").write_text("[graphc.models]\n" + "\n".join(lines) + "\n")
    path = os.pathsep.join([str(root), str(dist.parent)])
    done = subprocess.run(
        [sys.executable, "-m", "graphc.cli", "summary", str(saved_model)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0 and "Total params: 23" in done.stdout, done.stderr
