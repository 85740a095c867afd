"""A Python xDS client for the tests: one gRPC stream acting as one Envoy node.

Written from the xDS protocol (envoy.service.discovery.v3), not from the server under test:
the first request carries the Node (id, cluster, locality, ``user_agent_build_version``);
an ACK repeats the response's nonce and version, a NACK adds ``error_detail``. Responses
are read by a thread into a queue, so every wait has a deadline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2, extension_pb2
from envoy.extensions.filters.http.wasm.v3 import wasm_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from envoy.service.extension.v3 import config_discovery_pb2_grpc
from google.rpc import status_pb2

ECDS_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
WAIT = 60.0  # generous: the machine is busy
_END = object()


class StreamEnded(Exception):
    def __init__(self, code: grpc.StatusCode | None, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code, self.details = code, details


class XdsClient:
    """``mode``: ``sotw`` / ``delta`` (ExtensionConfigDiscoveryService) or ``ads`` /
    ``ads-delta`` (AggregatedDiscoveryService)."""

    def __init__(self, port: int, node_id: str, mode: str = "sotw", *,
                 version: tuple[int, int, int] = (1, 40, 0), cluster: str = "edge",
                 zone: str = "zone-a") -> None:
        self.mode = mode
        self.delta = mode in ("delta", "ads-delta")
        self.node = base_pb2.Node(id=node_id, cluster=cluster, user_agent_name="envoy",
                                  locality=base_pb2.Locality(region="eu", zone=zone))
        v = self.node.user_agent_build_version.version
        v.major_number, v.minor_number, v.patch = version
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._requests: queue.Queue[Any] = queue.Queue()
        self.responses: queue.Queue[Any] = queue.Queue()
        self._first = True
        if mode in ("ads", "ads-delta"):
            ads = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
            method = ads.DeltaAggregatedResources if self.delta else ads.StreamAggregatedResources
        else:
            ecds = config_discovery_pb2_grpc.ExtensionConfigDiscoveryServiceStub(self.channel)
            method = ecds.DeltaExtensionConfigs if self.delta else ecds.StreamExtensionConfigs
        self.call = method(self._outgoing())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _outgoing(self) -> Iterator[Any]:
        while True:
            request = self._requests.get()
            if request is _END:
                return
            yield request

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
            self.responses.put(StreamEnded(grpc.StatusCode.OK, "ended"))
        except grpc.RpcError as exc:
            self.responses.put(StreamEnded(exc.code(), exc.details() or ""))

    # -- requests -------------------------------------------------------------------------

    def _node(self) -> dict[str, Any]:
        if self._first:  # Envoy sends its node in the first request of a stream
            self._first = False
            return {"node": self.node}
        return {}

    def subscribe(self, *names: str, initial: dict[str, str] | None = None,
                  type_url: str = ECDS_TYPE) -> None:
        if self.delta:
            self._requests.put(discovery_pb2.DeltaDiscoveryRequest(
                type_url=type_url, resource_names_subscribe=list(names),
                initial_resource_versions=initial or {}, **self._node()))
        else:
            self._requests.put(discovery_pb2.DiscoveryRequest(
                type_url=type_url, resource_names=list(names), **self._node()))

    def unsubscribe(self, *names: str) -> None:
        assert self.delta
        self._requests.put(discovery_pb2.DeltaDiscoveryRequest(
            type_url=ECDS_TYPE, resource_names_unsubscribe=list(names), **self._node()))

    def ack(self, response: Any, names: list[str], *, version: str | None = None) -> None:
        if self.delta:
            self._requests.put(discovery_pb2.DeltaDiscoveryRequest(
                type_url=ECDS_TYPE, response_nonce=response.nonce, **self._node()))
        else:
            self._requests.put(discovery_pb2.DiscoveryRequest(
                type_url=ECDS_TYPE, resource_names=names, response_nonce=response.nonce,
                version_info=response.version_info if version is None else version,
                **self._node()))

    def nack(self, response: Any, names: list[str], error: str, *, last_good: str = ""
             ) -> None:
        detail = status_pb2.Status(code=3, message=error)  # INVALID_ARGUMENT, as Envoy
        if self.delta:
            self._requests.put(discovery_pb2.DeltaDiscoveryRequest(
                type_url=ECDS_TYPE, response_nonce=response.nonce, error_detail=detail,
                **self._node()))
        else:
            self._requests.put(discovery_pb2.DiscoveryRequest(
                type_url=ECDS_TYPE, resource_names=names, response_nonce=response.nonce,
                version_info=last_good, error_detail=detail, **self._node()))

    # -- responses ------------------------------------------------------------------------

    def next(self, timeout: float = WAIT) -> Any:
        try:
            got = self.responses.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no xDS response within {timeout:.0f}s") from None
        if isinstance(got, StreamEnded):
            raise got
        return got

    def ended(self, timeout: float = WAIT) -> StreamEnded:
        try:
            got = self.responses.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the stream did not end within {timeout:.0f}s") from None
        assert isinstance(got, StreamEnded), f"expected the stream to end, got {got}"
        return got

    def nothing_within(self, seconds: float) -> bool:
        """True when no response arrives within ``seconds`` (only ever used beside a
        positive check that the stream works: a quiet stream is not proof alone)."""
        try:
            got = self.responses.get(timeout=seconds)
        except queue.Empty:
            return True
        self.responses.put(got)
        return False

    def close(self) -> None:
        self._requests.put(_END)
        self.call.cancel()
        self.channel.close()
        self._reader.join(timeout=30)


def config_of(response: Any) -> tuple[str, str, wasm_pb2.Wasm]:
    """(resource name, version, the Wasm filter config) of a one-resource response."""
    if isinstance(response, discovery_pb2.DeltaDiscoveryResponse):
        [resource] = response.resources
        packed, version, name = resource.resource, resource.version, resource.name
    else:
        [packed] = response.resources
        version, name = response.version_info, ""
    typed = extension_pb2.TypedExtensionConfig()
    assert packed.Unpack(typed)
    assert not name or name == typed.name
    wasm = wasm_pb2.Wasm()
    assert typed.typed_config.Unpack(wasm)
    return typed.name, version, wasm
