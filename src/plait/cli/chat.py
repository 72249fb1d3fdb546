"""``plait chat``: a conversation with a model (streamed, remembered) or with a workflow.

Lines come from the terminal (with a prompt) or, when stdin is not a terminal, one message
per line read from it. ``/exit``, end of input (Ctrl-D) and Ctrl-C end the chat cleanly;
``/reset`` forgets the conversation. Replies go to stdout, everything else to stderr.

One event loop serves the whole chat (``asyncio.Runner``), so HTTP clients keep their
connections between turns; input is read between turns on the main thread, so Ctrl-C is
seen at once whether the chat is waiting for a line or for a reply.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import typer
from rich.text import Text

from plait.cli.config import find_project, resolve_workflow
from plait.cli.console import err_console, jsonable
from plait.cli.errors import EXIT_FAILED, print_error
from plait.cli.validate import load_valid
from plait.cli.wiring import EngineParts, engine, settings
from plait.errors import PlaitError, UsageError
from plait.graph.inputs import resolve_inputs
from plait.graph.spec import WorkflowSpec
from plait.llm import Finished, Message, Model, ModelRequest, TextDelta
from plait.nodes.defaults import Engine
from plait.types import PortType, RunStatus

__all__ = ["ChatOptions", "chat_command", "chat_input"]

EXIT_WORDS = ("/exit", "/quit")
HISTORY_INPUT = "history"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatOptions:
    model: str | None = None
    workflow: str | None = None
    system: str | None = None


class _Session(Protocol):
    label: str

    async def reply(self, text: str, write: Callable[[str], None]) -> None: ...

    def reset(self) -> None: ...


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class ModelChat:
    """Multi-turn chat with one model; the reply streams as it is written."""

    def __init__(self, model: Model, system: str | None) -> None:
        self.model = model
        self.label = model.name
        self.system = system
        self.messages: list[Message] = []
        self.reset()

    def reset(self) -> None:
        self.messages = [Message.system(self.system)] if self.system else []

    async def reply(self, text: str, write: Callable[[str], None]) -> None:
        request = ModelRequest(messages=(*self.messages, Message.user(text)))
        written = ""
        answer: Message | None = None
        async for event in self.model.stream(request):
            if isinstance(event, TextDelta):
                write(event.text)
                written += event.text
            elif isinstance(event, Finished):
                answer = event.response.message
        if not written and answer is not None and answer.text:
            write(answer.text)
            written = answer.text
        write("\n" if not written.endswith("\n") else "")
        self.messages += [Message.user(text), answer or Message.assistant(written)]


def chat_input(spec: WorkflowSpec) -> str:
    """The input a chat line goes to: the first string input (else the first untyped one)."""
    for wanted in (PortType.STRING, PortType.ANY):
        for name, declared in spec.inputs.items():
            if name != HISTORY_INPUT and declared.type is wanted:
                return name
    raise UsageError(f"workflow {spec.name!r} has no string input for the chat's lines to go "
                     "to; declare one, e.g. inputs: {message: {type: string}}")


class WorkflowChat:
    """Each line runs the workflow with the line as its first string input."""

    def __init__(self, engine: Engine, spec: WorkflowSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.label = f"workflow {spec.name!r}"
        self.target = chat_input(spec)
        self.with_history = HISTORY_INPUT in spec.inputs
        self.history: list[dict[str, str]] = []
        resolve_inputs(spec, self._inputs("probe"))  # other inputs need defaults: fail now

    def reset(self) -> None:
        self.history = []

    def _inputs(self, text: str) -> dict[str, object]:
        inputs: dict[str, object] = {self.target: text}
        if self.with_history:
            inputs[HISTORY_INPUT] = list(self.history)
        return inputs

    async def reply(self, text: str, write: Callable[[str], None]) -> None:
        result = await self.engine.run(self.spec, self._inputs(text), check=False)
        if result.status is not RunStatus.COMPLETED:
            raise result.error or PlaitError(f"the run ended {result.status.value}")
        outputs = result.outputs
        if len(outputs) == 1:
            value = next(iter(outputs.values()))
            answer = value if isinstance(value, str) else json.dumps(jsonable(value),
                                                                    ensure_ascii=False)
            write(answer.rstrip("\n") + "\n")
        else:
            answer = json.dumps(jsonable(outputs), ensure_ascii=False)
            for name, value in outputs.items():
                shown = value if isinstance(value, str) else json.dumps(jsonable(value),
                                                                       ensure_ascii=False)
                write(f"{name}: {shown}\n")
        self.history += [{"role": "user", "content": text},
                         {"role": "assistant", "content": answer}]


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_line(interactive: bool) -> str | None:
    """The next message, or None at the end of input."""
    if interactive:
        try:
            return input("> ")
        except EOFError:
            return None
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")


def _converse(session: _Session, runner: asyncio.Runner, interactive: bool) -> int:
    """The chat loop; returns the exit code (1 if a turn failed when not interactive)."""
    progress = err_console()
    failed = False
    while True:
        line = _read_line(interactive)
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            break
        if text == "/reset":
            session.reset()
            progress.print("[dim]conversation forgotten[/dim]")
            continue
        try:
            runner.run(session.reply(text, _write))
        except PlaitError as err:
            print_error(err, progress)
            failed = True
    return EXIT_FAILED if failed and not interactive else 0


def chat_command(options: ChatOptions) -> None:
    if options.workflow is not None and options.system is not None:
        raise UsageError("--system is for chatting with a model; a workflow has its own "
                         "prompts")
    config = settings()
    interactive = _interactive()
    progress = err_console()
    path = resolve_workflow(options.workflow) if options.workflow is not None else None
    parts = EngineParts(model=options.model,
                        project=find_project(path.parent) if path is not None else None)
    with engine(parts, config=config) as chat_engine:
        session: _Session
        if path is not None:
            session = WorkflowChat(chat_engine, load_valid(str(path), chat_engine))
        else:
            session = ModelChat(chat_engine.models.get(options.model), options.system)
        if interactive:
            progress.print(Text.assemble(("chatting with ", "dim"), (session.label, "bold"),
                                         (" · /exit or Ctrl-D to leave, /reset to forget",
                                          "dim")), soft_wrap=True)
        with asyncio.Runner() as runner:
            try:
                code = _converse(session, runner, interactive)
            except KeyboardInterrupt:
                _write("\n")
                code = 0
            finally:
                if isinstance(session, ModelChat):
                    runner.run(_close(session.model))
    if code:
        raise typer.Exit(code)


async def _close(model: Model) -> None:
    """Free what the model holds: HTTP connections, or the local model's weights and
    thread (best effort: the chat is over either way)."""
    for name in ("aclose", "close"):
        method = getattr(model, name, None)
        if not callable(method):
            continue
        try:
            result = method()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            return
        return
