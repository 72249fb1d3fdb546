"""Hosted and self-hosted model providers, one module each.

- :mod:`~plait.llm.providers.openai`: OpenAI, OpenAI-compatible servers, Azure (``openai`` SDK)
- :mod:`~plait.llm.providers.anthropic`: Anthropic Messages (``anthropic`` SDK)
- :mod:`~plait.llm.providers.gemini`: Google Gemini (``google-genai`` SDK)
- :mod:`~plait.llm.providers.ollama`: Ollama's native ``/api/chat`` (``httpx``)
- :mod:`~plait.llm.providers.huggingface`: TGI / Inference Endpoints (``httpx``, or OpenAI chat)

What they share: :mod:`~plait.llm.providers.base` (the class every provider extends),
:mod:`~plait.llm.providers.mapping` (request and response pieces),
:mod:`~plait.llm.providers.failures` (errors mapped onto plait's tree) and
:mod:`~plait.llm.providers.transport` (HTTP clients per event loop). The registry
(:mod:`plait.llm.registry`) imports a provider module only when its model is asked for, so a
missing SDK matters only to whoever uses it.
"""
