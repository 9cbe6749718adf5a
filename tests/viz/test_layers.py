"""The model as layers (what frontend.utils.plot_model draws)."""

import pytest

from graphc.viz import DiagramError, draw_layers, layers_diagram


def record(name, type_, inbound, shape_in=(None, 4), shape_out=(None, 4), params=0):
    return {
        "name": name,
        "type": type_,
        "input_shapes": [shape_in],
        "output_shapes": [shape_out],
        "dtype": "float32",
        "params": params,
        "trainable": True,
        "activation": "relu" if type_ == "Dense" else None,
        "inbound": inbound,
    }


MLP = [
    record("input_layer", "InputLayer", [], (None, 784), (None, 784)),
    record("dense", "Dense", ["input_layer"], (None, 784), (None, 500), 392500),
    record("dense_1", "Dense", ["dense"], (None, 500), (None, 10), 5010),
]


def test_names_types_and_shapes(tmp_path):
    source = layers_diagram(MLP, show_shapes=True).source
    for text in (
        "input_layer",
        "InputLayer",
        "dense_1",
        "Dense",
        "Input shape: (None, 784)",
        "Output shape: (None, 10)",
    ):
        assert text in source
    assert source.count("->") == 2
    assert "dtype" not in source and "Params" not in source


def test_optional_rows(tmp_path):
    source = layers_diagram(
        MLP, show_dtype=True, show_params=True, show_trainable=True, show_layer_activations=True
    ).source
    for text in ("dtype: float32", "Params: 392,500", "Trainable: True", "Activation: relu"):
        assert text in source
    assert "Input shape" not in source


def test_without_layer_names_shows_types_only():
    source = layers_diagram(MLP, show_layer_names=False).source
    assert "dense_1" not in source and "Dense" in source


def test_multi_input_model_has_one_edge_per_connection():
    records = [
        record("a", "InputLayer", []),
        record("b", "InputLayer", []),
        record("join", "Concatenate", ["a", "b"]),
        record("out", "Dense", ["join"]),
    ]
    assert layers_diagram(records, rankdir="LR").source.count("->") == 3


@pytest.mark.needs_dot
def test_writes_png(tmp_path):
    written = draw_layers(MLP, tmp_path / "model.png", show_shapes=True)
    assert written.read_bytes().startswith(b"\x89PNG")


def test_without_dot_writes_dot_text(tmp_path, no_dot, capsys):
    written = draw_layers(MLP, tmp_path / "model.png")
    assert written.suffix == ".dot" and "dense_1" in written.read_text()
    assert "install graphviz" in capsys.readouterr().err


def test_shapes_of_rank_one_and_several_outputs():
    records = [record("a", "InputLayer", [], (None,), (None,))]
    records[0]["output_shapes"] = [(None, 2), (None, 3)]
    source = layers_diagram(records, show_shapes=True).source
    assert "(None,)" in source and "[(None, 2), (None, 3)]" in source


@pytest.mark.parametrize(
    "records, message",
    [
        ([], "no layers"),
        ([{"type": "Dense"}], "no 'name'"),
        ([record("a", "Dense", []), record("a", "Dense", [])], "two layers are named 'a'"),
        ([record("a", "Dense", ["ghost"])], "'ghost'"),
    ],
)
def test_undrawable_models_say_why(tmp_path, records, message):
    with pytest.raises(DiagramError, match=message):
        draw_layers(records, tmp_path / "m.png")


def test_bad_rankdir(tmp_path):
    with pytest.raises(DiagramError, match="rankdir"):
        draw_layers(MLP, tmp_path / "m.png", rankdir="sideways")


def test_a_misspelt_option_is_an_error():
    with pytest.raises(TypeError, match="show_shape;.*show_shapes"):
        layers_diagram(MLP, show_shape=True)
