"""Token cost accounting: a price table (USD per million tokens) users can extend."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from plait.llm.model import Usage

__all__ = ["Price", "PriceTable", "default_prices"]


@dataclass(frozen=True, slots=True)
class Price:
    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        return (usage.input_tokens * self.input_per_million
                + usage.output_tokens * self.output_per_million) / 1_000_000


class PriceTable:
    """``provider:model`` glob patterns to prices; the most recently added match wins.
    Local and mock models cost nothing."""

    def __init__(self, entries: dict[str, Price] | None = None) -> None:
        self._entries: list[tuple[str, Price]] = list((entries or {}).items())

    def add(self, pattern: str, *, input_per_million: float,
            output_per_million: float) -> None:
        self._entries.insert(0, (pattern, Price(input_per_million, output_per_million)))

    def price(self, model: str) -> Price | None:
        for pattern, price in self._entries:
            if fnmatchcase(model, pattern):
                return price
        return None

    def cost(self, model: str, usage: Usage) -> float:
        """USD for ``usage`` on ``model``; 0.0 for models with no known price."""
        price = self.price(model)
        return price.cost(usage) if price is not None else 0.0


def default_prices() -> PriceTable:
    """List prices as published by the providers (check yours; add entries as needed)."""
    return PriceTable({
        "local:*": Price(0.0, 0.0),
        "mock:*": Price(0.0, 0.0),
        "ollama:*": Price(0.0, 0.0),
        "openai:gpt-4o-mini*": Price(0.15, 0.60),
        "openai:gpt-4o*": Price(2.50, 10.00),
        "openai:gpt-4.1-mini*": Price(0.40, 1.60),
        "openai:gpt-4.1*": Price(2.00, 8.00),
        "anthropic:claude-3-5-haiku*": Price(0.80, 4.00),
        "anthropic:claude-haiku-4*": Price(1.00, 5.00),
        "anthropic:claude-*sonnet*": Price(3.00, 15.00),
        "gemini:gemini-*flash*": Price(0.10, 0.40),
    })
