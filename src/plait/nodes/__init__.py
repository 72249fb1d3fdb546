"""Built-in node kinds, the default registries and workflow files."""

from __future__ import annotations

from plait.graph.registry import KindRegistry
from plait.llm import ModelRegistry, PriceTable, default_prices
from plait.nodes.agent import AgentKind
from plait.nodes.code import CodeKind
from plait.nodes.condition import ConditionKind
from plait.nodes.delay import DelayKind
from plait.nodes.functions import builtin_functions
from plait.nodes.llm import LlmKind
from plait.nodes.loop import LoopKind
from plait.nodes.map import MapKind
from plait.nodes.output import OutputKind
from plait.nodes.subworkflow import SubworkflowKind
from plait.nodes.transform import TransformKind
from plait.tools import ToolRegistry

__all__ = ["builtin_functions", "default_registry"]


def default_registry(*, models: ModelRegistry | None = None,
                     prices: PriceTable | None = None,
                     tools: ToolRegistry | None = None) -> KindRegistry:
    """A fresh registry of the built-in kinds (register your own kinds on it). Model nodes
    get their models from ``models`` (default: no keys, so the local model) and agents their
    tools from ``tools`` (default: none)."""
    models = models if models is not None else ModelRegistry()
    prices = prices if prices is not None else default_prices()
    tools = tools if tools is not None else ToolRegistry()
    return KindRegistry([
        TransformKind(), ConditionKind(), CodeKind(), DelayKind(), OutputKind(),
        SubworkflowKind(), MapKind(), LoopKind(), LlmKind(models, prices),
        AgentKind(models, prices, tools),
    ])
