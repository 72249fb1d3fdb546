"""Security levels: what a tool may touch, and the ordering a registry checks against."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SecurityLevel"]

_RANK = {"safe": 0, "restricted": 1, "privileged": 2}


class SecurityLevel(StrEnum):
    """How much a tool can reach, from least to most.

    * ``safe``: pure computation on its arguments; no files, network or processes;
    * ``restricted``: files inside a :class:`~plait.tools.Sandbox`, or the network through an
      allowlist; every access is checked;
    * ``privileged``: can run programs (allowlisted, in the sandbox) — full trust in whatever
      those programs do.

    Levels compare by that order, not alphabetically: ``SAFE < RESTRICTED < PRIVILEGED``.
    """

    SAFE = "safe"
    RESTRICTED = "restricted"
    PRIVILEGED = "privileged"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    def allows(self, other: SecurityLevel | str) -> bool:
        """Whether a maximum of ``self`` admits a tool at level ``other``."""
        return SecurityLevel(other).rank <= self.rank

    def __lt__(self, other: str) -> bool:
        return self.rank < SecurityLevel(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= SecurityLevel(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > SecurityLevel(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= SecurityLevel(other).rank
