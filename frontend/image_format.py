"""The session's image layout (Keras's `image_data_format`): the one place it is stored.
`frontend.config` and `frontend.backend` (K.*) both re-export these functions."""

from __future__ import annotations

_FORMATS = {"channels_last": "tf", "channels_first": "th"}
_IMAGE_DATA_FORMAT = ["channels_last"]


def image_data_format() -> str:
    """Where image layers expect channels by default: 'channels_last' (Keras's default) or
    'channels_first'."""
    return _IMAGE_DATA_FORMAT[0]


def set_image_data_format(data_format: str) -> None:
    """Set the default `data_format` of image layers created afterwards."""
    if data_format not in _FORMATS:
        raise ValueError(
            f"set_image_data_format: expected 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    _IMAGE_DATA_FORMAT[0] = data_format


def image_dim_ordering() -> str:
    """Keras 1's name for the image layout: 'tf' (channels last) or 'th' (channels first)."""
    return _FORMATS[_IMAGE_DATA_FORMAT[0]]


def set_image_dim_ordering(dim_ordering: str) -> None:
    """Keras 1's setter: 'tf' (channels last) or 'th' (channels first)."""
    by_ordering = {v: k for k, v in _FORMATS.items()}
    if dim_ordering not in by_ordering:
        raise ValueError(
            f"set_image_dim_ordering: expected 'tf' or 'th'. Received: {dim_ordering!r}"
        )
    _IMAGE_DATA_FORMAT[0] = by_ordering[dim_ordering]
