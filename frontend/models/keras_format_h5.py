"""Walking an HDF5 weights file without leaving it.

h5py follows soft links, external links (to other HDF5 files) and reads datasets whose bytes
live in external raw files or in other files (virtual datasets). A model file must not
make graphc read anything but its own bytes, so every step below a group goes through a
hard link only, and a dataset is read only if it stores its data inside the file.
"""

from __future__ import annotations

from frontend.models.archive import FileFormatError

try:
    import h5py
except ImportError:  # the `h5` extra; only Keras-format files need it
    h5py = None


def require_h5py(what: str):
    if h5py is None:
        raise ImportError(f"{what} needs h5py: pip install h5py (or graphc's 'h5' extra)")
    return h5py


def child(group, key: str, where: str):
    """`group[key]` if stored in the file (a hard link), None if absent."""
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise FileFormatError(
            f"{where}: {group.name.rstrip('/')}/{key} is a link ({type(link).__name__}) to "
            f"another place or file; graphc reads only objects stored in the weights file itself"
        )
    return group[key]


def walk(root, path: str, where: str):
    """The object at `path` below `root` through hard links only (None if absent)."""
    node = root
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, h5py.Group):
            return None
        node = child(node, part, where)
        if node is None:
            return None
    return node


def stored_dataset(node, path: str, where: str):
    """`node` if it is a numeric dataset whose bytes are inside the file."""
    if not isinstance(node, h5py.Dataset) or node.dtype.kind not in "biuf":
        raise FileFormatError(f"{where}: {path} is not a numeric dataset")
    if node.external or node.is_virtual:
        kind = "external raw files" if node.external else "other files (a virtual dataset)"
        raise FileFormatError(
            f"{where}: {path} keeps its data in {kind}; graphc reads only data stored in the "
            f"weights file itself"
        )
    return node
