"""Keras 2 preprocessing: pad_sequences, Tokenizer (and to_json / tokenizer_from_json),
text_to_word_sequence, hashing_trick, and ImageDataGenerator with flow() feeding fit."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Sequential
from frontend.preprocessing import image, sequence, text
from frontend.utils import pad_sequences
from tests.frontend.conftest import BACKENDS

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "cat and dog"]


def test_pad_sequences_follows_keras_for_every_argument():
    assert sequence.pad_sequences is pad_sequences
    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 0, 0]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=2, padding="post", truncating="post", value=-1),
        [[1, 2], [4, -1], [-1, -1]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4], [0, 0]])
    assert pad_sequences(seqs).dtype == np.int32
    floats = pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", value=9.0)
    np.testing.assert_array_equal(floats, [[9.0, 0.5], [1.5, 2.5]])
    vectors = pad_sequences([np.ones((1, 2)), np.ones((3, 2))], maxlen=2)
    assert vectors.shape == (2, 2, 2) and vectors[0, 0].tolist() == [0, 0]
    assert pad_sequences(seqs, maxlen=0).shape == (3, 0)


def test_pad_sequences_errors_name_the_argument():
    with pytest.raises(ValueError, match="padding` must be 'pre' or 'post'.*'middle'"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="item 1 is 5"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="not compatible with `value`"):
        pad_sequences([[1]], value="x")


def test_tokenizer_indexes_by_frequency_and_matches_keras():
    tokenizer = text.Tokenizer(num_words=5, oov_token="<unk>")
    tokenizer.fit_on_texts(TEXTS)
    assert list(tokenizer.word_index)[:4] == ["<unk>", "the", "cat", "dog"]
    assert tokenizer.word_counts["the"] == 3 and tokenizer.word_docs["cat"] == 2
    assert tokenizer.index_word[2] == "the" and tokenizer.document_count == 3
    assert tokenizer.texts_to_sequences(["the cat ate a fish"]) == [[2, 3, 1, 1, 1]]
    assert tokenizer.sequences_to_texts([[2, 3, 1]]) == ["the cat <unk>"]
    plain = text.Tokenizer()
    plain.fit_on_texts(TEXTS)
    assert plain.texts_to_sequences(["the fish"]) == [[1]]
    chars = text.Tokenizer(char_level=True)
    chars.fit_on_texts(["aab"])
    assert chars.word_index == {"a": 1, "b": 2}


def test_texts_to_matrix_modes():
    tokenizer = text.Tokenizer(num_words=4)
    tokenizer.fit_on_texts(TEXTS)  # indices: the 1, cat 2, dog 3
    docs = ["the the cat", "dog"]
    np.testing.assert_array_equal(tokenizer.texts_to_matrix(docs, "binary"),
                                  [[0, 1, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(tokenizer.texts_to_matrix(docs, "count"),
                                  [[0, 2, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_allclose(tokenizer.texts_to_matrix(docs, "freq")[0], [0, 2 / 3, 1 / 3, 0])
    tfidf = tokenizer.texts_to_matrix(docs, "tfidf")
    # Keras: (1 + log(count)) * log(1 + documents / (1 + documents containing the word))
    np.testing.assert_allclose(tfidf[0, 1], (1 + np.log(2)) * np.log(1 + 3 / (1 + 2)))
    with pytest.raises(ValueError, match="unknown mode 'bits'"):
        tokenizer.texts_to_matrix(docs, "bits")
    with pytest.raises(ValueError, match="num_words"):
        text.Tokenizer().sequences_to_matrix([[1]])


def test_tokenizer_json_round_trip_and_keras1_nb_words():
    tokenizer = text.Tokenizer(num_words=10, oov_token="?")
    tokenizer.fit_on_texts(TEXTS)
    clone = text.tokenizer_from_json(tokenizer.to_json())
    assert clone.word_index == tokenizer.word_index and clone.index_word == tokenizer.index_word
    assert clone.texts_to_sequences(TEXTS) == tokenizer.texts_to_sequences(TEXTS)
    np.testing.assert_array_equal(clone.texts_to_matrix(TEXTS, "tfidf"),
                                  tokenizer.texts_to_matrix(TEXTS, "tfidf"))
    with pytest.warns(DeprecationWarning, match="nb_words"):
        assert text.Tokenizer(nb_words=7).num_words == 7


def test_word_sequences_and_hashing():
    assert text.text_to_word_sequence("Hello, World! hello") == ["hello", "world", "hello"]
    assert text.text_to_word_sequence("a-b c", filters="", split="-") == ["a", "b c"]
    hashed = text.hashing_trick("one two one", 10, hash_function="md5")
    assert hashed[0] == hashed[2] and all(1 <= h < 10 for h in hashed)
    assert all(1 <= h < 5 for h in text.one_hot("a b c", 5))


def ramp_images(n=8, size=6):
    return np.arange(n * size * size * 2, dtype="float32").reshape(n, size, size, 2)


def test_flips_shifts_and_rescale_move_pixels_as_expected():
    x = ramp_images(1)
    flip = image.ImageDataGenerator(horizontal_flip=True)
    flipped = [flip.random_transform(x[0], seed=s) for s in range(8)]
    assert any(np.array_equal(f, x[0][:, ::-1]) for f in flipped)
    assert any(np.array_equal(f, x[0]) for f in flipped)
    shift = image.ImageDataGenerator(width_shift_range=[2], fill_mode="constant", cval=-1)
    shifted = shift.random_transform(x[0], seed=0)
    np.testing.assert_allclose(shifted[:, :4], x[0][:, 2:])  # samples 2 columns to the right
    assert np.all(shifted[:, 4:] == -1)
    assert np.allclose(image.ImageDataGenerator().random_transform(x[0]), x[0])
    rotated = image.ImageDataGenerator(rotation_range=90).random_transform(x[0], seed=3)
    assert rotated.shape == x[0].shape and not np.allclose(rotated, x[0])


def test_featurewise_and_samplewise_normalization():
    x = ramp_images()
    gen = image.ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    with pytest.raises(ValueError, match="need fit"):
        gen.standardize(x[0])
    gen.fit(x)
    assert gen.mean.shape == (1, 1, 2)
    batch = gen.flow(x, batch_size=8, shuffle=False)[0]
    np.testing.assert_allclose(batch.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(batch.std(axis=(0, 1, 2)), 1, atol=1e-3)
    per_sample = image.ImageDataGenerator(samplewise_center=True, rescale=0.5)
    out = per_sample.flow(x, batch_size=4, shuffle=False)[1]
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-3)


def test_flow_is_reproducible_with_its_seed_and_covers_every_sample():
    x, y = ramp_images(10), np.arange(10)
    gen = image.ImageDataGenerator(rotation_range=20, zoom_range=0.2, width_shift_range=0.1,
                                   height_shift_range=0.1, shear_range=5, vertical_flip=True,
                                   channel_shift_range=3.0, fill_mode="reflect")
    first, second = gen.flow(x, y, batch_size=4, seed=3), gen.flow(x, y, batch_size=4, seed=3)
    assert len(first) == 3
    for i in range(3):
        np.testing.assert_array_equal(first[i][0], second[i][0])
    assert sorted(np.concatenate([first[i][1] for i in range(3)]).tolist()) == list(range(10))
    xb, yb = next(iter(first))
    assert xb.shape == (4, 6, 6, 2) and yb.shape == (4,)
    split = image.ImageDataGenerator(validation_split=0.2)
    assert (split.flow(x, y, subset="training").n, split.flow(x, y, subset="validation").n) == (
        8, 2)
    with pytest.raises(ValueError, match="subset must be.*validation_split=0.0"):
        gen.flow(x, y, subset="training")


@pytest.mark.parametrize("backend", BACKENDS)
def test_flow_feeds_fit_on_both_backends(backend):
    rng = np.random.default_rng(0)
    x = rng.random((16, 6, 6, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64")
    model = Sequential([layers.Conv2D(2, 3, input_shape=(6, 6, 1)), layers.Flatten(),
                        layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", backend=backend)
    gen = image.ImageDataGenerator(rescale=2.0, horizontal_flip=True)
    history = model.fit(gen.flow(x, y, batch_size=8, seed=0), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_image_generator_refusals_name_the_argument():
    with pytest.raises(ValueError, match="zca_whitening"):
        image.ImageDataGenerator(zca_whitening=True)
    with pytest.raises(ValueError, match="fill_mode.*'mirror'"):
        image.ImageDataGenerator(fill_mode="mirror")
    with pytest.raises(ValueError, match=r"rank 4.*\(6, 6\)"):
        image.ImageDataGenerator().flow(np.zeros((6, 6)))
    with pytest.raises(NotImplementedError, match="flow_from_directory.*flow\\(x, y\\)"):
        image.ImageDataGenerator().flow_from_directory("images/")
