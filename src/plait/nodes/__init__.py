"""Built-in node kinds, the default registries and workflow files."""

from __future__ import annotations

from plait.graph.registry import KindRegistry
from plait.llm import ModelRegistry, PriceTable, default_prices
from plait.nodes.agent import AgentKind
from plait.nodes.answer import AnswerKind
from plait.nodes.code import CodeKind
from plait.nodes.condition import ConditionKind
from plait.nodes.delay import DelayKind
from plait.nodes.functions import builtin_functions
from plait.nodes.human import HumanInputKind
from plait.nodes.ingest import IngestKind
from plait.nodes.knowledge import Knowledge
from plait.nodes.llm import LlmKind
from plait.nodes.loop import LoopKind
from plait.nodes.map import MapKind
from plait.nodes.output import OutputKind
from plait.nodes.retrieve import RetrieveKind
from plait.nodes.subworkflow import SubworkflowKind
from plait.nodes.transform import TransformKind
from plait.tools import ToolRegistry

__all__ = ["Knowledge", "builtin_functions", "default_registry"]


def default_registry(*, models: ModelRegistry | None = None,
                     prices: PriceTable | None = None,
                     tools: ToolRegistry | None = None,
                     knowledge: Knowledge | None = None) -> KindRegistry:
    """A fresh registry of the built-in kinds (register your own kinds on it). Model nodes
    get their models from ``models`` (default: no keys, so the local model) and agents their
    tools from ``tools`` (default: none); the RAG kinds their store and embedder from
    ``knowledge`` (default: an in-memory store and the local embedding model)."""
    models = models if models is not None else ModelRegistry()
    prices = prices if prices is not None else default_prices()
    tools = tools if tools is not None else ToolRegistry()
    knowledge = knowledge if knowledge is not None else Knowledge()
    return KindRegistry([
        TransformKind(), ConditionKind(), CodeKind(), DelayKind(), OutputKind(),
        SubworkflowKind(), MapKind(), LoopKind(), LlmKind(models, prices),
        AgentKind(models, prices, tools), IngestKind(knowledge), RetrieveKind(knowledge),
        AnswerKind(models, prices), HumanInputKind(),
    ])
