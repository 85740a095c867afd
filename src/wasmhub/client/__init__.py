"""Clients for remote services: any OCI registry (``registry``) and the hub API (``hub``).

``reference`` parses image references, ``credentials`` reads and writes Docker's
``config.json``, ``auth`` answers registry challenges, ``transfer`` pushes, pulls and copies
whole images, ``errors`` holds the typed errors they raise.
"""

from __future__ import annotations

from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.errors import (
    DigestMismatchError,
    RegistryError,
    UnreachableError,
)
from wasmhub.client.hub import HubClient
from wasmhub.client.reference import Reference
from wasmhub.client.registry import Descriptor, Manifest, RegistryClient

__all__ = [
    "Credential",
    "Descriptor",
    "DigestMismatchError",
    "DockerConfig",
    "HubClient",
    "Manifest",
    "Reference",
    "RegistryClient",
    "RegistryError",
    "UnreachableError",
]
