"""Plot files for reports: a headless matplotlib figure, saved atomically."""

from __future__ import annotations

from pathlib import Path


def figure(width: float = 6, height: float = 4):
    """``(fig, ax)`` on the Agg backend; matplotlib is imported only by the commands that plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=120)


def save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def labelled_scatter(path: Path, xs: list[float], ys: list[float], labels: list[str], xlabel: str, ylabel: str,
                     title: str, line: bool = False, log_x: bool = False, width: float = 6) -> None:
    """Points (optionally joined) with a small label each, written to ``path``."""
    fig, ax = figure(width, 4 if width <= 6 else 4.5)
    ax.plot(xs, ys, "o-" if line else "o")
    for x, y, label in zip(xs, ys, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    save(fig, path)
