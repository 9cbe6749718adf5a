"""A text classifier on sequences of mixed lengths: Embedding -> LSTM -> Dense, on graphc.

The model's input is `Input(shape=(None,), dtype="int32")`: the sequence length is a run-time
size, so one compiled training step and one compiled prediction serve every length. The data
are made here (the script runs offline): "sentences" of 4 to 40 random tokens from a
vocabulary of 50; a sentence is positive when it contains the keyword token 1 (half of them
do, at a random place). Sentences are bucketed by length, so every batch has its own length
and nothing is padded. It trains with Adam on the llvm backend and fails if the held-out
accuracy ends below 90% (chance is 50%).

    python examples/text_lstm.py [--epochs 3] [--backend llvm|numpy] [--smoke]
"""

import argparse
import sys
import time

import numpy as np

from frontend.layers import LSTM, Dense, Embedding, Input
from frontend.models import Sequential
from frontend.utils import set_random_seed

VOCAB, KEYWORD, LENGTHS, BATCH = 50, 1, (4, 40), 32
TARGET_ACCURACY = 0.90


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="256 sentences, one epoch (tests)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backend", default="llvm", choices=["llvm", "numpy"])
    return parser.parse_args()


def make_sentences(n: int, rng: np.random.Generator):
    """n int32 token arrays of random lengths, and their labels (1: the keyword occurs)."""
    labels = rng.integers(0, 2, n)
    sentences = []
    for label in labels:
        tokens = rng.integers(KEYWORD + 1, VOCAB, rng.integers(LENGTHS[0], LENGTHS[1] + 1))
        if label:
            tokens[rng.integers(len(tokens))] = KEYWORD
        sentences.append(tokens.astype("int32"))
    return sentences, labels.astype("float32")


def buckets(sentences, labels, rng: np.random.Generator):
    """(tokens (batch, length), labels (batch, 1)) batches, each of sentences of one length,
    in random order."""
    by_length: dict = {}
    for k in rng.permutation(len(sentences)):
        by_length.setdefault(len(sentences[k]), []).append(k)
    batches = []
    for members in by_length.values():
        for start in range(0, len(members), BATCH):
            chosen = members[start : start + BATCH]
            batches.append((np.stack([sentences[k] for k in chosen]), labels[chosen][:, None]))
    return [batches[k] for k in rng.permutation(len(batches))]


def build_model():
    model = Sequential(
        [
            Input(shape=(None,), dtype="int32"),
            Embedding(VOCAB, 16),
            LSTM(24),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.summary()
    return model


def accuracy(model, batches) -> float:
    right = total = 0
    for tokens, labels in batches:
        predicted = model.predict(tokens, verbose=0) > 0.5
        right += int((predicted == (labels > 0.5)).sum())
        total += len(labels)
    return right / total


def train(model, sentences, labels, epochs: int, rng: np.random.Generator) -> None:
    for epoch in range(epochs):
        batches = buckets(sentences, labels, rng)
        losses = [float(np.ravel(model.train_on_batch(x, y))[0]) for x, y in batches]
        lengths = sorted({x.shape[1] for x, _ in batches})
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f} over {len(batches)} batches of "
              f"{len(lengths)} lengths ({lengths[0]}..{lengths[-1]})")


def main():
    args = parse_args()
    set_random_seed(0)
    rng = np.random.default_rng(0)
    n_train, n_test = (256, 64) if args.smoke else (3000, 800)
    train_sentences, train_labels = make_sentences(n_train, rng)
    test_batches = buckets(*make_sentences(n_test, rng), rng)

    model = build_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", backend=args.backend)
    start = time.perf_counter()
    train(model, train_sentences, train_labels, 1 if args.smoke else args.epochs, rng)
    print(f"trained in {time.perf_counter() - start:.1f} s on the {args.backend} backend")

    held_out = accuracy(model, test_batches)
    print(f"held-out accuracy {held_out:.4f} (chance 0.5)")
    if not args.smoke and held_out < TARGET_ACCURACY:
        sys.exit(f"held-out accuracy {held_out:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
