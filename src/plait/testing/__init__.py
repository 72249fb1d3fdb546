"""Fakes that ship with plait so tests (yours and ours) need no network and no model.

- :class:`MockLLMServer`: a real HTTP server on loopback speaking the OpenAI, Anthropic,
  Ollama, Gemini and Hugging Face TGI APIs (whole and streamed), with scripted or
  prompt-hashed replies, tool calls, configurable latency, fault injection and a record of
  every request. See ``docs/testing.md``.
"""

from plait.testing.mock_faults import Fault, every, sometimes
from plait.testing.mock_llm import Exchange, MockLLMServer, Turn
from plait.testing.mock_script import (
    LLMRequest,
    Message,
    Reply,
    Script,
    ToolCall,
    hash_reply,
    tokenize,
)
from plait.testing.mock_vectors import hash_embedding

__all__ = [
    "Exchange",
    "Fault",
    "LLMRequest",
    "Message",
    "MockLLMServer",
    "Reply",
    "Script",
    "ToolCall",
    "Turn",
    "every",
    "hash_embedding",
    "hash_reply",
    "sometimes",
    "tokenize",
]
