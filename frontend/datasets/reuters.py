"""Reuters newswires (11,228, 46 topics) as word indices, with Keras's `load_data()` and
`get_word_index()`; downloaded once from Keras's servers and checked against its checksums."""

from __future__ import annotations

import json

import numpy as np

from frontend.datasets import keras_files as kf

URL = kf.KERAS_FOLDER + "reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_URL = kf.KERAS_FOLDER + "reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # MD5, as Keras checks it


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)): newswires as lists of word indices, topic
    labels 0-45; shuffled with `seed`, the last `test_split` of them for testing. The other
    arguments are those of imdb.load_data."""
    num_words = kf.keras1_num_words(num_words, kwargs)
    kf.check_test_split(test_split, "reuters.load_data")
    with np.load(kf.local_file(path, URL, FILE_HASH), allow_pickle=True) as f:
        xs, labels = kf.shuffled(seed, f["x"], f["y"])
    xs = kf.reindexed(xs, start_char, index_from)
    if maxlen:
        xs, labels = kf.remove_long_seq(maxlen, xs, labels)
    xs, labels = kf.limited(xs, num_words, skip_top, oov_char), np.asarray(labels)
    split = int(len(xs) * (1 - test_split))
    return ((kf.object_array(xs[:split]), labels[:split]),
            (kf.object_array(xs[split:]), labels[split:]))


def get_word_index(path="reuters_word_index.json") -> dict:
    """{word: index} of the Reuters newswires (index 1 = the most frequent word)."""
    with open(kf.local_file(path, WORD_INDEX_URL, WORD_INDEX_HASH)) as f:
        return json.load(f)
