"""Dynamic workflows: ask a model to design a workflow for an objective, check its proposal
with the engine, and send the problems back until it is right (auto-completion), within a
number of iterations and a timeout.

::

    generation = await generate_workflow("Translate a text to French, then count its words",
                                         engine=engine, model=model, store=store)
    path.write_text(workflow_yaml(generation))

A proposal is accepted when the engine finds no problem in it, it uses only the allowed
kinds and the model's confidence reaches ``min_confidence`` (see :mod:`plait.apps.proposal`).
Accepted generations are cached (same objective, model and kinds: an instant answer) and
every generation leaves a line in the analytics log (:mod:`plait.apps.generations`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from plait.apps.generations import (
    AnalyticsEntry,
    CachedGeneration,
    GenerationStore,
    now,
    objective_hash,
)
from plait.apps.proposal import CheckedProposal, check_proposal, disallowed_kinds
from plait.apps.proposal_prompt import repair_prompt, system_prompt
from plait.apps.proposal_schema import DEFAULT_KINDS, MAX_NODES, proposal_schema
from plait.errors import ModelError, OutputInvalid, Problem, RunError, UsageError
from plait.graph.spec import WorkflowSpec
from plait.llm import Message, Model, ModelRequest
from plait.nodes.defaults import Engine

__all__ = [
    "CacheHit",
    "GenerateOptions",
    "Generation",
    "GenerationFailed",
    "IterationChecked",
    "IterationStarted",
    "Progress",
    "generate_workflow",
]

_SMALL_CONTEXT = 8192
"""Models with at most this many tokens of context get the compact prompt, and proposals
of at most ``_SMALL_MAX_NODES`` nodes."""
_SMALL_MAX_NODES = 8
_MAX_ECHO = 6000
"""Characters of an unparsable reply sent back to the model with its problems."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateOptions:
    max_iterations: int = 3
    """Proposals asked for at most (the first one and its corrections)."""
    timeout: float = 180.0
    """Seconds for the whole generation."""
    min_confidence: float = 0.5
    """A proposal whose confidence is lower is refused (and the model asked again)."""
    allowed_kinds: tuple[str, ...] = DEFAULT_KINDS
    use_cache: bool = True
    temperature: float | None = 0.2
    max_tokens: int = 2048

    def check(self, engine: Engine) -> None:
        """Refuse options that cannot work (a :class:`UsageError` naming the fix)."""
        if self.max_iterations < 1:
            raise UsageError("max_iterations must be at least 1")
        if self.timeout <= 0:
            raise UsageError("timeout must be more than 0 seconds")
        if not 0 <= self.min_confidence <= 1:
            raise UsageError("min_confidence must be between 0 and 1")
        if not self.allowed_kinds:
            raise UsageError("allow at least one node kind")
        unknown = [k for k in self.allowed_kinds if engine.kinds.get(k) is None]
        if unknown:
            raise UsageError(f"unknown node kind{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(engine.kinds.names())}")


@dataclass(frozen=True, slots=True)
class Generation:
    """An accepted workflow and how it was obtained."""

    spec: WorkflowSpec
    objective: str
    model: str
    confidence: float
    rationale: str
    iterations: int
    tokens: int
    duration: float
    cached: bool = False


@dataclass(frozen=True, slots=True)
class CacheHit:
    key: str


@dataclass(frozen=True, slots=True)
class IterationStarted:
    iteration: int
    max_iterations: int


@dataclass(frozen=True, slots=True)
class IterationChecked:
    iteration: int
    max_iterations: int
    problems: tuple[Problem, ...]
    confidence: float | None
    tokens: int
    """Tokens this iteration's model call used."""

    @property
    def accepted(self) -> bool:
        return not self.problems


Progress: TypeAlias = CacheHit | IterationStarted | IterationChecked


class GenerationFailed(RunError):
    """No acceptable workflow within the iterations or the time allowed. ``problems`` are
    those of the last proposal; ``rejected`` is where every proposal was kept, if anywhere."""

    code = "generation_failed"

    def __init__(self, message: str, *, problems: Sequence[Problem], iterations: int,
                 reason: Literal["iterations", "timeout"], rejected: Path | None = None,
                 tokens: int = 0) -> None:
        self.problems = list(problems)
        self.iterations = iterations
        self.reason = reason
        self.rejected = rejected
        self.tokens = tokens
        super().__init__(message)


def _echo(checked: CheckedProposal, text: str) -> str:
    """The previous reply as the model will see it again: compact JSON when it parsed."""
    if checked.data is not None:
        return json.dumps(checked.data, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + " ..."


def _from_cache(store: GenerationStore, key: str, engine: Engine,
                options: GenerateOptions) -> CachedGeneration | None:
    """The cached generation for ``key`` if it is still acceptable (kinds may have changed
    since, and a stricter confidence may be asked for now)."""
    cached = store.cached(key)
    if cached is None or cached.confidence < options.min_confidence:
        return None
    nodes = cached.spec.to_json_dict()["nodes"]
    if engine.validate(cached.spec) or disallowed_kinds(nodes, options.allowed_kinds):
        return None
    return cached


class _Attempts:
    """The state of one generation's loop (kept apart so a timeout can report it)."""

    def __init__(self) -> None:
        self.iterations = 0
        self.tokens = 0
        self.last: CheckedProposal | None = None
        self.history: list[dict[str, Any]] = []
        """Each iteration's proposal (parsed, else the raw text) and problems."""

    def add(self, iteration: int, checked: CheckedProposal, text: str) -> None:
        self.last = checked
        self.history.append({
            "iteration": iteration,
            "problems": [{"code": p.code, "message": p.message, "location": p.location}
                         for p in checked.problems],
            "proposal": checked.data if checked.data is not None else (text or None)})


async def _ask(model: Model, request: ModelRequest, attempts: _Attempts) -> str | Problem:
    """One model call: its text, or the problem to send back when the reply was unusable."""
    try:
        response = await model.complete(request)
    except OutputInvalid as err:
        return Problem("invalid_reply", str(err))
    except ModelError as err:
        if not err.retryable:
            raise
        await asyncio.sleep(min(err.retry_after or 1.0, 30.0))
        return Problem(err.code, f"the model could not answer: {err}")
    attempts.tokens += response.usage.total_tokens
    return response.text


async def _loop(objective: str, engine: Engine, model: Model, options: GenerateOptions,
                attempts: _Attempts, on_progress: Callable[[Progress], None]) -> Generation:
    allowed = list(options.allowed_kinds)
    compact = model.capabilities.context_length <= _SMALL_CONTEXT
    base = (Message.system(system_prompt(engine, allowed, compact=compact)),
            Message.user(f"Objective: {objective.strip()}\n\nPropose the workflow."))
    schema = proposal_schema(engine, allowed, max_nodes=_SMALL_MAX_NODES if compact else MAX_NODES)
    request = ModelRequest(messages=base, response_schema=schema,
                           temperature=options.temperature, max_tokens=options.max_tokens)
    started = time.monotonic()
    total = options.max_iterations
    for iteration in range(1, total + 1):
        attempts.iterations = iteration
        on_progress(IterationStarted(iteration, total))
        before = attempts.tokens
        # a new seed each time, so a model that samples gives a new proposal when asked again
        reply = await _ask(model, request.model_copy(update={"seed": iteration}), attempts)
        if isinstance(reply, Problem):
            checked, text = CheckedProposal(problems=[reply]), ""
        else:
            text = reply
            checked = check_proposal(text, engine, allowed=allowed,
                                     min_confidence=options.min_confidence)
        attempts.add(iteration, checked, text)
        on_progress(IterationChecked(iteration, total, tuple(checked.problems),
                                     checked.confidence, attempts.tokens - before))
        if checked.ok:
            assert checked.spec is not None
            assert checked.confidence is not None
            return Generation(spec=checked.spec, objective=objective, model=model.name,
                              confidence=checked.confidence, rationale=checked.rationale,
                              iterations=iteration, tokens=attempts.tokens,
                              duration=time.monotonic() - started)
        if text and compact:
            # a small context has no room for the proposal again: the problems alone
            request = request.model_copy(update={"messages": (
                *base, Message.user(repair_prompt(checked.problems, shown=False)))})
        elif text:
            request = request.model_copy(update={"messages": (
                *base, Message.assistant(_echo(checked, text)),
                Message.user(repair_prompt(checked.problems)))})
    raise GenerationFailed(
        f"no acceptable workflow after {total} iteration{'s' if total != 1 else ''} (more "
        "iterations, a stronger model or a simpler objective may help)",
        problems=attempts.last.problems if attempts.last else [], iterations=total,
        reason="iterations", tokens=attempts.tokens)


async def generate_workflow(objective: str, *, engine: Engine, model: Model,
                            options: GenerateOptions | None = None,
                            store: GenerationStore | None = None,
                            on_progress: Callable[[Progress], None] | None = None,
                            ) -> Generation:
    """Design a workflow for ``objective`` with ``model``, checked against ``engine``.

    Raises :class:`GenerationFailed` when no proposal is accepted in time (the last one is
    kept in ``store``), :class:`UsageError` for bad options, and the model's own
    :class:`~plait.errors.ModelError` when it cannot be reached at all.
    """
    options = options or GenerateOptions()
    options.check(engine)
    if not objective.strip():
        raise UsageError("the objective is empty; say what the workflow should do")
    report = on_progress or (lambda _: None)
    key = GenerationStore.key(objective, model.name, options.allowed_kinds)
    started = time.monotonic()

    if store is not None and options.use_cache:
        cached = _from_cache(store, key, engine, options)
        if cached is not None:
            report(CacheHit(key))
            generation = Generation(spec=cached.spec, objective=objective, model=model.name,
                                    confidence=cached.confidence, rationale=cached.rationale,
                                    iterations=cached.iterations, tokens=0,
                                    duration=time.monotonic() - started, cached=True)
            _record(store, generation, cached=True)
            return generation

    attempts = _Attempts()
    try:
        try:
            async with asyncio.timeout(options.timeout):
                generation = await _loop(objective, engine, model, options, attempts, report)
        except TimeoutError:
            raise GenerationFailed(
                f"no acceptable workflow within the {options.timeout:g}s timeout "
                f"({attempts.iterations} iteration{'s' if attempts.iterations != 1 else ''} "
                "started)", problems=attempts.last.problems if attempts.last else [],
                iterations=attempts.iterations, reason="timeout",
                tokens=attempts.tokens) from None
    except (GenerationFailed, ModelError) as err:
        if store is None:
            raise
        store.record(AnalyticsEntry(
            timestamp=now(), objective_hash=objective_hash(objective), model=model.name,
            iterations=attempts.iterations, valid=False,
            confidence=attempts.last.confidence if attempts.last else None,
            tokens=attempts.tokens, duration=time.monotonic() - started, error=err.code))
        if not isinstance(err, GenerationFailed) or attempts.last is None:
            raise
        rejected = store.save_rejected(key, _rejected(objective, model, attempts))
        raise GenerationFailed(f"{err}; the proposals and their problems are in {rejected}",
                               problems=err.problems, iterations=err.iterations,
                               reason=err.reason, rejected=rejected, tokens=err.tokens) from None
    if store is not None:
        store.save(key, CachedGeneration(
            objective=objective, model=model.name, allowed_kinds=list(options.allowed_kinds),
            spec=generation.spec, confidence=generation.confidence,
            rationale=generation.rationale, iterations=generation.iterations,
            tokens=generation.tokens, created=now()))
        _record(store, generation, cached=False)
    return generation


def _rejected(objective: str, model: Model, attempts: _Attempts) -> dict[str, Any]:
    return {"objective": objective, "model": model.name, "created": now(),
            "iterations": attempts.iterations, "attempts": attempts.history}


def _record(store: GenerationStore, generation: Generation, *, cached: bool) -> None:
    store.record(AnalyticsEntry(
        timestamp=now(), objective_hash=objective_hash(generation.objective),
        model=generation.model, iterations=0 if cached else generation.iterations, valid=True,
        confidence=generation.confidence, tokens=generation.tokens,
        duration=generation.duration, cached=cached))
