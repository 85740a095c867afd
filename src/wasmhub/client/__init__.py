"""Clients for remote services: any OCI registry (``registry``) and the hub API (``hub``).

``credentials`` reads and writes Docker's ``config.json``, ``auth`` answers registry
challenges, ``transfer`` pushes, pulls and copies whole images, ``errors`` holds the typed
errors they raise. Image references are ``wasmhub.oci.reference.Reference`` (re-exported).
"""

from __future__ import annotations

from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.errors import (
    DigestMismatchError,
    RegistryError,
    UnreachableError,
)
from wasmhub.client.hub import HubClient
from wasmhub.client.registry import Descriptor, Manifest, RegistryClient
from wasmhub.oci.reference import Reference

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
