"""LangGraph: the shape as a ``StateGraph`` whose nodes call ``ChatOpenAI`` (base URL: the
mock's ``/v1``), compiled once; a run is ``await graph.ainvoke({"task": ...})``.

Every call has its own state key; a call waits for all the calls it quotes
(``add_edge([...], node)``); several sinks are joined by a plain ``join`` node. The model
object is made once, with ``max_retries=0`` as plait's provider has.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

from bench.llm_common import LlmTarget, Unsupported
from bench.llm_scenarios import Call, Shape, join, root_prompt, step_prompt


def _node(call: Call, llm: ChatOpenAI) -> Any:
    async def node(state: dict[str, Any]) -> dict[str, Any]:
        if call.deps:
            prompt = step_prompt(call, [state[d] for d in call.deps])
        else:
            prompt = root_prompt(call, state["task"])
        message = await llm.ainvoke(prompt)
        return {call.id: message.content}

    return node


def build(variant: str, shape: Shape, mock: tuple[str, int]) -> LlmTarget:
    if variant != "openai":
        raise Unsupported(f"no LangGraph variant {variant!r}")
    llm = ChatOpenAI(
        model="mock", base_url=f"http://{mock[0]}:{mock[1]}/v1", api_key="unused", max_retries=0
    )
    keys = {"task": str, "result": str, **{c.id: str for c in shape.calls}}
    state = TypedDict("State", keys)  # type: ignore[misc]
    graph = StateGraph(state)
    for call in shape.calls:
        graph.add_node(call.id, _node(call, llm))
        if not call.deps:
            graph.add_edge(START, call.id)
        elif len(call.deps) == 1:
            graph.add_edge(call.deps[0], call.id)
        else:
            graph.add_edge(list(call.deps), call.id)
    sinks = shape.sinks
    if len(sinks) == 1:
        graph.add_edge(sinks[0], END)
        key = sinks[0]
    else:

        async def joined(s: dict[str, Any]) -> dict[str, Any]:
            return {"result": join([s[k] for k in sinks])}

        graph.add_node("join", joined)
        graph.add_edge(sinks, "join")
        graph.add_edge("join", END)
        key = "result"
    compiled = graph.compile()

    async def arun(task: str) -> str:
        out = await compiled.ainvoke({"task": task})
        text: str = out[key]
        return text

    async def aclose() -> None:
        await llm.root_async_client.close()

    return LlmTarget(arun, aclose=aclose)
