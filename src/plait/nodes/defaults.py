"""The engine and builder with plait's built-in kinds and functions already wired in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from plait.graph.breaker import BreakerConfig
from plait.graph.builder import Flow as _Flow
from plait.graph.engine import Engine as _Engine
from plait.graph.engine import Workflow
from plait.graph.hooks import Hook
from plait.graph.registry import FunctionRegistry, KindRegistry
from plait.graph.spec import Profile
from plait.llm import ModelRegistry, PriceTable
from plait.nodes import Knowledge, builtin_functions, default_registry
from plait.nodes.human import check_answer
from plait.tools import ToolRegistry

__all__ = ["Engine", "Flow"]


class Engine(_Engine):
    """An :class:`plait.graph.engine.Engine` with the built-in kinds and functions."""

    def __init__(self, *, kinds: KindRegistry | None = None,
                 functions: FunctionRegistry | None = None,
                 profile: Profile | str = Profile.HIGH_THROUGHPUT, hooks: Sequence[Hook] = (),
                 max_concurrency: int | None = None, kind_limits: Mapping[str, int] | None = None,
                 fail_fast: bool | None = None, breaker: BreakerConfig | None = None,
                 seed: int | None = None, models: ModelRegistry | None = None,
                 prices: PriceTable | None = None, tools: ToolRegistry | None = None,
                 knowledge: Knowledge | None = None) -> None:
        base = builtin_functions()
        self.models = models if models is not None else ModelRegistry()
        self.tools = tools if tools is not None else ToolRegistry()
        self.knowledge = knowledge if knowledge is not None else Knowledge()
        super().__init__(kinds=kinds or default_registry(models=self.models, prices=prices,
                                                         tools=self.tools,
                                                         knowledge=self.knowledge),
                         functions=base if functions is None else base.merged(functions),
                         profile=profile, hooks=hooks, max_concurrency=max_concurrency,
                         kind_limits=kind_limits, fail_fast=fail_fast, breaker=breaker,
                         seed=seed, validate_answer=check_answer)


class Flow(_Flow):
    """The builder; :meth:`build` validates against the built-in kinds by default."""

    def build(self, kinds: KindRegistry | _Engine | None = None,
              functions: FunctionRegistry | None = None) -> Workflow:
        """Validate and compile against ``kinds`` (or an engine's kinds, which knows its
        models and tools; default: the built-in kinds with no tools)."""
        if isinstance(kinds, _Engine):
            kinds = kinds.kinds
        base = builtin_functions()
        return super().build(kinds or default_registry(),
                             base if functions is None else base.merged(functions))
