"""What the mock LLM answers: requests as every API sees them, replies, and scripts.

- :class:`LLMRequest` is one model call normalised across APIs: the model, the conversation as
  :class:`Message` values (system, user, assistant with tool calls, tool results), the tools
  offered, and the raw JSON body.
- :class:`Reply` is one answer: text and/or :class:`ToolCall` values (several = parallel
  calls), optional latency overrides, and optionally a :class:`~plait.testing.Fault`.
- :class:`Script` hands out replies in order, then falls back to a function of the request
  (by default :func:`hash_reply`, a short text derived from the prompt).
  :meth:`Script.agent` is the stateless script of a tool-using agent: it answers with the
  next round of tool calls until the conversation holds that many rounds, then with text.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from plait.testing.mock_faults import Fault

__all__ = [
    "LLMRequest",
    "Message",
    "Reply",
    "Responder",
    "Script",
    "ScriptItem",
    "ToolCall",
    "as_reply",
    "hash_reply",
    "tokenize",
]

_TOKEN_RE: Final = re.compile(r"\s*\S+|\s+$")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into word tokens that keep their leading whitespace ("a b" -> "a", " b")."""
    return _TOKEN_RE.findall(text) or [""]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model makes: a name and JSON arguments.

    ``id`` is the call's id in the API's answer; ``None`` derives a stable one from the request
    (``call_...`` for OpenAI and Ollama, ``toolu_...`` for Anthropic).
    """

    name: str
    arguments: Mapping[str, object] = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation a client sent, whatever its API called it.

    ``role`` is ``system``, ``user``, ``assistant`` or ``tool`` (a tool result: ``text`` is the
    result, ``tool_call_id`` and/or ``name`` say which call it answers).
    """

    role: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """A model call as any protocol sees it: what the script decides a reply from.

    Equality compares the first six fields (what arrived); the rest are derived from the body.
    """

    protocol: str
    endpoint: str
    model: str
    prompt: str
    stream: bool
    body: Mapping[str, object]
    messages: tuple[Message, ...] = field(default=(), compare=False)
    tools: tuple[str, ...] = field(default=(), compare=False)
    """Names of the tools the client offered."""
    max_tokens: int | None = field(default=None, compare=False)
    index: int = field(default=-1, compare=False)
    """The call's number on its server, from 0 (set when the server receives it)."""

    @property
    def tool_results(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role == "tool")

    @property
    def tool_rounds(self) -> int:
        """How many assistant turns with tool calls the conversation already holds."""
        return sum(1 for m in self.messages if m.role == "assistant" and m.tool_calls)

    @property
    def last_user_text(self) -> str:
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: ``text`` and/or ``tool_calls``.

    ``None`` latencies fall back to the server's settings. ``fault`` breaks this turn (see
    :class:`~plait.testing.Fault`); ``status`` other than 200 is a shorthand for
    ``Fault.error(status, text)``.
    """

    text: str = ""
    ttft: float | None = None
    token_delay: float | None = None
    status: int = 200
    tool_calls: tuple[ToolCall, ...] = ()
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tool_calls, tuple):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @classmethod
    def calling(
        cls,
        *calls: ToolCall,
        text: str = "",
        ttft: float | None = None,
        token_delay: float | None = None,
    ) -> Reply:
        """A reply that calls tools (several calls = parallel calls), with optional text."""
        return cls(text, ttft, token_delay, tool_calls=calls)

    @property
    def effective_fault(self) -> Fault | None:
        if self.fault is not None:
            return self.fault
        return Fault.error(self.status, self.text) if self.status != 200 else None


ScriptItem = Reply | str | ToolCall | Fault | Sequence[ToolCall]
"""What a script may hold or a responder return: a string is text, a tool call (or several)
is a reply calling it (them), a fault is a failed turn."""
Responder = Callable[[LLMRequest], ScriptItem]


def as_reply(item: ScriptItem) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, str):
        return Reply(item)
    if isinstance(item, ToolCall):
        return Reply(tool_calls=(item,))
    if isinstance(item, Fault):
        return Reply(fault=item)
    calls = tuple(item)
    if not all(isinstance(c, ToolCall) for c in calls):
        raise TypeError(f"not a reply: {item!r}")
    return Reply(tool_calls=calls)


def hash_reply(request: LLMRequest) -> Reply:
    """The default reply: a short, stable hash of the model and prompt."""
    digest = hashlib.sha256(f"{request.model}\n{request.prompt}".encode()).hexdigest()
    return Reply(f"mock reply {digest[:8]}")


class Script:
    """Replies in order, then ``fallback`` (the prompt hash by default) once they run out.

    ``replies`` may mix strings, :class:`Reply`, :class:`ToolCall` and
    :class:`~plait.testing.Fault`; ``cycle=True`` repeats them forever. Thread-safe: a server
    may serve several connections at once, and a script may be shared by servers.
    """

    def __init__(
        self,
        replies: Iterable[ScriptItem] = (),
        *,
        cycle: bool = False,
        fallback: Responder = hash_reply,
    ) -> None:
        self._replies = [as_reply(r) for r in replies]
        self._cycle = cycle and bool(self._replies)
        self._fallback = fallback
        self._index = 0
        self._lock = threading.Lock()

    def next_reply(self, request: LLMRequest) -> Reply:
        with self._lock:
            if self._index < len(self._replies) or self._cycle:
                reply = self._replies[self._index % len(self._replies)]
                self._index += 1
                return reply
        return as_reply(self._fallback(request))

    def peek(self, request: LLMRequest) -> Reply:
        """The reply :meth:`next_reply` would give, without using it up."""
        with self._lock:
            if self._index < len(self._replies) or self._cycle:
                return self._replies[self._index % len(self._replies)]
        return as_reply(self._fallback(request))

    @property
    def used(self) -> int:
        """How many scripted replies were handed out."""
        return self._index

    @property
    def remaining(self) -> int:
        """Scripted replies not handed out yet (0 once the fallback answers)."""
        return max(0, len(self._replies) - self._index)

    @classmethod
    def agent(
        cls,
        *rounds: ToolCall | Sequence[ToolCall] | Reply,
        answer: str | Responder | None = None,
    ) -> Script:
        """The model side of a tool-using agent, decided from the conversation alone.

        A request whose conversation holds *k* assistant turns with tool calls gets round *k*
        (a tool call, several parallel ones, or a whole :class:`Reply`); once all rounds are in
        the conversation, it gets ``answer`` (text, or a function of the request; by default
        ``"done: "`` and the tool results). Being stateless, one script serves any number of
        conversations at once, and a retried request gets the same answer.
        """
        planned = [r if isinstance(r, Reply) else as_reply(r) for r in rounds]

        def respond(request: LLMRequest) -> ScriptItem:
            k = request.tool_rounds
            if k < len(planned):
                return planned[k]
            if answer is None:
                return "done: " + "; ".join(m.text for m in request.tool_results)
            return answer if isinstance(answer, str) else answer(request)

        return cls(fallback=respond)
