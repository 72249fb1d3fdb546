"""GraphBit: the shape as a ``graphbit.Workflow`` of agent nodes run by its ``Executor``
(``workflow``), or its raw ``LlmClient`` with asyncio ordering the calls (``client``, the
floor GraphBit's own benchmark measures). Both reach the mock's Ollama API, the only place
GraphBit's Python binding sends a local model's calls (``127.0.0.1:11434``).

GraphBit's Python workflows take no run input, so the workflow is built (untimed) per phase
with that latency's first input in its root prompts, and every run of the phase sends the
same prompts. An agent node is given only its own task: GraphBit puts the replies of the
nodes connected to it in front of it. Its model is named ``mock:latest`` because GraphBit
pulls any model whose exact name ``/api/tags`` does not list.
"""

from __future__ import annotations

from typing import Any

import graphbit

from bench.llm_common import LlmTarget, Unsupported, run_shape
from bench.llm_scenarios import Shape, join, root_prompt

MODEL = "mock:latest"
_initialised = False


def _workflow(shape: Shape, task: str) -> Any:
    wf = graphbit.Workflow(shape.name)
    ids = {}
    for call in shape.calls:
        prompt = call.prompt if call.deps else root_prompt(call, task)
        ids[call.id] = wf.add_node(graphbit.Node.agent(call.id, prompt, agent_id=call.id))
        for dep in call.deps:
            wf.connect(ids[dep], ids[call.id])
    wf.validate()
    return wf


def build(variant: str, shape: Shape, mock: tuple[str, int]) -> LlmTarget:
    global _initialised
    if variant not in ("workflow", "client"):
        raise Unsupported(f"no GraphBit variant {variant!r}")
    if mock[1] != 11434:
        raise Unsupported("GraphBit reaches Ollama only at 127.0.0.1:11434, which is not ours")
    if not _initialised:
        graphbit.init(log_level="error", enable_tracing=False)
        _initialised = True
    config = graphbit.LlmConfig.ollama(MODEL)
    if variant == "client":
        client = graphbit.LlmClient(config)

        async def call(prompt: str) -> str:
            text: str = await client.complete_async(prompt)
            return text

        return LlmTarget(lambda task: run_shape(shape, call, task))

    executor = graphbit.Executor(config, timeout_seconds=600)
    workflows: dict[str, Any] = {}
    sinks = shape.sinks

    def prepare(task: str) -> None:
        workflows["current"] = _workflow(shape, task)

    async def arun(task: str) -> str:
        result = await executor.run_async(workflows["current"])
        if not result.is_success():
            raise RuntimeError(f"GraphBit run ended {result.state()}")
        return join([result.get_node_output(s) for s in sinks])

    return LlmTarget(arun, prepare=prepare)
