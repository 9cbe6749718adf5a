"""Deconvolution2D: Keras 1/2's name of Conv2DTranspose, in Keras 1's call form
`Deconvolution2D(nb_filter, nb_row, nb_col, output_shape, subsample=(2, 2), border_mode='same')`.

Keras 1's keywords (nb_filter, subsample, border_mode, init, W_regularizer, bias, dim_ordering,
...) are renamed with a DeprecationWarning by frontend/legacy_names.py, as for every layer.
Keras 1 needed `output_shape` (the whole output, batch first) to size the transposed
convolution; here, as in Keras 2, the output shape follows from the input, strides and padding,
so a given `output_shape` is only checked against it when the layer is called.
"""

from __future__ import annotations

import numpy as np

from frontend import backend
from frontend.compat import warn_deprecated
from frontend.layers.conv_transpose import Conv2DTranspose
from graphc.ir import user_site


class Deconvolution2D(Conv2DTranspose):
    """`Deconvolution2D(32, 3, 3, (None, 14, 14, 32), subsample=(2, 2))`: Keras 1's 3x3
    transposed convolution; `Deconvolution2D(32, (3, 3), 2)` reads as Conv2DTranspose's
    (filters, kernel_size, strides). Saved and reloaded as itself."""

    def __init__(self, filters=None, nb_row=None, nb_col=None, output_shape=None, **kwargs):
        if nb_row is not None and kwargs.get("kernel_size") is not None:
            raise TypeError(f"Deconvolution2D: got both nb_row ({nb_row!r}) and kernel_size "
                            f"({kwargs['kernel_size']!r}); pass only kernel_size")
        if isinstance(nb_row, (int, np.integer)) and isinstance(nb_col, (int, np.integer)):
            warn_deprecated("Deconvolution2D", "nb_row, nb_col", "kernel_size=(rows, cols)")
            kwargs["kernel_size"] = (int(nb_row), int(nb_col))
        else:  # Conv2DTranspose's positional (kernel_size, strides)
            kwargs.update({k: v for k, v in (("kernel_size", nb_row), ("strides", nb_col))
                           if v is not None})
        kwargs["name"] = kwargs.get("name") or backend.unique_name("conv2d_transpose")
        super().__init__(filters, **kwargs)
        self.keras1_output_shape = None if output_shape is None else tuple(output_shape)

    def call(self, inputs):
        outputs = super().call(inputs)
        wanted = self.keras1_output_shape
        if wanted is not None and not _shapes_agree(wanted, tuple(outputs.shape)):
            raise ValueError(
                f"Deconvolution2D '{self.name}': `output_shape` {wanted} does not match the "
                f"output this layer computes, {tuple(outputs.shape)}, from an input of shape "
                f"{tuple(inputs.shape)} (at {user_site()})"
            )
        return outputs


def _shapes_agree(wanted, got) -> bool:
    """Equal ranks and equal sizes wherever both are known."""
    return len(wanted) == len(got) and all(
        w is None or g is None or w == g for w, g in zip(wanted, got)
    )


Deconv2D = Deconvolution2D  # Keras 2's short name

__all__ = ["Deconvolution2D", "Deconv2D"]
