"""Logging for one CLI invocation: with ``plait --debug``, plait's log records (with their
run and node ids) go to stderr; without it, logging is left as the host configured it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

__all__ = ["debug_logging"]

_CONTEXT = ("run_id", "node_id", "attempt", "attempts")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        ids = [f"{key}={getattr(record, key)}" for key in _CONTEXT if hasattr(record, key)]
        if ids:
            text += f"  [{' '.join(ids)}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def debug_logging() -> Callable[[], None]:
    """Send the ``plait`` loggers' records at DEBUG and up to stderr; returns the undo."""
    logger = logging.getLogger("plait")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return undo
