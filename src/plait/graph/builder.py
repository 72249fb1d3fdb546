"""The Python builder: writes the same spec a YAML file or the web canvas would.

::

    flow = Flow("greet")
    name = flow.input("name", type="string", default="world")
    hello = flow.transform("hello", template="Hello {{ value }}!", inputs=name)
    flow.output("greeting", hello)

Python callables become registered functions named ``"<flow>.<node>"`` (or ``name=``); the
spec references them by that name, exactly as a file would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

from plait.errors import UsageError
from plait.graph.compiler import Compiler
from plait.graph.engine import Workflow
from plait.graph.registry import FunctionRegistry, KindRegistry
from plait.graph.spec import (
    DEFAULT_OUTPUT_PORT,
    INPUT_SOURCE,
    EdgeKind,
    EdgeSpec,
    InputSpec,
    JoinPolicy,
    NodeSpec,
    Profile,
    RetrySpec,
    RunSettings,
    WorkflowSpec,
)
from plait.types import JsonValue, PortType

__all__ = ["Flow", "Ref"]


class Ref:
    """A reference to a node's output (or one field of it), or to a workflow input."""

    __slots__ = ("branch", "node", "port")

    def __init__(self, node: str, port: str = DEFAULT_OUTPUT_PORT,
                 branch: str | None = None) -> None:
        self.node = node
        self.port = port
        self.branch = branch

    def __getitem__(self, field: str) -> Ref:
        """``ref["answer"]``: one field of a mapping output."""
        if self.node == INPUT_SOURCE:
            raise UsageError(f"cannot take field {field!r} of workflow input {self.port!r}: "
                             "edges carry whole inputs; add a transform with expression "
                             f"'value.{field}' instead")
        return Ref(self.node, field, self.branch)

    def on(self, branch: str | bool) -> Ref:
        """This output, flowing only when the node's branch label equals ``branch``."""
        label = ("true" if branch else "false") if isinstance(branch, bool) else str(branch)
        return Ref(self.node, self.port, label)

    def __repr__(self) -> str:
        suffix = "" if self.branch is None else f" on {self.branch!r}"
        return f"Ref({self.node}.{self.port}{suffix})"


Inputs: TypeAlias = "Ref | Mapping[str, Ref] | Sequence[Ref] | None"
SubFlow: TypeAlias = "Flow | WorkflowSpec"


class Flow:
    """Builds a :class:`WorkflowSpec` node by node."""

    def __init__(self, name: str, *, description: str = "", profile: Profile | str | None = None,
                 fail_fast: bool | None = None, timeout: float | None = None,
                 max_concurrency: int | None = None, max_tokens: int | None = None,
                 max_cost: float | None = None) -> None:
        self.name = name
        self.description = description
        self.settings = RunSettings(profile=Profile(profile) if profile else None,
                                    fail_fast=fail_fast, timeout=timeout,
                                    max_concurrency=max_concurrency, max_tokens=max_tokens,
                                    max_cost=max_cost)
        self._inputs: dict[str, InputSpec] = {}
        self._nodes: list[NodeSpec] = []
        self._edges: list[EdgeSpec] = []
        self.functions = FunctionRegistry()

    # -- inputs and edges ----------------------------------------------------------------
    def input(self, name: str, type: PortType | str = PortType.ANY, *,
              default: JsonValue = None, required: bool = True, description: str = "") -> Ref:
        self._inputs[name] = InputSpec(type=PortType(type), default=default, required=required,
                                       description=description)
        return Ref(INPUT_SOURCE, name)

    def edge(self, source: Ref, target: str, port: str | None = None, *,
             kind: EdgeKind | None = None) -> None:
        if kind is None:
            kind = EdgeKind.CONDITIONAL if source.branch is not None else EdgeKind.DATA
        self._edges.append(EdgeSpec(source=source.node, source_port=source.port, target=target,
                                    target_port=port, kind=kind, branch=source.branch))

    def _wire(self, node_id: str, inputs: Inputs, after: Sequence[Ref]) -> None:
        if isinstance(inputs, Ref):
            self.edge(inputs, node_id)
        elif isinstance(inputs, Mapping):
            for port, ref in inputs.items():
                self.edge(ref, node_id, port)
        elif inputs is not None:
            for ref in inputs:
                self.edge(ref, node_id, ref.node.lstrip("$") if ref.port == DEFAULT_OUTPUT_PORT
                          else ref.port)
        for ref in after:
            self.edge(Ref(ref.node, DEFAULT_OUTPUT_PORT, ref.branch), node_id,
                      kind=EdgeKind.CONTROL)

    def _function(self, node_id: str, fn: Callable[..., object], name: str | None,
                  inline: bool) -> str:
        fname = name or f"{self.name}.{node_id}"
        self.functions.register(fname, fn, inline=inline, replace=True)
        return fname

    # -- nodes ---------------------------------------------------------------------------
    def node(self, node_id: str, kind: str, *, inputs: Inputs = None, after: Sequence[Ref] = (),
             retry: RetrySpec | Mapping[str, float] | None = None, timeout: float | None = None,
             join: JoinPolicy | str = JoinPolicy.ALL, breaker: str | None = None,
             label: str = "", **params: JsonValue) -> Ref:
        """Add a node of any registered kind; ``params`` go to the kind's params model."""
        if any(n.id == node_id for n in self._nodes):
            raise UsageError(f"flow {self.name!r} already has a node {node_id!r}")
        retry_spec = RetrySpec.model_validate(dict(retry)) if isinstance(retry, Mapping) else retry
        self._nodes.append(NodeSpec(id=node_id, kind=kind, params=params, retry=retry_spec,
                                    timeout=timeout, join=JoinPolicy(join), breaker=breaker,
                                    label=label))
        self._wire(node_id, inputs, after)
        return Ref(node_id)

    def transform(self, node_id: str, *, template: str | None = None,
                  expression: str | None = None, fn: Callable[..., object] | None = None,
                  name: str | None = None, inline: bool = False, inputs: Inputs = None,
                  **options: object) -> Ref:
        """A Jinja ``template`` (string result), a Jinja ``expression`` (any value) or a
        Python ``fn`` called with the input ports as keyword arguments."""
        params: dict[str, JsonValue] = {}
        if template is not None:
            params["template"] = template
        if expression is not None:
            params["expression"] = expression
        if fn is not None:
            params["function"] = self._function(node_id, fn, name, inline)
        return self.node(node_id, "transform", inputs=inputs, **params, **options)  # type: ignore[arg-type]

    def condition(self, node_id: str, *, expression: str | None = None,
                  fn: Callable[..., object] | None = None, name: str | None = None,
                  inline: bool = True, inputs: Inputs = None, **options: object) -> Ref:
        """Passes its ``value`` input through; its branch label is the expression's result.
        Wire the branches with ``ref.on("true")`` / ``ref.on("false")`` (or any label)."""
        params: dict[str, JsonValue] = {}
        if expression is not None:
            params["expression"] = expression
        if fn is not None:
            params["function"] = self._function(node_id, fn, name, inline)
        return self.node(node_id, "condition", inputs=inputs, **params, **options)  # type: ignore[arg-type]

    def code(self, node_id: str, fn: Callable[..., object], *, name: str | None = None,
             inline: bool = False, inputs: Inputs = None, **options: object) -> Ref:
        return self.node(node_id, "code", inputs=inputs,
                         function=self._function(node_id, fn, name, inline), **options)  # type: ignore[arg-type]

    def delay(self, node_id: str, seconds: float, *, inputs: Inputs = None,
              **options: object) -> Ref:
        return self.node(node_id, "delay", inputs=inputs, seconds=seconds, **options)  # type: ignore[arg-type]

    def subworkflow(self, node_id: str, flow: SubFlow, *, inputs: Inputs = None,
                    **options: object) -> Ref:
        return self.node(node_id, "subworkflow", inputs=inputs, workflow=self._child(flow),
                         **options)  # type: ignore[arg-type]

    def map(self, node_id: str, body: SubFlow, *, items: Ref, item_input: str = "item",
            concurrency: int = 8, inputs: Mapping[str, Ref] | None = None,
            **options: object) -> Ref:
        """Run ``body`` once per element of ``items`` (at most ``concurrency`` at a time);
        the output is the list of results, in order."""
        wired = {"items": items, **(inputs or {})}
        return self.node(node_id, "map", inputs=wired, workflow=self._child(body),
                         item_input=item_input, concurrency=concurrency, **options)  # type: ignore[arg-type]

    def loop(self, node_id: str, body: SubFlow, *, max_iterations: int, until: str,
             inputs: Inputs = None, on_limit: str = "error", **options: object) -> Ref:
        """Run ``body`` repeatedly, feeding its outputs back as its inputs, until the Jinja
        expression ``until`` holds (over the outputs and ``iteration``) or the bound hits."""
        return self.node(node_id, "loop", inputs=inputs, workflow=self._child(body),
                         max_iterations=max_iterations, until=until, on_limit=on_limit,
                         **options)  # type: ignore[arg-type]

    def output(self, name: str, value: Ref, *, node_id: str | None = None,
               **options: object) -> Ref:
        return self.node(node_id or name, "output", inputs=value,
                         **({"name": name} if node_id and node_id != name else {}), **options)  # type: ignore[arg-type]

    def _child(self, flow: SubFlow) -> JsonValue:
        if isinstance(flow, Flow):
            for fname in flow.functions.names():
                item = flow.functions.get(fname)
                assert item is not None
                self.functions.register(fname, item.fn, inline=item.inline, replace=True)
            flow = flow.spec
        return flow.to_json_dict()

    # -- results -------------------------------------------------------------------------
    @property
    def spec(self) -> WorkflowSpec:
        return WorkflowSpec(name=self.name, description=self.description, inputs=self._inputs,
                            nodes=self._nodes, edges=self._edges, settings=self.settings)

    def build(self, kinds: KindRegistry, functions: FunctionRegistry | None = None
              ) -> Workflow:
        """Validate and compile; raises :class:`~plait.errors.SpecError` listing every
        problem."""
        registry = self.functions if functions is None else functions.merged(self.functions)
        graph = Compiler(kinds, registry).compile(self.spec, source=f"flow {self.name!r}")
        return Workflow(spec=graph.spec, graph=graph, functions=registry, kinds=kinds)
