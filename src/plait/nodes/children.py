"""What the child-workflow kinds (subworkflow, map, loop) share: params, checks, ports."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from plait.errors import NodeError, Problem
from plait.graph.context import RunContext
from plait.graph.interrupts import Interrupt, forward
from plait.graph.registry import BindEnv, Port, Ports
from plait.graph.spec import WorkflowSpec
from plait.graph.state import RunResult
from plait.types import RunStatus

__all__ = ["ChildParams", "check_child", "child_ports", "child_value", "run_child_checked",
           "waiting_on"]


class ChildParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow: WorkflowSpec = Field(description="the child workflow (inline; files may name a "
                                   "path, which the loader inlines)")
    output: str | None = Field(None, description="take just this output of the child (default: "
                               "the mapping of all its outputs)")


def check_child(params: ChildParams, env: BindEnv, location: str) -> list[Problem]:
    return env.check_child(params.workflow, f"{location}.workflow")


def child_ports(spec: WorkflowSpec, *, exclude: str | None = None,
                all_optional: bool = False) -> dict[str, Port]:
    return {
        name: Port(type=inp.type, required=(not all_optional and inp.required
                                            and inp.default is None),
                   description=inp.description)
        for name, inp in spec.inputs.items() if name != exclude
    }


def child_value(params: ChildParams, node_id: str, result: RunResult) -> object:
    if params.output is None:
        return dict(result.outputs)
    if params.output not in result.outputs:
        raise NodeError(node_id, f"child workflow {result.workflow!r} produced no output "
                        f"{params.output!r} (outputs: {', '.join(result.outputs) or 'none'})")
    return result.outputs[params.output]


async def run_child_checked(ctx: RunContext, graph: object, inputs: Mapping[str, object], *,
                            node_id: str, key: str, what: str) -> RunResult:
    """Run a child workflow; raise if it failed. A child that waits on interrupts is returned
    as is: its container returns :func:`waiting_on` (the interrupts) as its own value."""
    result = await ctx.run_child(graph, inputs, key=key)
    if not result.ok and result.status is not RunStatus.WAITING:
        raise NodeError(node_id, f"{what} failed: {result.error}", cause=result.error)
    return result


def waiting_on(result: RunResult) -> list[Interrupt] | None:
    """The interrupts a child run waits on (None if it does not wait)."""
    return forward(result.interrupts) if result.status is RunStatus.WAITING else None


def ports_of(spec: WorkflowSpec) -> Ports:
    return Ports(inputs=child_ports(spec))
