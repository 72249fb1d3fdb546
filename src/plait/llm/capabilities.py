"""What each model can do: native tool calling, JSON mode, vision, context length.

Agents use it to pick native tool calling where a model has it and a JSON fallback (with
constrained decoding on the local model) where it doesn't. Users extend it with
:func:`register_capabilities`; the first matching pattern wins.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from plait.llm.model import Capabilities

__all__ = ["capabilities_for", "register_capabilities"]

_HOSTED = Capabilities(tool_calling=True, json_mode=True, vision=False, context_length=128_000)

_TABLE: list[tuple[str, Capabilities]] = [
    ("local:*", Capabilities(tool_calling=True, json_mode=True, context_length=4096)),
    ("mock:*", Capabilities(tool_calling=True, json_mode=True, context_length=32_768)),
    ("openai:gpt-4o*", Capabilities(tool_calling=True, json_mode=True, vision=True,
                                    context_length=128_000)),
    ("openai:gpt-4.1*", Capabilities(tool_calling=True, json_mode=True, vision=True,
                                     context_length=1_000_000)),
    ("openai:o*", Capabilities(tool_calling=True, json_mode=True, vision=True,
                               context_length=200_000)),
    ("openai:*", _HOSTED),
    ("anthropic:claude-*", Capabilities(tool_calling=True, json_mode=True, vision=True,
                                        context_length=200_000)),
    ("gemini:*", Capabilities(tool_calling=True, json_mode=True, vision=True,
                              context_length=1_000_000)),
    ("ollama:llama3*", Capabilities(tool_calling=True, json_mode=True, context_length=8192)),
    ("ollama:qwen*", Capabilities(tool_calling=True, json_mode=True, context_length=32_768)),
    ("ollama:*", Capabilities(tool_calling=False, json_mode=True, context_length=8192)),
    ("huggingface:*", Capabilities(tool_calling=False, json_mode=False, context_length=8192)),
]


def register_capabilities(pattern: str, capabilities: Capabilities) -> None:
    """Declare what models matching ``pattern`` (``provider:model`` glob) can do."""
    _TABLE.insert(0, (pattern, capabilities))


def capabilities_for(model: str) -> Capabilities:
    for pattern, caps in _TABLE:
        if fnmatchcase(model, pattern):
            return caps
    return Capabilities()
