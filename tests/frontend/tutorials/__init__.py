"""Keras MNIST tutorials of three eras, run on graphc with only their imports changed.

Each `tutorial_*` function in this package is the code a public Keras tutorial teaches,
rewritten in our own words but with the Keras API calls exactly as the tutorial makes them;
only the import lines say `frontend` instead of `keras`. The sizes are shrunk so each runs in
seconds:
500 training and 200 test digits of `mnist.load_data()` (offline: the packaged sample) are
passed in as `data`, 1-2 epochs instead of 12-20, and hard-coded sample counts
(`reshape(60000, 784)`) become the small ones. Each runs on the NumPy interpreter and on the
LLVM backend (chosen with `frontend.backend.set_default_backend`, so the tutorial's own
`compile()` call is unchanged).

Sources (facts only): keras-team/keras examples/mnist_mlp.py (its Keras 1 and Keras 2
versions) and examples/mnist_cnn.py (Keras 2), the Keras 1 "Getting started with the
Sequential model" guide (SGD with nesterov, `init=`, `nb_epoch=`), Keras 1 lab scripts
(`Dense(output_dim=..., input_dim=784)`, `Model(input=, output=)`), the Keras 2 guide's
"Sequence classification with 1D convolutions", the TensorFlow 2 beginner quickstart
(Flatten, logits, `Sequential([model, Softmax()])`), keras.io's Keras 3 "Simple MNIST
convnet" and functional-API guide (sparse labels, from_logits, `.keras` saving), the Keras 2
optimizer reference (arguments `lr`, `decay`, `epsilon=None`, `schedule_decay`), a
`K.get_value`/`K.set_value` learning-rate schedule, and the widespread "save your model to
JSON and HDF5" blog recipe (`to_json` + `save_weights('model.h5')`, `model_from_json`).
"""
