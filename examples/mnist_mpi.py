"""MNIST with the tutorial's multilayer perceptron, trained data-parallel over MPI ranks.

The model, optimizer and global batch of examples/mnist_mlp.py (784-500-500-10, Adam, 100
digits per step); `frontend.distribution.DataParallel` gives each rank its 100 / ranks digits
of every batch and averages the gradients across ranks before each update, so the ranks train
one model. Rank 0 prints and saves (out/mnist_mpi.zip); every rank ends with the same weights.

    mpiexec -n 2 python examples/mnist_mpi.py [--epochs 20] [--backend llvm|numpy] [--smoke]

Without mpiexec it runs as one process, unchanged (one rank).
"""

import sys
import time

import numpy as np
from _common import check_reload, example_arguments, load_digits, output_folder
from mnist_mlp import TARGET_ACCURACY, build_model

from frontend import distribution


def train(args, data_parallel):
    (x_train, y_train), (x_test, y_test) = load_digits((784,), 400 if args.smoke else None)
    model = build_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  backend=args.backend)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=100, epochs=1 if args.smoke else args.epochs,
              validation_split=0.1, verbose=2)
    print(f"trained on {data_parallel.num_processes} rank(s) in "
          f"{time.perf_counter() - start:.1f} s")
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)  # every rank: the same numbers
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    return model, x_test, accuracy


def main():
    args = example_arguments(__doc__, epochs=20, smoke_data="400 digits").parse_args()
    data_parallel = distribution.DataParallel()
    distribution.set_distribution(data_parallel)  # before the model is built, as in Keras
    out = output_folder(args)
    model, x_test, accuracy = train(args, data_parallel)
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    if not all(np.array_equal(weights, w) for w in data_parallel.world.allgather(weights)):
        sys.exit("the ranks' weights differ")
    if data_parallel.process_id == 0:  # one rank writes files
        check_reload(model, x_test, out / "mnist_mpi.zip")
    if not args.smoke and len(x_test) == 1000 and accuracy < TARGET_ACCURACY:
        sys.exit(f"test accuracy {accuracy:.4f} is below {TARGET_ACCURACY}")


if __name__ == "__main__":
    main()
