"""Messages with typed parts: text, image, tool call, tool result. Plain JSON when dumped."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from plait.types import JsonValue

__all__ = [
    "ImagePart",
    "Message",
    "Part",
    "Role",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextPart(_Part):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Part):
    """An image by URL or as base64 data (``data``) with its media type."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = Field(None, description="base64-encoded bytes")
    media_type: str = "image/png"


class ToolCallPart(_Part):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolResultPart(_Part):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    content: str
    is_error: bool = False


Part: TypeAlias = Annotated[TextPart | ImagePart | ToolCallPart | ToolResultPart,
                            Field(discriminator="type")]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    parts: tuple[Part, ...] = ()

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", parts=(TextPart(text=text),))

    @classmethod
    def user(cls, text: str, *images: ImagePart) -> Message:
        return cls(role="user", parts=(TextPart(text=text), *images))

    @classmethod
    def assistant(cls, text: str = "", *calls: ToolCallPart) -> Message:
        parts: tuple[TextPart | ToolCallPart, ...] = (TextPart(text=text),) if text else ()
        return cls(role="assistant", parts=(*parts, *calls))

    @classmethod
    def tool(cls, *results: ToolResultPart) -> Message:
        return cls(role="tool", parts=results)

    @property
    def text(self) -> str:
        """All text parts joined (empty when there are none)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]

    @property
    def tool_results(self) -> list[ToolResultPart]:
        return [p for p in self.parts if isinstance(p, ToolResultPart)]
