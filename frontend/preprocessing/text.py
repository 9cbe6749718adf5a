"""Keras 2's `keras.preprocessing.text`: Tokenizer (words or characters -> integer indices,
most frequent first, 0 reserved), text_to_word_sequence, one_hot and hashing_trick, and
Tokenizer.to_json / tokenizer_from_json. Results equal Keras 2.3's."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict, defaultdict

import numpy as np

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text, filters=FILTERS, lower=True, split=" "):
    """The words of `input_text`: lowercased, `filters` characters removed, split on `split`."""
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in input_text.split(split) if word]


def hashing_trick(text, n, hash_function=None, filters=FILTERS, lower=True, split=" "):
    """Each word as `hash(word) % (n - 1) + 1` (0 stays free for padding). hash_function:
    None (Python's hash, which varies between runs unless PYTHONHASHSEED is set), 'md5'
    (stable), or a function of a string."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(word):
            return int(hashlib.md5(word.encode()).hexdigest(), 16)
    words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def one_hot(input_text, n, filters=FILTERS, lower=True, split=" "):
    """Keras's one_hot: word indices in [1, n) by hashing (not a one-hot matrix)."""
    return hashing_trick(input_text, n, hash, filters=filters, lower=lower, split=split)


class Tokenizer:
    """Turns texts into sequences of word indices (1 = the most frequent word) or into
    (texts, num_words) matrices.

    Args:
        num_words: keep only the num_words - 1 most frequent words (None: all).
        filters, lower, split: how texts are cut into words (text_to_word_sequence).
        char_level: every character is a token.
        oov_token: the token (index 1) standing for words not seen by fit_on_texts.
    Example:
        tokenizer = Tokenizer(num_words=1000); tokenizer.fit_on_texts(texts)
        x = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=100)
    """

    def __init__(self, num_words=None, filters=FILTERS, lower=True, split=" ",
                 char_level=False, oov_token=None, document_count=0, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("Tokenizer: `nb_words` is the Keras 1 name of `num_words`; use "
                          "`num_words` instead.", DeprecationWarning, stacklevel=2)
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Tokenizer: unknown keyword arguments {sorted(kwargs)}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token = char_level, oov_token
        self.document_count = document_count
        self.word_counts = OrderedDict()
        self.word_docs, self.index_docs = defaultdict(int), defaultdict(int)
        self.word_index, self.index_word = {}, {}

    def _tokens(self, text) -> list:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of `texts` (strings, or lists of tokens) and index them, most
        frequent first (ties: first seen first)."""
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for token in tokens:
                self.word_counts[token] = self.word_counts.get(token, 0) + 1
            for token in set(tokens):
                self.word_docs[token] += 1
        by_count = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = ([] if self.oov_token is None else [self.oov_token])
        vocabulary += [word for word, _ in by_count]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        for word, count in self.word_docs.items():
            self.index_docs[self.word_index[word]] = count

    def fit_on_sequences(self, sequences):
        """Count in how many documents each index appears (for tfidf on sequences)."""
        self.document_count += len(sequences)
        for sequence in sequences:
            for index in set(sequence):
                self.index_docs[index] += 1

    def texts_to_sequences(self, texts) -> list:
        """Each text as a list of word indices (unknown and rare words dropped, or oov)."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        oov_index = self.word_index.get(self.oov_token)
        for text in texts:
            indices = []
            for token in self._tokens(text):
                index = self.word_index.get(token)
                if index is not None and not (self.num_words and index >= self.num_words):
                    indices.append(index)
                elif oov_index is not None:
                    indices.append(oov_index)
            yield indices

    def sequences_to_texts(self, sequences) -> list:
        """The inverse: each sequence of indices as a text of words joined by spaces."""
        oov_word = self.oov_token
        texts = []
        for sequence in sequences:
            words = []
            for index in sequence:
                word = self.index_word.get(index)
                if word is not None and not (self.num_words and index >= self.num_words):
                    words.append(word)
                elif oov_word is not None:
                    words.append(oov_word)
            texts.append(" ".join(words))
        return texts

    def texts_to_matrix(self, texts, mode="binary") -> np.ndarray:
        """(texts, num_words) matrix; mode 'binary', 'count', 'tfidf' or 'freq'."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary") -> np.ndarray:
        """(sequences, num_words) matrix of index occurrences, as texts_to_matrix."""
        width = self._matrix_width()
        if mode not in MODES:
            raise ValueError(f"Tokenizer: unknown mode {mode!r}; choose one of {MODES}")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: fit on some data before using mode='tfidf'")
        matrix = np.zeros((len(sequences), width))
        for row, sequence in enumerate(sequences):
            indices, counts = np.unique([i for i in sequence if i < width], return_counts=True)
            if len(indices):
                matrix[row, indices] = self._scores(indices, counts, len(sequence), mode)
        return matrix

    def _matrix_width(self) -> int:
        if self.num_words:
            return self.num_words
        if self.word_index:
            return len(self.word_index) + 1
        raise ValueError(
            "Tokenizer: give `num_words` or fit on some texts before asking for a matrix"
        )

    def _scores(self, indices, counts, length, mode):
        if mode == "binary":
            return 1.0
        if mode == "count":
            return counts
        if mode == "freq":
            return counts / length
        docs = np.array([self.index_docs.get(int(i), 0) for i in indices])
        return (1 + np.log(counts)) * np.log(1 + self.document_count / (1 + docs))

    def get_config(self) -> dict:
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """The tokenizer as JSON (Keras's format); `tokenizer_from_json` reads it back."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)


def tokenizer_from_json(json_string) -> Tokenizer:
    """A Tokenizer from `Tokenizer.to_json()`'s output."""
    config = dict(json.loads(json_string).get("config"))
    tables = {name: json.loads(config.pop(name)) for name in
              ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in tables["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = tables["word_index"]
    return tokenizer


__all__ = ["Tokenizer", "hashing_trick", "one_hot", "text_to_word_sequence",
           "tokenizer_from_json"]
