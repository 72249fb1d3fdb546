"""What the LLM-workflow benchmark measures: rows, shapes, scenarios, mock latencies, targets.

Shared by the orchestrator (``bench.llm``), the worker (``bench.llm_worker``), the sides
(``bench/sides/*_llm.py``) and the mock launcher (``bench.llm_mock``), so all agree on
prompts, reply sizes and budgets. Standard library only.

The six scenarios are GraphBit's (its ``benchmarks/frameworks``): one call; a sequential
pipeline of 4; 4 parallel calls; a 5-step workflow with dependencies (a diamond); one call
with a large (~19 KB) prompt; and 10 / 100 / 1000 concurrent one-call workflows. The prompts
here are our own.

**Latency** is chosen per call by a tag in the prompt (``[latency=50ms]``, in the workflow's
input; the mock echoes it in every reply, so later calls, whose prompts quote earlier replies,
carry it too). One model, one client and one connection pool per side serve every latency,
as a deployment's would when its provider slows down.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    label: str
    protocol: str  # "openai" | "ollama": the API its calls speak
    floor: str  # the bare-client row making the same calls
    detail: str
    needs_ollama_port: bool = False  # only reachable at 127.0.0.1:11434


ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        Row(
            "plait/openai",
            "plait (OpenAIModel)",
            "openai",
            "httpx/openai",
            "`llm` nodes on `Engine(models=ModelRegistry(ProviderConfig(openai_base_url=mock)))`, "
            "model `openai:mock` (the `openai` SDK inside); `await engine.run(wf, inputs)`",
        ),
        Row(
            "plait/ollama",
            "plait (OllamaModel)",
            "ollama",
            "httpx/ollama",
            "the same workflow with model `ollama:mock` (`ProviderConfig(ollama_base_url=mock)`, "
            "plait's own `httpx` transport)",
        ),
        Row(
            "langgraph/openai",
            "LangGraph + ChatOpenAI",
            "openai",
            "httpx/openai",
            "a `StateGraph` whose nodes `await ChatOpenAI(base_url=mock).ainvoke(prompt)`, "
            "compiled once; `await graph.ainvoke(state)`",
        ),
        Row(
            "graphbit/workflow",
            "GraphBit Workflow",
            "ollama",
            "httpx/ollama",
            "a `graphbit.Workflow` of agent nodes run by `Executor(LlmConfig.ollama(...))`; "
            "`await executor.run_async(workflow)`",
            needs_ollama_port=True,
        ),
        Row(
            "graphbit/client",
            "GraphBit LlmClient",
            "ollama",
            "httpx/ollama",
            "GraphBit's raw client (`LlmClient.complete_async`), the steps ordered by asyncio "
            "(what GraphBit's own benchmark runs)",
            needs_ollama_port=True,
        ),
        Row(
            "httpx/openai",
            "bare httpx (OpenAI API)",
            "openai",
            "httpx/openai",
            "the floor: one keep-alive `httpx.AsyncClient` POSTing `/v1/chat/completions`, "
            "the steps ordered by asyncio",
        ),
        Row(
            "httpx/ollama",
            "bare httpx (Ollama API)",
            "ollama",
            "httpx/ollama",
            "the floor for Ollama's `/api/chat`, likewise",
        ),
        Row(
            "aiohttp/ollama",
            "bare aiohttp (Ollama API)",
            "ollama",
            "httpx/ollama",
            "not named in the issue: one keep-alive `aiohttp.ClientSession` making the same "
            "calls, a floor that stays one under concurrency (see below)",
        ),
    )
}

FLOORS = ("httpx/openai", "httpx/ollama", "aiohttp/ollama")
PLAIT_ROWS = ("plait/openai", "plait/ollama")

# peer row -> the plait row speaking the same API (ratio = peer / plait, per round)
PAIRS: dict[str, str] = {
    "langgraph/openai": "plait/openai",
    "graphbit/workflow": "plait/ollama",
    "graphbit/client": "plait/ollama",
}

# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True, slots=True)
class Call:
    """One model call of a workflow: its prompt and the calls whose replies it quotes."""

    id: str
    prompt: str
    deps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    calls: tuple[Call, ...]

    @property
    def levels(self) -> list[list[Call]]:
        """The calls in waves: each wave needs only earlier ones (exact for these shapes)."""
        depth: dict[str, int] = {}
        for c in self.calls:  # calls are listed in dependency order
            depth[c.id] = 1 + max((depth[d] for d in c.deps), default=0)
        waves: list[list[Call]] = [[] for _ in range(max(depth.values()))]
        for c in self.calls:
            waves[depth[c.id] - 1].append(c)
        return waves

    @property
    def depth(self) -> int:
        """Calls on the longest path: the critical path is this many model latencies."""
        return len(self.levels)

    @property
    def sinks(self) -> list[str]:
        """Calls nobody quotes: the workflow's result joins their replies."""
        used = {d for c in self.calls for d in c.deps}
        return [c.id for c in self.calls if c.id not in used]


def _memory_prompt() -> str:
    head = "Here is a large table of readings. Find patterns and outliers in it.\n\nReadings: "
    tail = (
        "\n\nReply with: 1. the main patterns, 2. a statistical summary, 3. suspicious "
        "values, 4. what to measure next."
    )
    body = "".join(f"reading {i:04d} = {(i * 37) % 101:3d}; " for i in range(940))
    return head + body + tail


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("simple", (Call("answer", "Explain in two sentences why the sky looks blue."),)),
        Shape(
            "sequential4",
            (
                Call("describe", "Describe a new folding bicycle for city commuters."),
                Call("slogan", "Write a marketing slogan for the product above.", ("describe",)),
                Call("review", "Write a short customer review of this product.", ("slogan",)),
                Call("points", "List the three key selling points.", ("review",)),
            ),
        ),
        Shape(
            "parallel4",
            (
                Call("translate", "Translate 'good morning, neighbour' into Italian."),
                Call("arithmetic", "What is 17 times 23? Show the steps."),
                Call("poem", "Write a four-line poem about trains."),
                Call("copper", "Name three everyday uses of copper."),
            ),
        ),
        Shape(
            "diamond5",
            (
                Call("analyse", "Analyse why a small bakery is losing regular customers."),
                Call("remedies", "Propose three remedies for the problem.", ("analyse",)),
                Call("costs", "Estimate what each remedy would cost.", ("remedies",)),
                Call("risks", "Assess the risks of each remedy.", ("remedies",)),
                Call(
                    "decide", "Recommend one remedy, weighing costs and risks.", ("costs", "risks")
                ),
            ),
        ),
        Shape("memory", (Call("analyse", _memory_prompt()),)),
    )
}


def root_prompt(call: Call, task: str) -> str:
    """The prompt of a call that quotes no other: its own text and the workflow's input."""
    return f"{call.prompt}\n\nInput: {task}"


def step_prompt(call: Call, replies: list[str]) -> str:
    """The prompt of a call that quotes earlier replies (in ``call.deps`` order)."""
    return "Context from previous steps:\n" + "\n".join(replies) + f"\n\nNew task: {call.prompt}"


def join(replies: list[str]) -> str:
    """The workflow's result: its sinks' replies, one per line (no model call)."""
    return "\n".join(replies)


# --------------------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    ttft: float  # seconds to the first token
    token_delay: float  # seconds between tokens
    title: str
    # one workflow at a time: stop after ``budget`` seconds once ``min_runs`` ran
    budget: float
    min_runs: int
    max_runs: int
    # concurrent bursts measured per size
    bursts: dict[int, int] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"[latency={self.name}]"

    @property
    def per_call(self) -> float:
        """What the mock waits before answering one (non-streamed) call."""
        return self.ttft + self.token_delay * (REPLY_TOKENS - 1)


REPLY_TOKENS = 6
"""Every reply is six tokens (``reply <4 hashes> [latency=...]``); the mock paces them."""

LATENCIES: dict[str, Latency] = {
    lat.name: lat
    for lat in (
        Latency("0ms", 0.0, 0.0, "0 ms", 0.3, 10, 400, {10: 5, 100: 2, 1000: 1}),
        Latency("50ms", 0.05, 0.0, "50 ms to first token", 0.5, 4, 20, {10: 2, 100: 1, 1000: 1}),
        Latency(
            "300ms",
            0.3,
            0.02,
            "300 ms to first token + 20 ms/token",
            0.5,
            1,
            3,
            {10: 1, 100: 1, 1000: 1},
        ),
    )
}

_TAG = re.compile(r"\[latency=(\w+)\]")


def latency_of(prompt: str) -> Latency:
    """The latency a prompt asks for (its last tag); 0 ms without one."""
    at = prompt.rfind("[latency=")
    found = _TAG.match(prompt, at) if at >= 0 else None
    return LATENCIES.get(found.group(1), LATENCIES["0ms"]) if found else LATENCIES["0ms"]


def task(index: int, latency: Latency) -> str:
    """The workflow input of run ``index``: distinct per run, tagged with the latency."""
    return f"request {index} {latency.tag}"


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    shape: str
    title: str
    concurrency: int = 0  # 0: one workflow at a time; N: N workflows started at once
    max_rounds: int | None = None  # measured in the first rounds only (bounds the run time)
    skip: dict[str, str] = field(default_factory=dict)  # row -> why it is not measured
    row_latencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Rows measured at some latencies only (the reason is in ``skip_latency_reason``)."""
    skip_latency_reason: str = ""

    @property
    def calls_per_workflow(self) -> int:
        return len(SHAPES[self.shape].calls)

    def bound(self, latency: Latency) -> float:
        """The critical-path bound of one workflow (or burst): the sum of the latencies along
        its longest path. Bursts have the same bound (their workflows are independent)."""
        return SHAPES[self.shape].depth * latency.per_call


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("simple", "simple", "simple (1 call)"),
        Scenario("sequential4", "sequential4", "sequential 4"),
        Scenario("parallel4", "parallel4", "parallel 4 + join"),
        Scenario("diamond5", "diamond5", "complex diamond 5"),
        Scenario("memory", "memory", "memory-intensive (19 KB prompt)"),
        Scenario("concurrent10", "simple", "10 concurrent workflows", 10),
        Scenario("concurrent100", "simple", "100 concurrent workflows", 100),
        Scenario(
            "concurrent1000",
            "simple",
            "1000 concurrent workflows",
            1000,
            max_rounds=1,
            skip={
                "httpx/openai": "httpx with 1,000 requests in flight takes 10-25 s per burst "
                "(its pool's bookkeeping, not the calls); measured once, on the Ollama API, "
                "at 0 ms only"
            },
            row_latencies={"httpx/ollama": ("0ms",)},
            skip_latency_reason="httpx with 1,000 requests in flight takes 10-25 s per burst; "
            "measured at 0 ms only",
        ),
    )
}

QUICK_SCENARIOS = ("simple", "diamond5", "concurrent10")

# at 0 ms, these are also timed with every row in one process, batches interleaved (the
# ratios the 0 ms targets are judged on); seconds of batches per round
INTERLEAVED = ("simple", "sequential4", "parallel4", "diamond5", "memory", "concurrent10")
INTERLEAVED_BUDGET = 1.0
QUICK_INTERLEAVED = ("diamond5",)
QUICK_LATENCIES = ("0ms", "50ms")
QUICK_LIMITS = {"budget": 0.1, "min_runs": 3, "bursts": 1}

# --------------------------------------------------------------------------- targets

TARGETS = {
    "vs_floor": 1.2,  # at 0 ms: plait's makespan / the bare client's, at most
    "vs_bound": 1.05,  # at 50 / 300 ms: makespan / critical-path bound, at most
    "langgraph": 4.0,  # at 0 ms: LangGraph / plait, at least
    "graphbit": 8.0,  # at 0 ms: GraphBit / plait, at least
}

# measured on a machine like ours against a zero-latency mock (issue 3), ms per workflow
ANCHORS = {
    "chain of 3 calls": {"bare httpx": 1.4, "LangGraph + ChatOpenAI": 5.9, "GraphBit": 12.7},
    "fan-out 5 + join (7 calls)": {
        "bare httpx": 3.3,
        "LangGraph + ChatOpenAI": 16.9,
        "GraphBit": 26.7,
    },
}


@functools.cache
def memory_prompt_bytes() -> int:
    return len(SHAPES["memory"].calls[0].prompt.encode())
