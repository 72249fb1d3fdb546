"""plait: the shape as ``llm`` nodes, through a real provider against the mock.

``variant`` is the provider: ``openai`` (:class:`~plait.llm.providers.openai.OpenAIModel`,
the official SDK, at the mock's ``/v1``) or ``ollama``
(:class:`~plait.llm.providers.ollama.OllamaModel`, plait's ``httpx`` transport, at the mock's
``/api/chat``). A call with no predecessor renders its prompt and the workflow input; a call
that has some quotes their replies; several sinks are joined by a template node (inline, no
task). The workflow is built once against the engine; a run is ``await engine.run(...)``.
"""

from __future__ import annotations

from bench.llm_common import LlmTarget, Unsupported
from bench.llm_scenarios import Call, Shape
from plait import Engine, Flow
from plait.llm import ModelRegistry
from plait.llm.registry import ProviderConfig


def _template(call: Call) -> str:
    assert "{" not in call.prompt, "prompts must hold no Jinja syntax"
    if not call.deps:
        return f"{call.prompt}\n\nInput: {{{{ value }}}}"
    quoted = "\n".join(f"{{{{ {d} }}}}" for d in call.deps)
    return f"Context from previous steps:\n{quoted}\n\nNew task: {call.prompt}"


def build(variant: str, shape: Shape, mock: tuple[str, int]) -> LlmTarget:
    if variant not in ("openai", "ollama"):
        raise Unsupported(f"no plait variant {variant!r}")
    base = f"http://{mock[0]}:{mock[1]}"
    engine = Engine(
        models=ModelRegistry(ProviderConfig(openai_base_url=f"{base}/v1", ollama_base_url=base))
    )
    model = f"{variant}:mock"
    flow = Flow(f"{variant}-{shape.name}")
    task = flow.input("task", type="string")
    refs = {}
    for call in shape.calls:
        inputs = {d: refs[d] for d in call.deps} if call.deps else task
        refs[call.id] = flow.node(
            call.id, "llm", inputs=inputs, model=model, prompt=_template(call)
        )
    sinks = shape.sinks
    if len(sinks) == 1:
        flow.output("result", refs[sinks[0]])
    else:
        template = "\n".join(f"{{{{ {s} }}}}" for s in sinks)
        flow.output(
            "result", flow.transform("join", template=template, inputs={s: refs[s] for s in sinks})
        )
    workflow = flow.build(engine)

    async def arun(task: str) -> str:
        result = await engine.run(workflow, {"task": task})
        out: str = result.outputs["result"]  # type: ignore[assignment]
        return out

    return LlmTarget(arun, aclose=engine.models.get(model).aclose)
