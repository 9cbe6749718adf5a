"""Issue 12's callbacks: BackupAndRestore (a killed fit resumes where its last backup was
taken, the backup written atomically), ModelCheckpoint(save_freq=<batches>), TensorBoard
(event files read back record by record with their CRC32C checks) and SwapEMAWeights."""

import os
import struct

import numpy as np
import pytest

from frontend import callbacks, optimizers
from frontend.callbacks import backup as backup_module
from frontend.layers import Dense
from frontend.models import Sequential, load_model
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(11)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = (X @ RNG.normal(size=(5, 2)) + 0.1 * RNG.normal(size=(40, 2))).astype("float32")
START = [RNG.normal(size=(5, 8)).astype("float32") * 0.4, np.zeros(8, "float32"),
         RNG.normal(size=(8, 2)).astype("float32") * 0.4, np.zeros(2, "float32")]


def fresh_model(backend="numpy", optimizer=None):
    """The same starting point every time, as a new process would rebuild it."""
    model = Sequential([Dense(8, activation="tanh", input_shape=(5,)), Dense(2)])
    model.set_weights(START)
    model.compile(optimizer=optimizer or optimizers.Adam(0.01), loss="mse", backend=backend)
    return model


class Kill(callbacks.Callback):
    """Raises at (epoch, batch), like a process killed mid-fit."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("killed")


class RecordWeights(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.at_batch, self.at_begin = [], None

    def on_train_begin(self, logs=None):
        self.at_begin = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        self.at_batch.append(self.model.get_weights())


def fit(model, cbs, epochs=4):
    return model.fit(X, Y, epochs=epochs, batch_size=8, shuffle=False, verbose=0, callbacks=cbs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_fit_resumes_from_the_last_epoch_backup(backend, tmp_path):
    folder = tmp_path / "backup"
    reference = fresh_model(backend)
    fit(reference, [])
    killed = fresh_model(backend)
    with pytest.raises(KeyboardInterrupt):
        fit(killed, [callbacks.BackupAndRestore(folder), Kill(epoch=2, batch=1)])
    assert sorted(os.listdir(folder)) == ["latest.npz"]  # no temporary left behind
    resumed = fresh_model(backend)
    history = fit(resumed, [callbacks.BackupAndRestore(folder)])
    assert history.epoch == [2, 3]
    for got, want in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert int(resumed.optimizer.iterations.get_value()) == 20
    assert not folder.exists()  # delete_checkpoint: removed after a finished fit


def test_batch_backups_restore_the_weights_of_the_last_save(tmp_path):
    record = RecordWeights()
    with pytest.raises(KeyboardInterrupt):
        fit(fresh_model(), [callbacks.BackupAndRestore(tmp_path, save_freq=3), record,
                            Kill(epoch=1, batch=2)])
    # 8 batches seen (5 in epoch 0, 3 in epoch 1): the last save was after the 6th
    restored = RecordWeights()
    history = fit(fresh_model(), [callbacks.BackupAndRestore(tmp_path, save_freq=3), restored],
                  epochs=2)
    for got, want in zip(restored.at_begin, record.at_batch[5]):
        np.testing.assert_array_equal(got, want)
    assert history.epoch == [1]  # the epoch under way at the save (epoch 1) is run again


def test_a_failed_save_keeps_the_previous_backup(tmp_path, monkeypatch):
    model = fresh_model()
    fit(model, [callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)], epochs=1)
    good = (tmp_path / "latest.npz").read_bytes()

    def crash(*args):
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(backup_module, "backup_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        fit(model, [callbacks.BackupAndRestore(tmp_path)], epochs=3)
    assert (tmp_path / "latest.npz").read_bytes() == good


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(fresh_model(), [callbacks.BackupAndRestore(tmp_path, double_checkpoint=True),
                            Kill(epoch=2, batch=0)])
    assert (tmp_path / "latest.npz.bkp").exists()
    (tmp_path / "latest.npz").write_bytes(b"garbage")
    history = fit(fresh_model(), [callbacks.BackupAndRestore(tmp_path, double_checkpoint=True)])
    assert history.epoch == [1, 2, 3]  # the previous backup was taken after epoch 0


def test_unreadable_backup_is_an_error_naming_the_file(tmp_path):
    tmp_path.joinpath("latest.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"BackupAndRestore: cannot read the backup.*latest.npz"):
        fit(fresh_model(), [callbacks.BackupAndRestore(tmp_path)])


@pytest.mark.parametrize("cls", [callbacks.BackupAndRestore, callbacks.ModelCheckpoint])
def test_bad_save_freq_names_the_callback(cls, tmp_path):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: save_freq must be 'epoch' or"):
        cls(tmp_path / "x", save_freq="batch")


def test_model_checkpoint_every_n_batches(tmp_path):
    record = RecordWeights()
    pattern = str(tmp_path / "ck-{epoch}-{batch}.keras")
    fit(fresh_model(), [callbacks.ModelCheckpoint(pattern, save_freq=4), record], epochs=2)
    # 5 batches per epoch: saves after the 4th, 8th (epoch 2, batch 3)
    assert sorted(os.listdir(tmp_path)) == ["ck-1-4.keras", "ck-2-3.keras"]
    saved = load_model(tmp_path / "ck-2-3.keras")
    for got, want in zip(saved.get_weights(), record.at_batch[7]):
        np.testing.assert_array_equal(got, want)


# ---- TensorBoard ---------------------------------------------------------------------------

def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """The TFRecord payloads of an event file, each length and payload CRC checked."""
    data, records, at = path.read_bytes(), [], 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        assert header_crc == masked_crc(header), f"bad length CRC at byte {at}"
        payload = data[at + 12:at + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert payload_crc == masked_crc(payload), f"bad data CRC at byte {at}"
        records.append(payload)
        at += 16 + length
    return records


def events(folder):
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    (path,) = [folder / name for name in os.listdir(folder) if "tfevents" in name]
    parsed = []
    for record in read_records(path):
        event = event_pb2.Event()
        event.ParseFromString(record)
        parsed.append(event)
    return parsed


def values(folder):
    """{tag: {step: summary value}} of an event folder."""
    found = {}
    for event in events(folder):
        for value in event.summary.value:
            found.setdefault(value.tag, {})[event.step] = value
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_tensorboard_writes_event_files_tensorboard_reads(backend, tmp_path):
    pytest.importorskip("tensorboardX")
    board = callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True, update_freq=2)
    model = fresh_model(backend)
    history = model.fit(X[:32], Y[:32], epochs=3, batch_size=8, verbose=0, shuffle=False,
                        validation_data=(X[32:], Y[32:]), callbacks=[board])
    train, validation = values(tmp_path / "train"), values(tmp_path / "validation")
    losses = [train["epoch_loss"][e].simple_value for e in range(3)]
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-6)
    val_losses = [validation["epoch_loss"][e].simple_value for e in range(3)]
    np.testing.assert_allclose(val_losses, history.history["val_loss"], rtol=1e-6)
    assert train["epoch_learning_rate"][2].simple_value == pytest.approx(0.01)
    assert sorted(train["batch_loss"]) == [2, 4, 6, 8, 10, 12]  # every 2nd of 12 batches
    kernel = model.weights[0]
    histogram = train[f"{kernel.name}/histogram"][2].histo
    assert histogram.num == kernel.get_value().size
    assert histogram.max == pytest.approx(float(kernel.get_value().max()))
    assert train[f"{kernel.name}/image"][0].image.width == 8  # a (5, 8) kernel as a 5x8 image
    config_text = train["keras/text_summary"][0].tensor.string_val[0].decode()
    assert model.name in config_text  # the model's config as text


def test_event_reader_catches_a_corrupted_byte(tmp_path):
    pytest.importorskip("tensorboardX")
    fit(fresh_model(), [callbacks.TensorBoard(tmp_path)], epochs=1)
    folder = tmp_path / "train"
    (path,) = [folder / name for name in os.listdir(folder)]
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(AssertionError, match="bad data CRC"):
        read_records(path)


def test_tensorboard_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="TensorBoard: profile_batch is not supported"):
        callbacks.TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="TensorBoard: update_freq must be"):
        callbacks.TensorBoard(update_freq=0)


# ---- SwapEMAWeights ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_validation_uses_the_moving_average(backend):
    optimizer = optimizers.SGD(0.05, use_ema=True, ema_momentum=0.7)
    model = fresh_model(backend, optimizer)
    history = model.fit(X[:32], Y[:32], epochs=2, batch_size=8, verbose=0, shuffle=False,
                        validation_data=(X[32:], Y[32:]),
                        callbacks=[callbacks.SwapEMAWeights()])
    # fit ends with the weights set to their average: the last validation saw exactly these
    assert model.evaluate(X[32:], Y[32:], verbose=0) == pytest.approx(
        history.history["val_loss"][-1], rel=1e-6)
    plain = fresh_model(backend, optimizers.SGD(0.05))
    plain_history = plain.fit(X[:32], Y[:32], epochs=2, batch_size=8, verbose=0, shuffle=False,
                              validation_data=(X[32:], Y[32:]))
    assert plain_history.history["loss"] == pytest.approx(history.history["loss"], rel=1e-6)
    assert plain_history.history["val_loss"][-1] != pytest.approx(
        history.history["val_loss"][-1], rel=1e-4)


def test_swap_on_epoch_leaves_the_average_in_the_model_after_the_last_epoch():
    optimizer = optimizers.SGD(0.05, use_ema=True, ema_momentum=0.7)
    model = fresh_model("numpy", optimizer)
    record = RecordWeights()
    fit(model, [callbacks.SwapEMAWeights(swap_on_epoch=True), record], epochs=2)
    averages = [a.get_value() for a in optimizer.averages(model.trainable_weights)]
    for got, want in zip(model.get_weights(), averages):
        np.testing.assert_array_equal(got, want)


def test_swap_needs_an_optimizer_with_use_ema():
    model = fresh_model("numpy", optimizers.SGD(0.05))
    with pytest.raises(ValueError, match=r"SwapEMAWeights: needs an optimizer created with "
                                         r"use_ema=True. Received: SGD\(use_ema=False\)"):
        model.fit(X, Y, epochs=1, verbose=0, validation_data=(X, Y),
                  callbacks=[callbacks.SwapEMAWeights()])
