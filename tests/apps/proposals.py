"""Proposals (model replies) for the tests of ``plait generate``."""

from __future__ import annotations

import json
from typing import Any

VALID: dict[str, Any] = {
    "name": "shout",
    "description": "Upper-case a text.",
    "inputs": {"text": {"type": "string", "description": "what to shout"}},
    "nodes": [{"id": "upper", "kind": "transform", "params": {"function": "upper"}},
              {"id": "result", "kind": "output", "params": {}}],
    "edges": [{"from": "$input.text", "to": "upper"}, {"from": "upper", "to": "result"}],
    "confidence": 0.9,
    "rationale": "One function does it.",
}


def reply(**changes: Any) -> str:
    """The valid proposal with ``changes``, as the JSON text a model replies with."""
    return json.dumps({**VALID, **changes})


UNKNOWN_FUNCTION = reply(nodes=[
    {"id": "upper", "kind": "transform", "params": {"function": "shout_it"}},
    {"id": "result", "kind": "output", "params": {}}])

LLM_KIND = reply(nodes=[
    {"id": "upper", "kind": "llm", "params": {"prompt": "Shout: {{ value }}"}},
    {"id": "result", "kind": "output", "params": {}}])
