"""Deploy errors: each names the field or check a user must fix; nothing was applied.

- :class:`SpecError` (``InputError``): a ``Deployment`` field is invalid (``field`` names it).
- :class:`UnsupportedOnPlatform` (``SpecError``): the field is valid, but the platform has
  no way to express it (for example a traffic match on Envoy Gateway).
- :class:`CheckFailed` (``InputError``): a pre-apply check refused (compatibility, config,
  pinning, pull secret); ``reasons`` lists every refusal; ``--force`` overrides only the
  compatibility check.
- :class:`SchemaViolation` (``InputError``): a rendered resource breaks the platform's
  published schema (a bug in a provider or a value the platform forbids).
- :class:`TagMoved` (``ConflictError``): the tag points at another digest than the one
  resolved; apply refuses rather than deploy something else than was checked.
- :class:`ClusterError` (``UpstreamError``): the cluster is unreachable or refused.
- :class:`MissingResourceType` (``ClusterError``): the cluster lacks the CRD.
"""

from __future__ import annotations

from collections.abc import Sequence

from wasmhub.errors import ConflictError, InputError, UpstreamError


class SpecError(InputError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnsupportedOnPlatform(SpecError):
    def __init__(self, platform: str, field: str, message: str) -> None:
        super().__init__(field, f"{platform} cannot express this: {message}")
        self.platform = platform


class CheckFailed(InputError):
    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("refused: " + "; ".join(reasons), detail=list(reasons))
        self.reasons = tuple(reasons)


class SchemaViolation(InputError):
    def __init__(self, resource: str, problems: Sequence[str]) -> None:
        super().__init__(
            f"{resource} breaks the platform schema: " + "; ".join(problems),
            detail=list(problems),
        )
        self.resource = resource
        self.problems = tuple(problems)


class TagMoved(ConflictError):
    def __init__(self, reference: str, resolved: str, now: str) -> None:
        super().__init__(
            f"plugin.ref: tag {reference} moved from {resolved} to {now} since it was resolved;"
            " nothing was applied (deploy by digest, or resolve again)"
        )


class ClusterError(UpstreamError):
    pass


class MissingResourceType(ClusterError):
    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(
            f"the cluster has no {kind} ({api_version}) resource type: install the platform's"
            " CRDs first; nothing was applied"
        )
        self.api_version = api_version
        self.kind = kind
