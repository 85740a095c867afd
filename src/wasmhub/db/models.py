"""Imports every domain's models so Base.metadata is complete (for Alembic and tests)."""

from __future__ import annotations

import importlib

# Each domain package that defines tables adds its models module here.
MODEL_MODULES: tuple[str, ...] = (
    "wasmhub.registry.models",
    "wasmhub.catalog.models",
    "wasmhub.signing.models",
    "wasmhub.accounts.models",
    "wasmhub.orgs.models",
    "wasmhub.authz.models",
    "wasmhub.fleet.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
