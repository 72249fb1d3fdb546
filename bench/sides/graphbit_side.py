"""GraphBit: the same shapes, with the agent nodes it insists on, against the mock Ollama.

GraphBit (0.6) validates every workflow for at least one agent node and reaches models only
through Ollama at ``localhost:11434``, where ``bench.engine`` starts
``python -m plait.testing`` (zero latency). Two variants:

- ``agent``: every node is an agent node (a chain of n agents; n parallel agents + an agent
  join), so each node makes the same model call plait's ``http`` row makes;
- ``transform``: one agent head, then built-in ``uppercase`` transform nodes (the closest
  GraphBit gets to a zero-latency node); compare with plait's ``http-head`` row.

The workflow and executor are built once; ``executor.execute`` runs it (``run_async`` in
bursts). The model is named ``mock:latest`` because GraphBit pulls any model whose exact name
``/api/tags`` does not list before every call.
"""

from __future__ import annotations

import itertools
from typing import Any

import graphbit

from bench.sides import Target, Unsupported

_initialised = False


def _node(variant: str, name: str, prompt: str, *, head: bool = False) -> Any:
    if variant == "agent" or head:
        return graphbit.Node.agent(name, prompt, agent_id=name)
    return graphbit.Node.transform(name, "uppercase")


def _workflow(variant: str, shape: str, n: int) -> Any:
    wf = graphbit.Workflow(f"{shape}{n}")
    if shape == "chain":
        ids = [wf.add_node(_node(variant, f"n{i}", f"step {i}", head=i == 0)) for i in range(n)]
        for a, b in itertools.pairwise(ids):
            wf.connect(a, b)
    else:
        head = None
        if variant == "transform":
            head = wf.add_node(_node(variant, "head", "start", head=True))
        branches = [wf.add_node(_node(variant, f"b{i}", f"branch {i}")) for i in range(n)]
        join = wf.add_node(_node(variant, "join", "join the branches"))
        for b in branches:
            if head is not None:
                wf.connect(head, b)
            wf.connect(b, join)
    wf.validate()
    return wf


def build(variant: str, shape: str, n: int, mock: tuple[str, int] | None = None) -> Target:
    global _initialised
    if variant not in ("agent", "transform"):
        raise Unsupported(f"no GraphBit variant {variant!r}")
    if mock is None or mock[1] != 11434:
        raise Unsupported("GraphBit reaches Ollama only at localhost:11434, which is not ours")
    if not _initialised:
        graphbit.init(log_level="error", enable_tracing=False)
        _initialised = True
    wf = _workflow(variant, shape, n)
    executor = graphbit.Executor(graphbit.LlmConfig.ollama("mock:latest"), timeout_seconds=600)

    def check(result: object) -> None:
        assert result.is_success(), f"GraphBit run ended {result.state()}"  # type: ignore[attr-defined]

    async def arun() -> object:
        return await executor.run_async(wf)

    return Target(check, run=lambda: executor.execute(wf), arun=arun)
