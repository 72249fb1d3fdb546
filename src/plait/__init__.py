"""plait: build, run and serve LLM agent workflows.

    >>> from plait import Flow, Engine
    >>> flow = Flow("greet")
    >>> name = flow.input("name", type="string")
    >>> _ = flow.output("greeting", flow.transform("hello", template="Hello {{ value }}!",
    ...                                             inputs=name))
    >>> Engine().run_sync(flow.build(), {"name": "Ada"}).outputs
    {'greeting': 'Hello Ada!'}
"""

from plait.__about__ import __version__
from plait.errors import (
    CircuitOpenError,
    InputError,
    LoopLimitExceeded,
    NodeError,
    NodeTimeout,
    PlaitError,
    Problem,
    RunError,
    RunFailed,
    RunTimeout,
    SpecError,
    SyncInAsyncError,
    TransientError,
    UsageError,
)
from plait.graph.breaker import BreakerConfig
from plait.graph.builder import Ref
from plait.graph.durability import Durability
from plait.graph.engine import Workflow
from plait.graph.events import (
    Event,
    NodeCancelled,
    NodeFailed,
    NodeInterrupted,
    NodeOutput,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunStarted,
    TokenDelta,
    ToolCalled,
    event_to_dict,
)
from plait.graph.hooks import (
    Continue,
    Hook,
    Modify,
    NodeCall,
    NodeFailure,
    NodeOutcome,
    Replace,
    Retry,
    RunCall,
    RunOutcome,
    Skip,
)
from plait.graph.interrupts import Interrupt
from plait.graph.memory import MemoryCheckpointStore, MemoryRunLog
from plait.graph.registry import FunctionRegistry, KindRegistry, NodeKind
from plait.graph.spec import WorkflowSpec
from plait.graph.state import Branch, RunResult
from plait.nodes import default_registry
from plait.nodes.defaults import Engine, Flow
from plait.nodes.loader import load_spec
from plait.types import RunStatus

__all__ = [
    "Branch", "BreakerConfig", "CircuitOpenError", "Continue", "Durability", "Engine", "Event",
    "Flow", "FunctionRegistry", "Hook", "InputError", "Interrupt", "KindRegistry",
    "LoopLimitExceeded", "MemoryCheckpointStore", "MemoryRunLog", "Modify",
    "NodeCall", "NodeCancelled", "NodeError", "NodeFailed", "NodeFailure", "NodeInterrupted",
    "NodeKind",
    "NodeOutcome", "NodeOutput", "NodeRetrying", "NodeSkipped", "NodeStarted", "NodeTimeout",
    "PlaitError", "Problem", "Ref", "Replace", "Retry", "RunCall", "RunError", "RunFailed",
    "RunFinished", "RunOutcome", "RunResult", "RunStarted", "RunStatus", "RunTimeout", "Skip",
    "SpecError", "SyncInAsyncError", "TokenDelta", "ToolCalled", "TransientError", "UsageError",
    "Workflow", "WorkflowSpec", "__version__", "default_registry", "event_to_dict", "load_spec",
]
