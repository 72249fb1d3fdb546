"""What the LLM-workflow sides (``bench/sides/*_llm.py``) share: the target they build, and
the plain-asyncio ordering of a shape's calls used by the rows that have no workflow engine
(the bare clients)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.llm_scenarios import Call, Shape, join, root_prompt, step_prompt
from bench.sides import Unsupported

__all__ = ["LlmTarget", "Unsupported", "check_result", "prompt_for", "run_shape"]


@dataclass(slots=True)
class LlmTarget:
    """One workflow, built once, ready to run: ``arun(task)`` runs it on one input and
    returns its result text (the sinks' replies, one per line)."""

    arun: Callable[[str], Awaitable[str]]
    aclose: Callable[[], Awaitable[None]] | None = None
    prepare: Callable[[str], None] | None = None
    """Called (untimed) before a phase with that phase's first input (GraphBit builds its
    input-less workflow for the phase's latency here)."""


def prompt_for(call: Call, replies: dict[str, str], task: str) -> str:
    if not call.deps:
        return root_prompt(call, task)
    return step_prompt(call, [replies[d] for d in call.deps])


async def run_shape(shape: Shape, call: Callable[[str], Awaitable[str]], task: str) -> str:
    """Make the shape's calls with ``call``, wave by wave (one wave's calls at once)."""
    replies: dict[str, str] = {}
    for wave in shape.levels:
        if len(wave) == 1:
            c = wave[0]
            replies[c.id] = await call(prompt_for(c, replies, task))
        else:
            outs = await asyncio.gather(*(call(prompt_for(c, replies, task)) for c in wave))
            replies.update(zip((c.id for c in wave), outs, strict=True))
    return join([replies[s] for s in shape.sinks])


def check_result(result: object, shape: Shape, tag: str) -> None:
    """A run's result: one reply per sink, each a mock reply carrying the latency tag."""
    if not isinstance(result, str):
        raise AssertionError(f"result is {type(result).__name__}, not text")
    lines = result.split("\n")
    if len(lines) != len(shape.sinks):
        raise AssertionError(f"expected {len(shape.sinks)} replies: {result!r}")
    for line in lines:
        if not (line.startswith("reply ") and line.endswith(tag)):
            raise AssertionError(f"unexpected reply {line!r}")
