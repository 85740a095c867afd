"""Fleet errors; each maps to the wire through the hub's typed errors (api.problems)."""

from __future__ import annotations

from wasmhub.errors import ConflictError, InputError, NotFoundError


class FleetDeploymentNotFound(NotFoundError):
    """No fleet deployment of that namespace and name."""


class RolloutRefused(InputError):
    """A revision may not be rolled out (incompatible, untrusted, bad spec), with why."""


class NothingToUndo(ConflictError):
    """``rollout undo`` with no earlier revision that was ever fully rolled out."""
