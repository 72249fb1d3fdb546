"""What the engine benchmark measures: rows (a framework run one way), scenarios, pairs.

Shared by the orchestrator (``bench.engine``) and the subprocess (``bench.worker``), so both
agree on names, sizes and time budgets. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    framework: str
    variant: str
    label: str
    detail: str
    needs_mock: bool = False


ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        Row(
            "plait/inline",
            "plait",
            "inline",
            "plait (inline sync fns)",
            "transform nodes whose sync fn runs directly on the loop (inline=True); "
            "`await engine.run(...)` per run",
        ),
        Row(
            "plait/async",
            "plait",
            "async",
            "plait (async fns)",
            "transform nodes with `async def` fns; `await engine.run(...)` per run",
        ),
        Row(
            "langgraph/invoke",
            "langgraph",
            "invoke",
            "LangGraph invoke",
            "StateGraph of sync node functions, compiled once; `graph.invoke(...)` per run",
        ),
        Row(
            "langgraph/ainvoke",
            "langgraph",
            "ainvoke",
            "LangGraph ainvoke",
            "StateGraph of `async def` node functions, compiled once; "
            "`await graph.ainvoke(...)` per run",
        ),
        Row(
            "graphbit/agent",
            "graphbit",
            "agent",
            "GraphBit (agent nodes)",
            "every node an agent node calling the mock Ollama server (zero latency); "
            "`executor.execute(workflow)` per run, `run_async` for bursts",
            needs_mock=True,
        ),
        Row(
            "plait/http",
            "plait",
            "http",
            "plait (HTTP nodes)",
            "every node an `async def` fn that POSTs /api/chat to the same mock "
            "(a minimal keep-alive HTTP client in bench/)",
            needs_mock=True,
        ),
        Row(
            "graphbit/transform",
            "graphbit",
            "transform",
            "GraphBit (1 agent + transforms)",
            "one agent node (GraphBit refuses workflows without one) followed by built-in "
            "`uppercase` transform nodes",
            needs_mock=True,
        ),
        Row(
            "plait/http-head",
            "plait",
            "http-head",
            "plait (1 HTTP node + inline)",
            "one HTTP node calling the mock, then inline sync `str.upper` transforms",
            needs_mock=True,
        ),
    )
}

# peer row -> the plait row it is compared with (ratio = peer / plait, per round)
PAIRS: dict[str, str] = {
    "langgraph/invoke": "plait/inline",
    "langgraph/ainvoke": "plait/async",
    "graphbit/agent": "plait/http",
    "graphbit/transform": "plait/http-head",
}

PLAIN_ROWS = ("plait/inline", "plait/async", "langgraph/invoke", "langgraph/ainvoke")
MOCK_ROWS = ("graphbit/agent", "plait/http", "graphbit/transform", "plait/http-head")

# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str  # "latency" | "burst" | "hooks"
    shape: str  # "chain" | "fanout"
    n: int
    rows: tuple[str, ...]
    title: str
    count: int = 0  # burst: concurrent runs
    quick_count: int = 0
    budget: float = 0.3  # latency: seconds of measured runs per subprocess
    max_runs: int = 1_000_000
    skip: dict[str, str] = field(default_factory=dict)  # row -> why it is not measured

    def nodes(self, row: str) -> int:
        """How many nodes the row's workflow has for this scenario."""
        head = 1 if ROWS[row].variant in ("transform", "http-head") else 0
        if self.shape == "chain":
            return self.n
        return self.n + 1 + head


_LAT = PLAIN_ROWS + MOCK_ROWS

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("chain3", "latency", "chain", 3, _LAT, "chain of 3 nodes"),
        Scenario("chain10", "latency", "chain", 10, _LAT, "chain of 10 nodes"),
        Scenario("chain100", "latency", "chain", 100, _LAT, "chain of 100 nodes", budget=0.5),
        Scenario(
            "chain1000",
            "latency",
            "chain",
            1000,
            _LAT,
            "chain of 1000 nodes",
            budget=0.5,
            max_runs=200,
        ),
        Scenario("fanout5", "latency", "fanout", 5, _LAT, "fan-out 5 + join"),
        Scenario("fanout100", "latency", "fanout", 100, _LAT, "fan-out 100 + join", budget=0.5),
        Scenario(
            "burst10k",
            "burst",
            "chain",
            3,
            ("plait/inline", "plait/async", "langgraph/ainvoke"),
            "10,000 concurrent 3-node runs on one core",
            count=10_000,
            quick_count=1_000,
            skip={
                "langgraph/invoke": "sync `invoke` cannot run concurrently on one event loop; "
                "the burst uses `ainvoke`",
                "graphbit/agent": "measured in burst1k-http instead (GraphBit needs agent "
                "nodes: 30,000 HTTP calls at ~4 ms each would take minutes)",
            },
        ),
        Scenario(
            "burst1k-http",
            "burst",
            "chain",
            3,
            MOCK_ROWS,
            "1,000 concurrent 3-node runs against the mock LLM, one core",
            count=1_000,
            quick_count=100,
        ),
        Scenario(
            "hooks",
            "hooks",
            "chain",
            10,
            ("plait/inline",),
            "idle hooks / event subscriber on vs off (plait)",
            budget=1.0,
        ),
    )
}

QUICK_SCENARIOS = ("chain3", "fanout5", "burst10k", "burst1k-http", "hooks")
QUICK_ROWS = (
    "plait/inline",
    "plait/async",
    "langgraph/invoke",
    "langgraph/ainvoke",
    "graphbit/agent",
    "plait/http",
)
QUICK_BUDGET = 0.1

# --------------------------------------------------------------------------- targets

TARGETS = {
    "chain3": 25.0,  # µs per run, at most
    "fanout5": 60.0,  # µs per run, at most
    "burst_wall": 1.0,  # s, under
    "burst_rss": 100.0,  # MB, under
    "hooks": 5.0,  # % overhead, under
}

# LangGraph 1.2 measured on a machine like ours (issue 2)
ANCHORS = {
    "chain3": 699.0,
    "fanout5": 2739.0,
    "burst_wall": 17.7,
    "burst_rss": 436.0,
}
