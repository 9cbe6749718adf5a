"""Data pipelines: fit/evaluate/predict on Python generators, Sequence (Keras 2) and PyDataset
(Keras 3), read one batch at a time in a background thread (never turned into one array),
with steps_per_epoch, validation generators, Sequence shuffling and the Keras 2 *_generator
aliases; sparse-label checks; frontend.config."""

import io
import itertools
import threading
import warnings

import numpy as np
import pytest

import frontend as keras
from frontend import config, layers
from frontend.models import Sequential
from frontend.models.data import DataError
from frontend.utils import PyDataset, Sequence, data_utils
from frontend.utils.progbar import Progbar
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(0)
X = RNG.random((60, 4)).astype("float32")
Y = (X.sum(axis=1) > 2).astype("int64")


def small_model(backend="numpy"):
    model = Sequential([layers.Dense(6, activation="relu", input_shape=(4,)),
                        layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"], backend=backend)
    return model


class Batches(Sequence):
    """Batches of 10 of (X, Y), recording which batches were read and the epoch ends."""

    def __init__(self, n_batches=6, with_targets=True):
        self.n_batches, self.with_targets = n_batches, with_targets
        self.read, self.epochs_ended = [], 0

    def __len__(self):
        return self.n_batches

    def __getitem__(self, index):
        self.read.append(index)
        part = slice(index * 10 % 60, index * 10 % 60 + 10)
        return (X[part], Y[part]) if self.with_targets else X[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def looping_batches(counter=None):
    for index in itertools.count():
        if counter is not None:
            counter.append(index)
        part = slice(index * 10 % 60, index * 10 % 60 + 10)
        yield X[part], Y[part]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequence_and_generator_train_exactly_like_the_arrays(backend):
    by_arrays, by_sequence, by_generator = (small_model(backend) for _ in range(3))
    for model in (by_sequence, by_generator):
        model.set_weights(by_arrays.get_weights())
    by_arrays.fit(X, Y, batch_size=10, epochs=2, shuffle=False, verbose=0)
    history = by_sequence.fit(Batches(), epochs=2, shuffle=False, verbose=0)
    by_generator.fit(looping_batches(), steps_per_epoch=6, epochs=2, verbose=0)
    for model in (by_sequence, by_generator):
        for a, b in zip(by_arrays.get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert set(history.history) == {"loss", "accuracy"}
    expected = by_arrays.evaluate(X, Y, batch_size=10, verbose=0)
    np.testing.assert_allclose(by_sequence.evaluate(Batches(), verbose=0), expected, rtol=1e-5)
    np.testing.assert_allclose(by_sequence.predict(Batches(with_targets=False), verbose=0),
                               by_arrays.predict(X, verbose=0), rtol=1e-5)


def test_a_huge_sequence_is_read_batch_by_batch_never_as_one_array():
    class Huge(PyDataset):  # 10**9 batches: converting it to one array would never end
        def __init__(self):
            super().__init__(workers=4, use_multiprocessing=True, max_queue_size=2)
            self.read = []

        def __len__(self):
            return 10**9

        def __getitem__(self, index):
            self.read.append(index)
            return X[:10], Y[:10]

    data = Huge()
    small_model().fit(data, steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    assert data.read[:6] == [0, 1, 2, 3, 4, 5]
    assert len(data.read) <= 6 + 2 + 1  # read ahead at most max_queue_size (+1 in hand)


def test_a_generator_is_read_at_most_max_queue_size_batches_ahead():
    drawn = []
    small_model().fit(looping_batches(drawn), steps_per_epoch=4, epochs=1, max_queue_size=2,
                      verbose=0)
    assert 4 <= len(drawn) <= 4 + 2 + 1


def test_sequence_batch_order_is_shuffled_reproducibly_and_on_epoch_end_runs():
    orders = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        data = Batches()
        small_model().fit(data, epochs=2, verbose=0)
        orders.append(data.read)
        assert data.epochs_ended == 2
    assert orders[0] == orders[1]
    assert sorted(orders[0][:6]) == list(range(6)) and orders[0][:6] != list(range(6))


@pytest.mark.parametrize("backend", BACKENDS)
def test_validation_generators_and_the_keras2_aliases(backend):
    model = small_model(backend)
    history = model.fit_generator(looping_batches(), steps_per_epoch=3, epochs=2, verbose=0,
                                  validation_data=looping_batches(), validation_steps=2)
    assert len(history.history["val_loss"]) == 2
    history = model.fit(Batches(), validation_data=Batches(2), epochs=1, verbose=0)
    loss, accuracy = model.evaluate_generator(looping_batches(), steps=6)
    np.testing.assert_allclose(loss, model.evaluate(X, Y, verbose=0)[0], rtol=1e-5)
    assert model.predict_generator(looping_batches(), steps=2).shape == (20, 2)
    assert model.predict((x for x, _ in looping_batches()), steps=1, verbose=0).shape == (10, 2)


def test_keras2_docs_float_steps_per_epoch_counts_up():
    assert data_utils.Sequence is Sequence
    data = Batches()
    small_model().fit(data, steps_per_epoch=len(X) / 25, shuffle=False, verbose=0)  # 2.4
    assert data.read[:3] == [0, 1, 2]
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        small_model().fit(data, steps_per_epoch=-1.5)


def test_batches_may_carry_sample_weights():
    weights = np.zeros(10, "float32")
    model = small_model()
    before = model.get_weights()
    model.fit(((x, y, weights) for x, y in looping_batches()), steps_per_epoch=2, verbose=0)
    for a, b in zip(before, model.get_weights()):  # zero weights: no gradient
        np.testing.assert_array_equal(a, b)


def test_steps_per_epoch_with_arrays_continues_across_epochs_as_keras():
    model = small_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=10, steps_per_epoch=4, epochs=3, verbose=0)
    # 6 batches a pass: epoch 1 takes 4, epoch 2 the last 2 (ran out), epoch 3 a new pass
    assert [str(w.message).count("ran out of data after 2 of 4") for w in caught] == [1]
    assert "test_pipelines.py" in str(caught[0].message)


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    model = small_model()
    finite = (batch for batch in itertools.islice(looping_batches(), 5))
    with pytest.warns(UserWarning, match="ran out of data after 0 of None.*interrupting"):
        history = model.fit(finite, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 2  # epoch 1: 5 batches, epoch 2: none, then stop
    with pytest.warns(UserWarning, match="after 2 of 3 batches; interrupting training"):
        model.fit(itertools.islice(looping_batches(), 2), steps_per_epoch=3, verbose=0)


def test_unknown_steps_show_in_the_progress_bar():
    out = io.StringIO()
    bar = Progbar(None, stream=out)
    bar.update(3)
    bar.update(None, {"loss": 0.5}, finalize=True)
    assert out.getvalue().startswith("      3/Unknown - ")


def test_refused_inputs_name_the_argument_and_what_was_received():
    model = small_model()
    with pytest.raises(ValueError, match=r"fit: y, batch_size cannot be given when x is a gen"):
        model.fit(looping_batches(), Y, batch_size=10)
    with pytest.raises(ValueError, match="validation_split.*pass validation_data"):
        model.fit(Batches(), validation_split=0.2)
    with pytest.raises(DataError, match=r"batch 0 of the data is a tuple of 4 items"):
        model.fit(((X, Y, Y, Y) for _ in range(2)), verbose=0)
    with pytest.raises(DataError, match=r"received a function; call it to get a generator"):
        model.fit(looping_batches, verbose=0)
    with pytest.raises(DataError, match=r"expected arrays .*received a object"):
        model.fit(object(), Y, verbose=0)
    with pytest.raises(DataError, match=r"train_on_batch: x .*received a Batches"):
        model.train_on_batch(Batches(), Y[:10])
    with pytest.raises(ValueError, match=r"steps_per_epoch must be a positive integer"):
        model.fit(looping_batches(), steps_per_epoch=0)
    with pytest.raises(ValueError, match="validation_data is a generator: give validation_st"):
        model.fit(Batches(), validation_data=looping_batches())
    with pytest.raises(DataError, match="len\\(\\) = 0"):
        model.fit(Batches(0))


def test_errors_in_the_users_batches_come_back_with_their_type():
    class Broken(Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            raise KeyError(f"no batch {index}")

    with pytest.raises(KeyError, match="no batch"):
        small_model().fit(Broken(), verbose=0)
    shapes = r"expects data of shape \(None, 4\).*\(10, 3\).*test_pipelines"
    with pytest.raises(DataError, match=shapes):
        small_model().fit(((X[:10, :3], Y[:10]) for _ in range(3)), verbose=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_labels_out_of_range_or_fractional_raise_like_keras(backend):
    model = small_model(backend)
    with pytest.raises(DataError, match=r"\[0, 2\).*min 0 and max 2"):
        model.fit(X, np.where(Y == 1, 2, 0), verbose=0)
    with pytest.raises(DataError, match=r"min -1 and max 1"):
        model.evaluate(X, Y - (Y == 0), verbose=0)
    with pytest.raises(DataError, match=r"must be integers.*0.5"):
        model.fit(X, Y + 0.5, verbose=0)
    model.fit(X, Y.astype("float32"), epochs=1, verbose=0)  # whole floats are labels


def test_config_is_the_backend_settings():
    assert config.floatx is keras.backend.floatx and config.epsilon is keras.backend.epsilon
    config.set_epsilon(1e-5)
    try:
        assert keras.backend.epsilon() == 1e-5
    finally:
        config.set_epsilon(1e-7)
    assert config.image_data_format() == keras.backend.image_data_format() == "channels_last"


def test_keras1_generator_keywords_are_renamed_as_keras2_did():
    model = small_model()
    data = Batches()
    data.batch_size = 10  # as ImageDataGenerator.flow's iterator: samples_per_epoch / 10
    with pytest.warns(DeprecationWarning) as caught:
        history = model.fit_generator(data, samples_per_epoch=30, nb_epoch=2,
                                      validation_data=looping_batches(), nb_val_samples=2,
                                      nb_worker=2, pickle_safe=True, max_q_size=3, verbose=0)
    assert len(history.history["val_loss"]) == 2 and len(data.read) == 6
    assert any("steps_per_epoch=3" in str(w.message) for w in caught)
    assert any("nb_epoch" in str(w.message) for w in caught)
    with pytest.warns(DeprecationWarning, match="val_samples"):
        assert len(model.evaluate_generator(looping_batches(), val_samples=2)) == 2
    with pytest.raises(TypeError, match="nb_epochs"):
        model.fit_generator(data, nb_epochs=2)


def test_on_epoch_end_runs_in_the_training_thread_after_the_epochs_last_batch():
    """Keras calls a Sequence's on_epoch_end once every batch of the epoch has trained, in the
    training thread (the reader thread reads ahead; its end is not the epoch's end)."""
    trained, ends = [], []

    class Recording(Batches):
        def on_epoch_end(self):
            ends.append((len(trained), threading.current_thread() is threading.main_thread()))

    class CountBatches(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            trained.append(batch)

    small_model().fit(Recording(n_batches=20), epochs=2, verbose=0, callbacks=[CountBatches()])
    assert ends == [(20, True), (40, True)]
