"""Ready-made applications built on the engine, the model layer and the node kinds.

- :mod:`plait.apps.generate`: dynamic workflows: a model designs a workflow for an
  objective; proposals are checked by the engine and corrected until valid (``plait generate``).
"""

from plait.apps.generate import (
    CacheHit,
    GenerateOptions,
    Generation,
    GenerationFailed,
    IterationChecked,
    IterationStarted,
    Progress,
    generate_workflow,
)
from plait.apps.generations import GenerationStats, GenerationStore
from plait.apps.proposal_schema import DEFAULT_KINDS
from plait.apps.specfile import spec_json, spec_yaml

__all__ = [
    "DEFAULT_KINDS",
    "CacheHit",
    "GenerateOptions",
    "Generation",
    "GenerationFailed",
    "GenerationStats",
    "GenerationStore",
    "IterationChecked",
    "IterationStarted",
    "Progress",
    "generate_workflow",
    "spec_json",
    "spec_yaml",
]
