"""The one table of Keras 1/2 argument names (frontend/legacy_names.py) and the one mechanism
that applies it to layers, models, optimizers, callbacks and fit."""

import warnings

import pytest

from frontend import callbacks, layers, optimizers
from frontend.legacy_names import LEGACY_NAMES, LegacyName, class_keywords, modernize


def quietly(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make()


def test_one_row_moves_and_converts_with_the_warning_text():
    row = LegacyName(("dim_ordering",), "data_format", convert=lambda v: {"tf": "last"}[v])
    kwargs = {"dim_ordering": "tf"}
    with pytest.warns(
        DeprecationWarning,
        match=r"Pool: `dim_ordering` is the Keras 1 name of `data_format`; use `data_format` "
        r"instead. `dim_ordering` will be removed.",
    ):
        row.move(kwargs, "Pool")
    assert kwargs == {"data_format": "last"}


def test_old_and_new_together_are_refused():
    with pytest.raises(TypeError, match="got both `output_dim` .* and `units`"):
        quietly(lambda: layers.Dense(units=3, output_dim=4))


def test_a_layers_own_keyword_is_never_renamed():
    assert layers.ELU(alpha=0.5).alpha == 0.5  # LeakyReLU's Keras 2 alpha is ELU's own
    embedding = layers.Embedding(input_dim=10, output_dim=3)  # not Dense's output_dim
    assert (embedding.input_dim, embedding.output_dim) == (10, 3)


def test_the_same_old_name_goes_where_the_layer_takes_it():
    assert quietly(lambda: layers.Embedding(10, 3, init="ones")).embeddings_initializer
    dense = quietly(lambda: layers.Dense(2, init="ones", W_constraint="non_neg"))
    assert type(dense.kernel_initializer).__name__ == "Ones"
    assert dense.kernel_constraint is not None


def test_keras1_values_are_converted():
    pool = quietly(lambda: layers.MaxPooling2D(dim_ordering="tf"))
    assert pool.data_format == "channels_last"
    conv = quietly(lambda: layers.Conv2D(4, nb_row=3, nb_col=1))
    assert conv.kernel_size == (3, 1)


def test_optimizers_callbacks_and_fit_use_the_same_table():
    with pytest.warns(DeprecationWarning, match="SGD: `lr` is the Keras 2 name"):
        assert optimizers.SGD(lr=0.5).learning_rate == 0.5
    with pytest.warns(DeprecationWarning, match="`epsilon` is the Keras 2 name of `min_delta`"):
        assert callbacks.ReduceLROnPlateau(epsilon=0.01).min_delta == 0.01
    with pytest.warns(DeprecationWarning, match="fit: `nb_epoch`"):
        assert modernize({"nb_epoch": 2}, "fit", {"fit"}, {"epochs"}) == {"epochs": 2}


def test_every_layer_row_renames_to_a_keyword_some_layer_takes():
    taken = set().union(*(class_keywords(cls)[1] for cls in layers.LAYERS.values()))
    assert [row for row in LEGACY_NAMES if not row.owners and row.new not in taken] == []
