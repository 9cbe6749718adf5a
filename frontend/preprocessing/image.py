"""Keras 2's `keras.preprocessing.image.ImageDataGenerator`: random augmentation (rotation,
shifts, shear, zoom, flips, channel shifts) and normalization (rescale, sample- and
feature-wise centering and std normalization) of image batches, and `flow(x, y)`, a Sequence
that fit/evaluate/predict read batch by batch. Reproducible: the same seed gives the same
batches, whichever thread reads them."""

from __future__ import annotations

import numpy as np

from frontend import config
from frontend.preprocessing.affine import (
    FILL_MODES,
    apply_affine,
    channel_shift,
    transform_matrix,
)
from frontend.utils.sequence import Sequence

REFUSED = {
    "zca_whitening": "ZCA whitening is not implemented; use featurewise_std_normalization",
    "brightness_range": "brightness_range needs PIL; scale the images in "
                        "preprocessing_function instead",
}


class ImageDataGenerator:
    """Augments and normalizes batches of images (samples, rows, cols, channels).

    Args (as Keras 2): rotation_range (degrees), width_shift_range / height_shift_range (a
    fraction of the size if < 1, else pixels; or a list of choices), shear_range (degrees),
    zoom_range (float z: [1-z, 1+z], or [low, high]), channel_shift_range,
    horizontal_flip, vertical_flip, fill_mode and cval (outside the image), rescale
    (multiplies), preprocessing_function (runs first on each image), featurewise_center and
    featurewise_std_normalization (statistics from `fit(x)`), samplewise_center,
    samplewise_std_normalization, data_format, validation_split (flow's `subset`), dtype.
    Example:
        datagen = ImageDataGenerator(rotation_range=10, horizontal_flip=True, rescale=1/255)
        model.fit(datagen.flow(x_train, y_train, batch_size=32, seed=1), epochs=5)
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0, width_shift_range=0.0,
                 height_shift_range=0.0, brightness_range=None, shear_range=0.0, zoom_range=0.0,
                 channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None,
                 data_format=None, validation_split=0.0, interpolation_order=1, dtype=None):
        for name, value in (("zca_whitening", zca_whitening),
                            ("brightness_range", brightness_range)):
            if value:
                raise ValueError(f"ImageDataGenerator: {REFUSED[name]}. Received: "
                                 f"{name}={value!r}")
        self._check_choices(fill_mode, interpolation_order, validation_split)
        self.featurewise_center, self.samplewise_center = featurewise_center, samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.rotation_range, self.shear_range = rotation_range, shear_range
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.zoom_range = _zoom_bounds(zoom_range)
        self.channel_shift_range, self.fill_mode, self.cval = channel_shift_range, fill_mode, cval
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.data_format = data_format or config.image_data_format()
        self.validation_split, self.dtype = validation_split, dtype or config.floatx()
        self.mean = self.std = None

    @staticmethod
    def _check_choices(fill_mode, interpolation_order, validation_split):
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {FILL_MODES}. "
                             f"Received: fill_mode={fill_mode!r}")
        if interpolation_order != 1:
            raise ValueError(f"ImageDataGenerator: only bilinear sampling "
                             f"(interpolation_order=1). Received: {interpolation_order!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"ImageDataGenerator: validation_split must be in [0, 1). "
                             f"Received: {validation_split!r}")

    # ---- statistics and normalization ------------------------------------------------------

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the per-channel mean and std that featurewise_center /
        featurewise_std_normalization use (from x, augmented `rounds` times if asked)."""
        x = self._images(x, "fit")
        if augment:
            rng = np.random.default_rng(seed)
            x = np.concatenate([self._augmented(x, rng) for _ in range(rounds)])
        axes = (0, 2, 3) if self.data_format == "channels_first" else (0, 1, 2)
        self.mean = np.mean(x, axis=axes, keepdims=True)[0]
        self.std = np.std(x, axis=axes, keepdims=True)[0]

    def standardize(self, x):
        """Normalize one image or a batch, in Keras 2's order: preprocessing_function,
        rescale, sample-wise then feature-wise centering and scaling."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        x = np.asarray(x, dtype=self.dtype)
        if self.rescale:
            x = x * self.rescale
        if self.samplewise_center:
            x = x - np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x = x / (np.std(x, keepdims=True) + 1e-6)
        if self.featurewise_center or self.featurewise_std_normalization:
            if self.mean is None:
                raise ValueError("ImageDataGenerator: featurewise_center / "
                                 "featurewise_std_normalization need fit(x_train) first")
            x = x - self.mean if self.featurewise_center else x
            x = x / (self.std + 1e-6) if self.featurewise_std_normalization else x
        return x

    # ---- random transforms ------------------------------------------------------------------

    def random_transform(self, x, seed=None):
        """One image (rows, cols, channels in data_format), randomly transformed."""
        return self._transform_one(np.asarray(x), np.random.default_rng(seed))

    def _transform_one(self, image, rng):
        last = np.moveaxis(image, 0, -1) if self.data_format == "channels_first" else image
        rows, cols = last.shape[:2]
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = _shift(self.height_shift_range, rows, rng)
        ty = _shift(self.width_shift_range, cols, rng)
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        zx, zy = (1, 1) if self.zoom_range == (1, 1) else rng.uniform(*self.zoom_range, 2)
        last = apply_affine(last, transform_matrix(theta, tx, ty, shear, zx, zy),
                            self.fill_mode, self.cval)
        if self.channel_shift_range:
            shift = rng.uniform(-self.channel_shift_range, self.channel_shift_range)
            last = channel_shift(last, shift)
        if self.horizontal_flip and rng.random() < 0.5:
            last = last[:, ::-1]
        if self.vertical_flip and rng.random() < 0.5:
            last = last[::-1]
        return np.moveaxis(last, -1, 0) if self.data_format == "channels_first" else last

    def _augmented(self, x, rng):
        return np.stack([self._transform_one(image, rng) for image in x])

    def _images(self, x, method):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.{method}: expected images of rank 4 "
                             f"(samples, rows, cols, channels). Received: shape {x.shape}")
        return x

    # ---- batches ----------------------------------------------------------------------------

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", subset=None):
        """A Sequence of augmented, normalized batches (x, y[, sample_weight]) of x."""
        if save_to_dir is not None:
            raise ValueError("ImageDataGenerator.flow: save_to_dir is not supported (it "
                             f"needs PIL). Received: save_to_dir={save_to_dir!r}")
        arrays = [self._images(x, "flow")] + [None if a is None else np.asarray(a)
                                               for a in (y, sample_weight)]
        arrays = self._subset(arrays, subset)
        return NumpyArrayIterator(self, arrays, batch_size, shuffle, seed)

    def flow_from_directory(self, directory, *args, **kwargs):
        raise NotImplementedError(
            "ImageDataGenerator.flow_from_directory is not supported (graphc does not read "
            f"image files). Received: directory={directory!r}; load the images as arrays "
            "and use flow(x, y)")

    def _subset(self, arrays, subset):
        if subset is None:
            return arrays
        if subset not in ("training", "validation") or not self.validation_split:
            raise ValueError("ImageDataGenerator.flow: subset must be 'training' or "
                             "'validation', with validation_split > 0. Received: "
                             f"subset={subset!r}, validation_split={self.validation_split}")
        split = int(len(arrays[0]) * self.validation_split)
        part = slice(None, split) if subset == "validation" else slice(split, None)
        return [None if a is None else a[part] for a in arrays]


class NumpyArrayIterator(Sequence):
    """The batches of ImageDataGenerator.flow: a Sequence (for fit) that can also be drawn
    from forever with next() (for Keras 2 loops over `datagen.flow(...)`)."""

    def __init__(self, generator, arrays, batch_size, shuffle, seed):
        super().__init__()
        self.generator, self.arrays = generator, arrays
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.seed = np.random.SeedSequence().entropy if seed is None else seed
        self.n, self.epoch, self.next_index = len(arrays[0]), 0, 0
        self._order()

    def _order(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.index_array = rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of a flow of {len(self)} batches")
        chosen = self.index_array[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        augmented = self.generator._augmented(self.arrays[0][chosen], rng)
        x = np.stack([self.generator.standardize(image) for image in augmented])  # per sample
        rest = [a[chosen] for a in self.arrays[1:] if a is not None]
        return tuple([x] + rest) if rest else x

    def on_epoch_end(self):
        self.epoch += 1
        self._order()

    def __iter__(self):
        return self

    def __next__(self):
        if self.next_index >= len(self):
            self.next_index = 0
            self.on_epoch_end()
        self.next_index += 1
        return self[self.next_index - 1]


def _zoom_bounds(zoom_range):
    if np.isscalar(zoom_range):
        return (1 - zoom_range, 1 + zoom_range)
    if len(zoom_range) == 2:
        return tuple(float(z) for z in zoom_range)
    raise ValueError(f"ImageDataGenerator: zoom_range must be a float or [low, high]. "
                     f"Received: zoom_range={zoom_range!r}")


def _shift(shift_range, size: int, rng) -> float:
    """A random shift in pixels (Keras 2: fractions of `size` below 1, lists are choices)."""
    if not shift_range:
        return 0.0
    if isinstance(shift_range, (list, tuple, np.ndarray)):
        return float(rng.choice(shift_range))
    shift = rng.uniform(-shift_range, shift_range)
    return shift * size if shift_range < 1 else shift


__all__ = ["ImageDataGenerator", "NumpyArrayIterator"]
