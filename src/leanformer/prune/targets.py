"""Pruning targets: how many heads, FFN neurons, hidden channels and layers to keep, and the steps to get there."""

from __future__ import annotations

from dataclasses import dataclass

from leanformer.errors import LeanformerError


def parse_target(text: str | None) -> int | float | None:
    """CLI form: '6' is a count, '0.5' a ratio; anything else is an error."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise LeanformerError(f"pruning target '{text}' is neither a count nor a ratio") from None


def _parse_targets(text: str, sizes: tuple[int, ...], form: str) -> list[tuple]:
    targets = [tuple(parse_target(x) for x in item.split(":")) for item in text.split(",") if item.strip()]
    if not targets or any(len(t) not in sizes for t in targets):
        raise LeanformerError(f"targets must be {form} separated by commas, got '{text}'")
    return targets


def parse_target_pairs(text: str) -> list[tuple[int | float, int | float]]:
    """CLI form of sweep targets: 'HEADS:FFN' pairs separated by commas, e.g. '1.0:0.5,6:768'."""
    return _parse_targets(text, (2,), "HEADS:FFN pairs")


def parse_levels(text: str) -> list[tuple[int | float, ...]]:
    """CLI form of the recipe's pruning levels: 'HEADS:FFN' or 'HEADS:FFN:HIDDEN', e.g. '0.5:0.5,6:1536:384'."""
    return _parse_targets(text, (2, 3), "HEADS:FFN or HEADS:FFN:HIDDEN levels")


def resolve_target(value: int | float | None, total: int, what: str) -> int | None:
    """The number of units each layer keeps: a count in 1..total, or a ratio in (0, 1] of ``total``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LeanformerError(f"{what} target must be a count or a ratio, got {value!r}")
    if isinstance(value, float) and 0 < value <= 1:
        return max(1, round(value * total))
    if isinstance(value, float):
        if not value.is_integer():
            raise LeanformerError(f"{what} target {value} is not a whole number (use a count, or a ratio in (0, 1])")
        value = int(value)
    if value < 1:
        raise LeanformerError(f"{what} target must keep at least 1 per layer, got {value}")
    if value > total:
        raise LeanformerError(f"{what} target {value} is more than the {total} each layer has")
    return value


@dataclass(frozen=True)
class Shape:
    """What every layer keeps after one pruning step (None: as it is), and how many layers remain."""

    heads: int | None = None
    ffn: int | None = None
    hidden: int | None = None
    layers: int | None = None


def schedule(now: Shape, target: Shape, steps: int) -> list[Shape]:
    """``steps`` shapes from ``now`` to ``target``, each dimension shrinking linearly; the last is ``target``."""
    if steps < 1:
        raise LeanformerError(f"steps must be at least 1, got {steps}")

    def at(k: int, field: str) -> int | None:
        start, end = getattr(now, field), getattr(target, field)
        return None if end is None else round(start + (end - start) * k / steps)

    return [Shape(*(at(k, f) for f in ("heads", "ffn", "hidden", "layers"))) for k in range(1, steps + 1)]
