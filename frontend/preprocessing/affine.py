"""Affine image transforms as Keras 2's `apply_affine_transform` computes them (rotation,
shift, shear, zoom about the image centre; bilinear sampling; fill modes 'constant',
'nearest', 'reflect', 'wrap'), in NumPy alone."""

from __future__ import annotations

import numpy as np

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def transform_matrix(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0):
    """The 3x3 matrix mapping output (row, col, 1) to input coordinates, before centring;
    angles in degrees; None for the identity."""
    parts = []
    if theta:
        t = np.deg2rad(theta)
        parts.append([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    if tx or ty:
        parts.append([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    if shear:
        s = np.deg2rad(shear)
        parts.append([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    if zx != 1 or zy != 1:
        parts.append([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    if not parts:
        return None
    matrix = np.eye(3)
    for part in parts:
        matrix = matrix @ np.array(part, dtype=np.float64)
    return matrix


def centred(matrix, rows: int, cols: int):
    """`matrix` applied about the image centre (Keras's transform_matrix_offset_center)."""
    o_r, o_c = rows / 2 + 0.5, cols / 2 + 0.5
    offset = np.array([[1, 0, o_r], [0, 1, o_c], [0, 0, 1]])
    reset = np.array([[1, 0, -o_r], [0, 1, -o_c], [0, 0, 1]])
    return offset @ matrix @ reset


def apply_affine(image, matrix, fill_mode="nearest", cval=0.0):
    """`image` (rows, cols, channels) resampled through `matrix` (see transform_matrix)."""
    if matrix is None:
        return image
    rows, cols = image.shape[:2]
    full = centred(matrix, rows, cols)
    grid_r, grid_c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    src_r = full[0, 0] * grid_r + full[0, 1] * grid_c + full[0, 2]
    src_c = full[1, 0] * grid_r + full[1, 1] * grid_c + full[1, 2]
    return bilinear(image, src_r, src_c, fill_mode, cval).astype(image.dtype)


def bilinear(image, src_r, src_c, fill_mode, cval):
    """Bilinear samples of `image` at fractional (src_r, src_c); outside by fill_mode."""
    r0, c0 = np.floor(src_r).astype(np.int64), np.floor(src_c).astype(np.int64)
    fr, fc = (src_r - r0)[..., None], (src_c - c0)[..., None]
    out = 0.0
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            out = out + wr * wc * _pixels(image, r0 + dr, c0 + dc, fill_mode, cval)
    return out


def _pixels(image, r, c, fill_mode, cval):
    rows, cols = image.shape[:2]
    if fill_mode == "constant":
        inside = ((r >= 0) & (r < rows) & (c >= 0) & (c < cols))[..., None]
        values = image[np.clip(r, 0, rows - 1), np.clip(c, 0, cols - 1)]
        return np.where(inside, values, cval)
    return image[_fold(r, rows, fill_mode), _fold(c, cols, fill_mode)]


def _fold(index, size: int, fill_mode: str):
    """Indices outside [0, size) mapped inside: clamped, mirrored (d c b a | a b c d) or
    wrapped around."""
    if fill_mode == "nearest":
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return np.mod(index, size)
    index = np.mod(index, 2 * size)
    return np.where(index >= size, 2 * size - 1 - index, index)


def channel_shift(image, intensity: float):
    """Every channel shifted by `intensity`, clipped to the image's value range."""
    return np.clip(image + intensity, image.min(), image.max())
