"""The unit every layer passes around: one model decision made of text pairs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    """One model decision.

    ``pairs`` holds one ``(text, text_pair)`` for classification and one per choice for multiple
    choice. ``group`` ties together examples scored jointly (a MultiRC question's answers, a
    ReCoRD query's candidate entities); ``meta`` keeps what submissions and metrics need.
    """

    uid: str
    pairs: tuple[tuple[str, str | None], ...]
    label: int | None = None
    group: str | None = None
    meta: dict = field(default_factory=dict, compare=False)
