"""``plait runs prune``: remove old finished runs with their checkpoints, answers, events and
recorded calls (pending, running and waiting runs are never removed)."""

from __future__ import annotations

import time

from plait.cli.console import out_console, print_json
from plait.cli.resume import with_stores
from plait.cli.runstore import sweep_recordings
from plait.cli.wiring import settings
from plait.errors import UsageError
from plait.store import Stores

__all__ = ["prune_command"]

DAY = 86_400.0


def prune_command(*, keep_last: int | None, older_than: float | None, compact: bool,
                  json_output: bool) -> int:
    if keep_last is None and older_than is None and not compact:
        raise UsageError("say what to remove: --keep-last N (finished runs to keep per "
                         "workflow), --older-than DAYS, and/or --compact")
    config = settings()

    async def work(stores: Stores) -> dict[str, int]:
        removed = 0
        if keep_last is not None or older_than is not None:
            cutoff = None if older_than is None else time.time() - older_than * DAY
            removed = await stores.checkpoints.prune(keep_last=keep_last, older_than=cutoff)
        dropped = await stores.checkpoints.compact() if compact else 0
        recordings = await sweep_recordings(stores, config)
        return {"runs_removed": removed, "checkpoints_compacted": dropped,
                "recordings_removed": recordings}

    counts = with_stores(config, work)
    if json_output:
        print_json(counts)
        return 0
    runs = counts["runs_removed"]
    line = f"removed {runs} finished run{'s' if runs != 1 else ''}"
    if compact:
        line += f", compacted {counts['checkpoints_compacted']} superseded checkpoint(s)"
    out_console().print(line, markup=False, highlight=False)
    return 0
