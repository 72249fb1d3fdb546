from __future__ import annotations

import pytest

from plait import Engine, Event


class Recorder:
    """Collects events from an engine subscription."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def top(self) -> list[Event]:
        return [e for e in self.events if not e.path]

    def names(self, *, top_only: bool = True) -> list[str]:
        events = self.top() if top_only else self.events
        return [_label(e) for e in events]


def _label(event: Event) -> str:
    node = getattr(event, "node_id", None)
    name = type(event).__name__
    return f"{name}:{node}" if node else name


@pytest.fixture
def engine() -> Engine:
    return Engine(seed=7)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
