"""Language models: one protocol over hosted providers, Ollama and the embedded local model."""

from plait.llm.assemble import StreamAssembler, collect
from plait.llm.capabilities import capabilities_for, register_capabilities
from plait.llm.fallback import FallbackModel
from plait.llm.messages import ImagePart, Message, Part, TextPart, ToolCallPart, ToolResultPart
from plait.llm.model import (
    Capabilities,
    Finished,
    Model,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from plait.llm.pricing import Price, PriceTable, default_prices
from plait.llm.registry import LOCAL_DEFAULT, ModelRegistry, ProviderConfig, parse_model_string

__all__ = [
    "LOCAL_DEFAULT", "Capabilities", "FallbackModel", "Finished", "ImagePart", "Message",
    "Model", "ModelRegistry", "ModelRequest", "ModelResponse", "Part", "Price", "PriceTable",
    "ProviderConfig", "StreamAssembler", "StreamEvent", "TextDelta", "TextPart",
    "ToolCallDelta", "ToolCallPart", "ToolResultPart", "ToolSpec", "Usage", "capabilities_for",
    "collect", "default_prices", "parse_model_string", "register_capabilities",
]
