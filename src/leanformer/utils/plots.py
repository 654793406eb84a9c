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
