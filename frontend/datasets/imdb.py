"""IMDB movie reviews (25,000 train / 25,000 test, labelled positive or negative) as word
indices, with Keras's `load_data()` and `get_word_index()`; downloaded once from Keras's
servers into `$GRAPHC_HOME/datasets` and checked against Keras's checksums."""

from __future__ import annotations

import json

import numpy as np

from frontend.datasets import keras_files as kf

URL = kf.KERAS_FOLDER + "imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_URL = kf.KERAS_FOLDER + "imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # MD5, as Keras checks it


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)): reviews as lists of word indices (object
    arrays), labels 0/1; each split shuffled with `seed`, as Keras.

    Args:
        num_words: keep words of index below num_words (None: below the largest); others
            become oov_char. skip_top: also replace the skip_top most frequent words.
        maxlen: drop reviews of maxlen words or more.
        start_char: leads every review (None: nothing). index_from: word i is i + index_from.
    Example: `(x_train, y_train), _ = imdb.load_data(num_words=10000)`
    """
    num_words = kf.keras1_num_words(num_words, kwargs)
    with np.load(kf.local_file(path, URL, FILE_HASH), allow_pickle=True) as f:
        splits = [(f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])]
    rng = np.random.RandomState(seed)  # one generator for both splits, as Keras
    xs, labels = [], []
    for x, y in splits:
        order = np.arange(len(x))
        rng.shuffle(order)
        x, y = kf.reindexed(x[order], start_char, index_from), y[order]
        if maxlen:
            x, y = kf.remove_long_seq(maxlen, x, y)
            if not x:
                raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; "
                                 f"increase maxlen")
        xs.append(x)
        labels.append(np.asarray(y))
    words = kf.limited(xs[0] + xs[1], num_words, skip_top, oov_char)
    split = len(xs[0])
    return ((kf.object_array(words[:split]), labels[0]),
            (kf.object_array(words[split:]), labels[1]))


def get_word_index(path="imdb_word_index.json") -> dict:
    """{word: index} of the IMDB reviews (index 1 = the most frequent word; add index_from
    to read load_data's sequences)."""
    with open(kf.local_file(path, WORD_INDEX_URL, WORD_INDEX_HASH)) as f:
        return json.load(f)
