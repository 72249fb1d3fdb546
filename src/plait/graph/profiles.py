"""GraphBit's three performance profiles as engine defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from plait.graph.spec import Profile

__all__ = ["PROFILES", "ProfileDefaults"]


@dataclass(frozen=True, slots=True)
class ProfileDefaults:
    max_concurrency: int
    """Global limit on concurrently executing async nodes, across all runs of the engine."""
    fail_fast: bool
    kind_limits: dict[str, int] = field(default_factory=dict)
    retry_max_delay: float | None = None
    """Caps every retry delay (latency-sensitive work should not sleep long)."""
    release_outputs: bool = False
    """Drop an intermediate node's output once every consumer has it (outputs stay)."""


PROFILES: dict[Profile, ProfileDefaults] = {
    Profile.HIGH_THROUGHPUT: ProfileDefaults(max_concurrency=512, fail_fast=True),
    Profile.LOW_LATENCY: ProfileDefaults(max_concurrency=128, fail_fast=True,
                                         retry_max_delay=1.0),
    Profile.MEMORY_OPTIMIZED: ProfileDefaults(max_concurrency=8, fail_fast=True,
                                              release_outputs=True),
}
