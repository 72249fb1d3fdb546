"""Constrained decoding for models without native tool calling or JSON mode: the prompt
that states a reply format, the grammar that enforces it, the sampler that applies the
grammar, and the parse of the reply.

The local model (see :mod:`plait.llm.local`) is told about tools in its system prompt and
is *forced*, by a llama.cpp grammar built from a JSON schema, to reply with exactly one JSON
object of this contract::

    {"tool": "<one tool's name>", "arguments": {<valid against that tool's parameters>}}
    {"answer": "<the reply to the user>"}

The first form becomes a :class:`~plait.llm.messages.ToolCallPart`, the second the reply
text. With ``tool_choice="required"`` only the first form is allowed. When a
``response_schema`` is given too, ``answer`` must satisfy that schema instead of being a
string, and the reply text is that value as JSON. Without tools, a ``response_schema`` is
used as the grammar directly and the reply text is the JSON document itself. Earlier tool
calls in a conversation are shown to the model in the same JSON, tool results as user turns.

The contract is pure Python; :func:`schema_to_gbnf` and :class:`Sampler` import llama.cpp
lazily (it is an optional dependency).
"""

from __future__ import annotations

import copy
import ctypes
import json
import re
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from plait.errors import OutputInvalid, ProviderRejected, UsageError
from plait.llm.messages import ImagePart, Message, TextPart, ToolCallPart, ToolResultPart
from plait.llm.model import ToolSpec
from plait.types import JsonValue

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "AnswerStreamer",
    "Sampler",
    "add_instructions",
    "chat_turns",
    "envelope_instructions",
    "envelope_schema",
    "parse_envelope",
    "schema_instructions",
    "schema_to_gbnf",
]

_JSON = dict[str, JsonValue]
_EMPTY_OBJECT: _JSON = {"type": "object", "properties": {}}


def envelope_schema(tools: Sequence[ToolSpec], *, require_tool: bool = False,
                    answer_schema: _JSON | None = None) -> _JSON:
    """The JSON schema of the tool contract: one alternative per tool (its name as a
    constant, its own parameter schema) plus, unless ``require_tool``, the answer."""
    if not tools:
        raise UsageError("a tool envelope needs at least one tool")
    defs: _JSON = {}
    alternatives: list[JsonValue] = []
    for index, tool in enumerate(tools):
        parameters = _hoist_defs(_bounded(tool.parameters or _EMPTY_OBJECT), f"t{index}_",
                                 defs)
        alternatives.append({
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": parameters},
            "required": ["tool", "arguments"],
        })
    if not require_tool:
        answer: JsonValue = (_hoist_defs(answer_schema, "answer_", defs) if answer_schema
                             else {"type": "string", "maxLength": MAX_STRING})
        alternatives.append({"type": "object", "properties": {"answer": answer},
                             "required": ["answer"]})
    schema: _JSON = {"anyOf": alternatives} if len(alternatives) > 1 else dict(
        alternatives[0])  # type: ignore[arg-type]
    if defs:
        schema["$defs"] = defs
    return schema


MAX_STRING = 120
"""Longest string argument in the tool envelope. A 135M model otherwise keeps writing inside a
string (it even "closes" the JSON there, since the grammar allows ``}`` in strings) until it
runs out of tokens, and the reply is cut mid-JSON. Bounded strings make every constrained
reply end; a tighter bound a tool declares is kept."""


def _bounded(schema: _JSON) -> _JSON:
    """Tool parameters for a small model: strings capped at :data:`MAX_STRING`, and optional
    open-ended mappings (``additionalProperties`` with no declared properties) left out, as
    the model fills them with junk until ``max_tokens``."""
    schema = copy.deepcopy(schema)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = schema.get("required")
        needed = set(required) if isinstance(required, list) else set()
        for name in [n for n, p in properties.items() if n not in needed and _open_map(p)]:
            del properties[name]

    def walk(node: JsonValue) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
            kinds = node.get("type")
            if (kinds == "string" or (isinstance(kinds, list) and "string" in kinds)) and (
                    "enum" not in node and "const" not in node):
                limit = node.get("maxLength")
                node["maxLength"] = (min(limit, MAX_STRING) if isinstance(limit, int)
                                     else MAX_STRING)

    walk(schema)
    return schema


def _open_map(schema: JsonValue) -> bool:
    if not isinstance(schema, dict):
        return False
    if "anyOf" in schema and isinstance(schema["anyOf"], list):
        return any(_open_map(s) for s in schema["anyOf"])
    return schema.get("type") == "object" and not schema.get("properties") and bool(
        schema.get("additionalProperties", True))


def _hoist_defs(schema: _JSON, prefix: str, defs: _JSON) -> _JSON:
    """A copy of ``schema`` with its ``$defs`` moved into the shared ``defs`` under
    prefixed names (and its ``$ref``s rewritten), so that several schemas can live in one
    document without their definitions colliding."""
    schema = copy.deepcopy(schema)
    local: dict[str, JsonValue] = {}
    for key in ("$defs", "definitions"):
        found = schema.pop(key, None)
        if isinstance(found, dict):
            local.update({f"#/{key}/{name}": value for name, value in found.items()})

    def rename(ref: str) -> str:
        return "#/$defs/" + prefix + ref.rsplit("/", 1)[-1]

    def rewrite(node: JsonValue) -> JsonValue:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if isinstance(node, dict):
            out = {key: rewrite(value) for key, value in node.items()}
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in local:
                out["$ref"] = rename(ref)
            return out
        return node

    for ref, value in local.items():
        defs[rename(ref).rsplit("/", 1)[-1]] = rewrite(value)
    result = rewrite(schema)
    assert isinstance(result, dict)
    return result


def schema_to_gbnf(schema: _JSON) -> str:
    """A llama.cpp grammar (GBNF) accepting exactly the JSON documents of ``schema``
    (within what llama.cpp's converter supports: types, properties, required, enum, const,
    anyOf/oneOf, local ``$ref``, string length and pattern, array item counts)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf: str = json_schema_to_gbnf(json.dumps(schema))
        return gbnf
    except (AssertionError, KeyError, ValueError, TypeError, NotImplementedError) as err:
        raise UsageError(f"this JSON schema cannot be used as a grammar for the local "
                         f"model: {err}") from None


def _compact(schema: _JSON) -> str:
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def envelope_instructions(tools: Sequence[ToolSpec], *, require_tool: bool = False,
                          answer_schema: _JSON | None = None) -> str:
    """The system-prompt text that tells the model about its tools and the contract."""
    lines = ["You can use these tools:"]
    for tool in tools:
        about = f": {tool.description}" if tool.description else ""
        lines.append(f"- {tool.name}{about} Arguments: {_compact(tool.parameters)}")
    lines.append('To call a tool, reply {"tool": "<tool name>", "arguments": {...}}.')
    if not require_tool:
        if answer_schema:
            lines.append('To answer, reply {"answer": <JSON matching '
                         f"{_compact(answer_schema)}>}}.")
        else:
            lines.append('To answer, reply {"answer": "<your answer>"}.')
    lines.append("Reply with one JSON object only.")
    return "\n".join(lines)


def schema_instructions(schema: _JSON) -> str:
    return f"Reply with one JSON object matching this JSON schema: {_compact(schema)}"


def chat_turns(messages: Sequence[Message], *, provider: str = "local"
               ) -> list[dict[str, str]]:
    """plait messages as the role/content turns of a chat template: earlier tool calls in
    the contract's JSON, tool results as user turns (``Tool <name> returned: ...``)."""
    chat: list[dict[str, str]] = []
    for message in messages:
        pieces: list[str] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                pieces.append(part.text)
            elif isinstance(part, ToolCallPart):
                pieces.append(json.dumps({"tool": part.name, "arguments": part.arguments},
                                         ensure_ascii=False))
            elif isinstance(part, ToolResultPart):
                verb = "failed" if part.is_error else "returned"
                pieces.append(f"Tool {part.name} {verb}: {part.content}")
            elif isinstance(part, ImagePart):
                raise ProviderRejected("the local model cannot read images",
                                       provider=provider)
        role = "user" if message.role == "tool" else message.role
        chat.append({"role": role, "content": "\n".join(pieces)})
    return chat


def add_instructions(chat: list[dict[str, str]], text: str) -> None:
    """Add format instructions to the system turn (creating one if there is none)."""
    if chat and chat[0]["role"] == "system":
        chat[0] = {"role": "system", "content": f"{chat[0]['content']}\n\n{text}"}
    else:
        chat.insert(0, {"role": "system", "content": text})


def parse_envelope(text: str, *, provider: str = "local") -> tuple[str, ToolCallPart | None]:
    """The reply text (``answer``) or the tool call in a reply that follows the contract."""
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as err:
        raise OutputInvalid(f"the reply is not complete JSON ({err.msg}); was it cut off by "
                            f"max_tokens?", provider=provider) from None
    if isinstance(data, dict) and isinstance(data.get("tool"), str):
        arguments = data.get("arguments", {})
        if not isinstance(arguments, dict):
            raise OutputInvalid("tool call arguments are not an object", provider=provider)
        return "", ToolCallPart(id=f"call_{uuid.uuid4().hex[:24]}", name=data["tool"],
                                arguments=arguments)
    if isinstance(data, dict) and "answer" in data:
        answer = data["answer"]
        return (answer if isinstance(answer, str)
                else json.dumps(answer, ensure_ascii=False)), None
    raise OutputInvalid("the reply is neither a tool call nor an answer", provider=provider)


_ANSWER_START = re.compile(r'\s*\{\s*"answer"\s*:\s*"')
_COMPLETE_BODY = re.compile(r'(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
"""The longest run of a JSON string's body made of whole characters and whole escapes."""


class AnswerStreamer:
    """Turns the growing raw text of an ``{"answer": "..."}`` reply into the decoded
    answer text as it arrives, so a string answer streams like plain text. Emits nothing
    for a tool call or a non-string answer (those are delivered whole at the end)."""

    def __init__(self) -> None:
        self.raw = ""
        self.sent = ""
        self._start: int | None = None
        self._closed = False

    def feed(self, piece: str) -> str:
        """Add raw text; return the answer text that became safe to show."""
        self.raw += piece
        if self._closed:
            return ""
        if self._start is None:
            match = _ANSWER_START.match(self.raw)
            if match is None:
                return ""
            self._start = match.end()
        body = _COMPLETE_BODY.match(self.raw, self._start)
        assert body is not None
        self._closed = self.raw[body.end():body.end() + 1] == '"'
        try:
            decoded: str = json.loads(f'"{body.group()}"')
        except json.JSONDecodeError:
            return ""
        if decoded and "\ud800" <= decoded[-1] <= "\udbff" and not self._closed:
            decoded = decoded[:-1]  # half of a surrogate pair: wait for the other half
        if not decoded.startswith(self.sent):
            return ""
        new, self.sent = decoded[len(self.sent):], decoded
        return new


class Sampler:
    """Picks each next token from llama.cpp's logits: top-k 40, top-p, min-p 0.05,
    temperature (0 = greedy) and seed, and, given a grammar, only tokens the grammar allows.

    The grammar is checked on the token the model picked first and applied to the whole
    vocabulary only when that pick breaks it (llama.cpp's own sampler does the same):
    masking 49k tokens with a deep grammar on every step would cost more than decoding.
    Greedy picks are exactly those of masking first; sampled ones follow the masked
    distribution up to where top-k/top-p cut it. Used from one thread at a time.
    """

    def __init__(self, llama: Llama, *, temperature: float, top_p: float, seed: int | None,
                 gbnf: str | None) -> None:
        import llama_cpp as c

        self._c = c
        self._ctx = llama.ctx
        self._n_vocab = llama.n_vocab()
        self._chain = c.llama_sampler_chain_init(c.llama_sampler_chain_default_params())
        if temperature <= 0:
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_greedy())
        else:
            for sampler in (c.llama_sampler_init_top_k(40), c.llama_sampler_init_top_p(top_p, 1),
                            c.llama_sampler_init_min_p(0.05, 1),
                            c.llama_sampler_init_temp(temperature),
                            c.llama_sampler_init_dist(  # a 32-bit seed; the default: random
                                c.LLAMA_DEFAULT_SEED if seed is None else seed & 0xFFFFFFFF)):
                c.llama_sampler_chain_add(self._chain, sampler)
        self._grammar = None
        if gbnf is not None:
            vocab = c.llama_model_get_vocab(llama.model)
            self._grammar = c.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
            if not self._grammar:
                self.close()
                raise UsageError("llama.cpp could not parse the grammar built from the schema")
        self._one = c.llama_token_data()
        self._one_array = c.llama_token_data_array(data=ctypes.pointer(self._one), size=1,
                                                   selected=-1, sorted=False)

    def sample(self) -> int:
        """The next token after the last evaluated one."""
        c = self._c
        token = int(c.llama_sampler_sample(self._chain, self._ctx, -1))
        if self._grammar is None:
            return token
        self._one.id, self._one.logit, self._one.p = ctypes.c_int32(token), 0.0, 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        c.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        if self._one.logit == float("-inf"):  # the pick breaks the grammar: mask, sample again
            token = self._resample()
        c.llama_sampler_accept(self._grammar, token)
        return token

    def _resample(self) -> int:
        import numpy as np

        c = self._c
        logits = np.ctypeslib.as_array(c.llama_get_logits_ith(self._ctx, -1),
                                       shape=(self._n_vocab,))
        data = (c.llama_token_data * self._n_vocab)()
        view = np.frombuffer(data, dtype=np.dtype(
            [("id", np.intc), ("logit", np.single), ("p", np.single)]))
        view["id"] = np.arange(self._n_vocab, dtype=np.intc)
        view["logit"] = logits
        view["p"] = 0.0
        array = c.llama_token_data_array(data=data, size=self._n_vocab, selected=-1,
                                         sorted=False)
        c.llama_sampler_apply(self._grammar, ctypes.byref(array))
        c.llama_sampler_apply(self._chain, ctypes.byref(array))
        token = int(data[array.selected].id)
        c.llama_sampler_accept(self._chain, token)
        return token

    def close(self) -> None:
        for sampler in (self._chain, self._grammar):
            if sampler:
                self._c.llama_sampler_free(sampler)
        self._chain = self._grammar = None
