"""fit/evaluate/predict semantics, callbacks and the progress display."""

import io
import sys

import numpy as np
import pytest

import frontend as keras
from frontend import callbacks
from frontend.layers import BatchNormalization, Dense, Dropout
from frontend.models import Sequential
from frontend.utils.progbar import Progbar


def regression_model(lr=0.05, **compile_kwargs):
    model = Sequential([Dense(1, input_shape=(3,), kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", backend="numpy", **compile_kwargs)
    return model


def line_data(n=40):
    rng = np.random.default_rng(3)
    x = rng.random((n, 3)).astype("float32")
    return x, x @ np.array([1.0, -2.0, 0.5], "float32") + 0.3


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = line_data(10)
    model = regression_model()
    seen = []
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=1,
        validation_split=0.2,
        shuffle=False,
        verbose=0,
        callbacks=[callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))],
    )
    assert seen == [0, 1]  # 8 training samples in batches of 4
    val = model.evaluate(x[8:], y[8:], verbose=0)
    history = regression_model().fit(
        x, y, batch_size=4, validation_split=0.2, shuffle=False, verbose=0
    )
    assert "val_loss" in history.history
    assert val == pytest.approx(model.evaluate(x[8:], y[8:], verbose=0))


def test_epochs_count_from_initial_epoch_and_last_batch_is_smaller():
    x, y = line_data(10)
    model = regression_model()
    epochs = []
    cb = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epochs.append(e))
    history = model.fit(x, y, batch_size=4, epochs=5, initial_epoch=3, verbose=0, callbacks=[cb])
    assert epochs == [3, 4] and history.epoch == [3, 4]
    fn = model._steps.function("train", [y])
    original = fn.__call__
    fn_calls = []
    type(fn).__call__ = lambda self, *a: (fn_calls.append(len(a[0])), original(*a))[1]
    try:
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    finally:
        type(fn).__call__ = original.__func__
    assert fn_calls == [4, 4, 2]


def test_loss_is_the_sample_weighted_mean_and_matches_numpy():
    x, y = line_data(8)
    model = regression_model()
    w = np.arange(1, 9, dtype="float32")
    kernel = np.array([[0.5], [0.1], [-0.2]], "float32")
    model.set_weights([kernel, np.zeros(1, "float32")])
    pred = x @ kernel
    expected = np.sum((pred[:, 0] - y) ** 2 * w) / 8  # Keras: sum over batch size
    assert model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0) == pytest.approx(
        expected, rel=1e-5
    )
    # over several batches the epoch value is the batch-size-weighted mean of batch losses
    unweighted = np.mean((pred[:, 0] - y) ** 2)
    assert model.evaluate(x, y, batch_size=3, verbose=0) == pytest.approx(unweighted, rel=1e-5)


def test_class_weight_scales_the_loss():
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    model.compile("sgd", "sparse_categorical_crossentropy", backend="numpy")
    x = np.ones((4, 3), "float32")
    y = np.array([0, 1, 0, 1])
    base = model.test_on_batch(x, y)
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(probs[np.arange(4), y])
    weighted = model.train_on_batch(x, y, class_weight={0: 2.0, 1: 0.5})
    assert base == pytest.approx(per_sample.mean(), rel=1e-5)
    assert weighted == pytest.approx(np.mean(per_sample * np.array([2, 0.5, 2, 0.5])), rel=1e-5)


def test_dropout_only_in_training_and_inverted():
    model = Sequential([Dropout(0.5, input_shape=(1000,))])
    x = np.ones((2, 1000), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    layer = model.layers[0]
    out = layer(x, training=True)
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 2.0)
    assert 0.4 < (out != 0).mean() < 0.6


def test_batch_normalization_moving_statistics():
    model = Sequential([BatchNormalization(momentum=0.5, input_shape=(2,))])
    model.compile("sgd", "mse", backend="numpy")
    x = np.array([[1.0, 2.0], [3.0, 6.0]], "float32")
    model.train_on_batch(x, np.zeros((2, 2)))
    _, _, mean, var = model.get_weights()
    np.testing.assert_allclose(mean, 0.5 * np.array([2.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(var, 0.5 * 1 + 0.5 * np.array([1.0, 4.0]), rtol=1e-6)


def test_early_stopping_restores_best_weights():
    x, y = line_data()
    model = regression_model(lr=0.0)
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    best = model.get_weights()
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 3  # no improvement after the first epoch
    for a, b in zip(best, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_csv_logger_and_lr_schedulers(tmp_path):
    x, y = line_data()
    model = regression_model()
    csv_path = tmp_path / "log.csv"
    cbs = [
        callbacks.ModelCheckpoint(
            str(tmp_path / "m{epoch:02d}.keras"), monitor="loss", save_best_only=True
        ),
        callbacks.ModelCheckpoint(
            str(tmp_path / "w.weights.npz"), save_weights_only=True, monitor="loss"
        ),
        callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 / (epoch + 1)),
        callbacks.CSVLogger(csv_path),
    ]
    model.fit(x, y, epochs=3, verbose=0, callbacks=cbs)
    assert sorted(p.name for p in tmp_path.glob("m*.keras")) == [
        "m01.keras",
        "m02.keras",
        "m03.keras",
    ]
    assert (tmp_path / "w.weights.npz").exists()
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "epoch,learning_rate,loss" and len(lines) == 4
    assert float(lines[3].split(",")[1]) == pytest.approx(0.05 / 3)
    reducer = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[reducer])
    assert model.optimizer.learning_rate == pytest.approx(0.05 / 3 * 0.25, rel=1e-5)


def test_checkpoint_path_naming_an_unlogged_value(tmp_path):
    x, y = line_data()
    model = regression_model()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m-{val_loss:.2f}.keras"))
    with pytest.raises(KeyError, match="ModelCheckpoint.*'val_loss'.*keys are epoch, loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])


def test_reduce_lr_on_plateau_keras2_epsilon_and_unknown_keywords():
    with pytest.warns(DeprecationWarning, match="epsilon.*min_delta"):
        reducer = callbacks.ReduceLROnPlateau(epsilon=0.5)
    assert reducer.min_delta == 0.5
    with pytest.raises(TypeError, match="min_dleta.*Did you mean `min_delta`"):
        callbacks.ReduceLROnPlateau(min_dleta=0.5)


def test_terminate_on_nan():
    x, y = line_data()
    model = regression_model(lr=1e30)
    history = model.fit(
        x, y * 1e30, epochs=5, batch_size=4, verbose=0, callbacks=[callbacks.TerminateOnNaN()]
    )
    assert len(history.history["loss"]) == 1


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = line_data()
    history = regression_model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    path = history.plot(str(tmp_path / "history.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_and_in_logs():
    tty = FakeTTY()
    bar = Progbar(3, stream=tty, interval=0)
    bar.update(1, {"loss": 0.5}, finalize=False)
    bar.update(3, {"loss": 0.25, "accuracy": 0.75}, finalize=True)
    text = tty.getvalue()
    assert "\r1/3 [=========>....................] - ETA: " in text
    assert "3/3 [==============================] - 0s " in text
    assert text.endswith(" - loss: 0.2500 - accuracy: 0.7500\n")
    log = io.StringIO()
    bar = Progbar(3, stream=log)
    for i in (1, 2):
        bar.update(i, {"loss": 0.5}, finalize=False)
    bar.update(3, {"loss": 0.5}, finalize=True)
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("3/3 [==============================] - 0s ")


def test_fit_output_without_a_terminal(capsys):
    x, y = line_data(10)
    regression_model().fit(x, y, batch_size=4, epochs=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2" and len(out) == 4
    assert (
        out[1].startswith("3/3 [==============================] - ") and "/step - loss: " in out[1]
    )
    regression_model().fit(x, y, batch_size=4, epochs=1, verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("3/3 - ") and "/epoch - " in line and line.endswith("/step")
    regression_model().fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_return_forms_and_metrics_names():
    x, y = line_data(8)
    model = regression_model(metrics=["mae"])
    loss, mae = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae"] and logs["mae"] == pytest.approx(mae)
    assert model.metrics_names == ["loss", "mae"]
    assert model.predict_on_batch(x).shape == (8, 1)


def test_uncompiled_predict_uses_the_default_backend():
    model = Sequential([Dense(2, input_shape=(3,))])
    assert keras.backend.default_backend() == "numpy"  # set by the test fixture
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 2)


@pytest.mark.skipif(sys.platform == "win32", reason="posix paths")
def test_example_runs_in_smoke_mode(capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "examples" / "functional_multi_input.py"
    spec = importlib.util.spec_from_file_location("functional_multi_input", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--smoke", "--backend", "numpy"])
    assert np.isfinite(result["loss"]) and 0 <= result["accuracy"] <= 1
    assert "concatenate" in capsys.readouterr().out


def test_dropout_masks_differ_per_layer_and_per_step():
    import graphc as gc
    from frontend import seeding

    first, second = Dropout(0.5), Dropout(0.5)
    x = gc.placeholder((None, 64), name="x")
    f = gc.function(
        [x],
        [first(x, training=True), second(x, training=True)],
        updates=[(seeding.step_counter(), seeding.step_counter() + 1)],
        backend="numpy",
    )
    ones = np.ones((2, 64), np.float32)
    a1, b1 = f(ones)
    a2, _ = f(ones)
    assert not np.array_equal(a1 != 0, b1 != 0)  # two layers, two streams
    assert not np.array_equal(a1 != 0, a2 != 0)  # a new mask every step
    keras.utils.set_random_seed(1234)  # the fixture's seed: the first mask comes back
    f2 = gc.function([x], Dropout(0.5)(x, training=True), backend="numpy")
    np.testing.assert_array_equal(f2(ones) != 0, a1 != 0)
