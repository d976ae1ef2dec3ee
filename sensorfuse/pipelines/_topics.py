"""Choosing a log's topic of one kind for a job: the one there is, or the one the user named (checked)."""

from __future__ import annotations

from typing import Any

from sensorfuse.errors import ValidationError

__all__ = ["pick_topic"]


def pick_topic(reader: Any, kind: str, topic: str | None, option: str) -> str:
    """``topic`` if the log has it as a ``kind`` stream, else the log's only ``kind`` topic.

    Raises:
        ValidationError: the named topic is not a ``kind`` topic, or there is not exactly one (``option`` named).
    """
    topics = [t for t, s in reader.streams.items() if s.kind == kind]
    if topic is None:
        if len(topics) != 1:
            raise ValidationError(
                f"{reader.path}: {len(topics)} {kind} topics ({', '.join(topics) or 'none'}); choose one with {option}"
            )
        return topics[0]
    if topic not in topics:
        raise ValidationError(f"{reader.path}: no {kind} topic {topic!r}; {kind} topics: {', '.join(topics) or 'none'}")
    return topic
