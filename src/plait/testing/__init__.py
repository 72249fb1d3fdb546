"""Fakes that ship with plait so tests (yours and ours) need no network and no model.

- :class:`MockLLMServer`: a real HTTP server on loopback speaking Ollama's API, with
  scripted or prompt-hashed replies and configurable latency.
"""

from plait.testing.mock_llm import LLMRequest, MockLLMServer, Reply, Script, hash_reply

__all__ = ["LLMRequest", "MockLLMServer", "Reply", "Script", "hash_reply"]
