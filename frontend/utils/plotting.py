"""PNG plots with matplotlib, an optional dependency (`pip install matplotlib`; from a checkout,
`pip install -e ".[plot]"`: the `graphc` on PyPI is an unrelated project)."""

from __future__ import annotations

import os

from graphc.files import atomic_write


def require_matplotlib():
    # matplotlib is optional and heavy: imported only when a plot is drawn.
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "Plotting the training history needs matplotlib: pip install matplotlib"
        ) from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: dict, epochs: list, to_file: str, metrics=None, dpi=96) -> str:
    """One panel per metric: the training curve and, if present, the validation curve."""
    names = metrics or [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    unknown = [m for m in names if m not in history]
    if unknown:
        raise ValueError(f"History.plot: no such metric {unknown}; recorded: {sorted(history)}")
    plt = require_matplotlib()
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    xs = [e + 1 for e in epochs] or list(range(1, len(history[names[0]]) + 1))
    for ax, name in zip(axes[0], names):
        ax.plot(xs, history[name], marker="o", label=name)
        if f"val_{name}" in history:
            ax.plot(xs, history[f"val_{name}"], marker="o", label=f"val_{name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
        ax.grid(alpha=0.3)
    figure.tight_layout()
    # to a file object matplotlib cannot guess the format: name it from the suffix
    fmt = os.path.splitext(str(to_file))[1].lstrip(".").lower() or None
    try:
        atomic_write(to_file, lambda f: figure.savefig(f, dpi=dpi, format=fmt))
    finally:
        plt.close(figure)
    return to_file
