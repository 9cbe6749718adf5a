"""Issue 18's command-line items: compare --shape, advice that fits the command, Lambda models
with --unsafe-allow-code, candidate lists, exit code 2 for a bad input file, --help examples."""

import textwrap

import numpy as np
import pytest

import frontend  # noqa: F401 - registers model loading with the CLI, as its entry point would
from graphc.cli import COMMANDS, main

README_STEP = textwrap.dedent("""
    import numpy as np
    import graphc as gc

    x, y = gc.matrix("x"), gc.vector("y", dtype="int64")
    W = gc.shared(np.zeros((784, 10), "float32"), name="W")
    b = gc.shared(np.zeros(10, "float32"), name="b")
    loss = -gc.mean(gc.sum(gc.one_hot(y, 10) * gc.log_softmax(x @ W + b), axis=1))
    gW, gb = gc.grad(loss, [W, b])
    train = gc.function([x, y], loss, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
""")

TWO_CANDIDATES = textwrap.dedent("""
    import graphc as gc
    import frontend as keras

    x = gc.vector("x")
    double = gc.function([x], 2 * x, backend="numpy")
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2)])

    def build():
        return double
""")

LAMBDA_MODEL = textwrap.dedent("""
    import frontend as keras

    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    model.save("lam.zip")
""")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    frontend.backend.clear_session()  # later test modules see fresh layer names


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_takes_input_shapes_for_the_readme_function(workdir, capsys):
    (workdir / "readme.py").write_text(README_STEP)
    code, _, err = run(capsys, "compare", "readme.py:train")
    assert code == 1 and "--shape x=100,784" in err
    code, out, err = run(capsys, "compare", "readme.py:train", "--shape", "x=100,784")
    assert code == 0 and out.strip(), err


@pytest.mark.parametrize(
    "option, message",
    [
        ("x=100;784", "expected NAME=D1,D2"),
        ("z=3", "no input 'z'"),
        ("x=100", "input x has shape"),
        ("x=0,784", "expected NAME=D1,D2"),
    ],
)
def test_bad_shape_options_are_usage_errors(workdir, capsys, option, message):
    (workdir / "readme.py").write_text(README_STEP)
    code, _, err = run(capsys, "compare", "readme.py:train", "--shape", option)
    assert code == 2 and message in err


def test_compare_on_an_unfitted_model_does_not_mention_stage(workdir, capsys):
    (workdir / "two.py").write_text(TWO_CANDIDATES)
    code, _, err = run(capsys, "compare", "two.py:model")
    assert code == 2 and "no training step yet" in err and "--stage" not in err


def test_several_candidates_lists_functions_and_models(workdir, capsys):
    (workdir / "two.py").write_text(TWO_CANDIDATES)
    code, _, err = run(capsys, "dot", "two.py")
    assert code == 2 and "double, model, build" in err


def test_lambda_model_needs_unsafe_allow_code(workdir, capsys):
    (workdir / "make.py").write_text(LAMBDA_MODEL)
    exec(compile(LAMBDA_MODEL, "make.py", "exec"), {})
    code, _, err = run(capsys, "summary", "lam.zip")
    assert code == 2 and "--unsafe-allow-code" in err and "safe_mode" not in err
    code, out, err = run(capsys, "summary", "lam.zip", "--unsafe-allow-code")
    assert code == 0 and "lambda" in out.lower(), err


def test_a_file_that_is_not_a_model_exits_2(workdir, capsys):
    (workdir / "notes.zip").write_text("shopping list")
    np.savez(workdir / "arrays.npz", a=np.zeros(3))
    for name in ("notes.zip", "arrays.npz"):
        code, _, err = run(capsys, "summary", name)
        assert code == 2 and name in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv", [[c.name, "--help"] for c in COMMANDS] + [["cache", "info", "--help"]]
)
def test_every_help_has_an_example(capsys, argv):
    with pytest.raises(SystemExit):
        main(argv)
    assert "example: graphc " + argv[0] in capsys.readouterr().out
