"""Keras 1/2 argument names (frontend/legacy_names.py): precedence as in Keras 2 when both names
are given, positional arguments seen, and an old keyword given as None ignored."""

import warnings

import pytest

from frontend.layers import Dense
from frontend.optimizers import Adam


@pytest.fixture(autouse=True)
def quiet_deprecations():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def test_lr_wins_over_learning_rate_as_in_keras_2():
    assert Adam(learning_rate=0.1, lr=0.2).get_config()["learning_rate"] == pytest.approx(0.2)
    assert Adam(0.1, lr=0.2).get_config()["learning_rate"] == pytest.approx(0.2)


def test_input_shape_wins_over_input_dim_as_in_keras_2():
    assert Dense(3, input_dim=4, input_shape=(5,))._batch_input_shape == (None, 5)


@pytest.mark.parametrize("make", [lambda: Dense(3, output_dim=4),
                                  lambda: Dense(units=3, output_dim=4)])
def test_units_given_twice_names_both_spellings(make):
    with pytest.raises(TypeError, match="got both `output_dim` \\(Keras 1\\) and `units`"):
        make()


def test_an_old_keyword_given_as_none_is_ignored_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        layer = Dense(4, input_dim=None)
    assert layer.units == 4 and layer._batch_input_shape is None
