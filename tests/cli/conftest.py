from __future__ import annotations

from tests.client.fixtures import basic_proxy, bearer_proxy, docker_config, registry

__all__ = ["basic_proxy", "bearer_proxy", "docker_config", "registry"]
