"""The ECDS server: Envoys subscribe to ``wasmhub/<namespace>/<name>`` and get the wasm filter.

One gRPC server (``grpcio``'s asyncio API on its own event loop, in one thread of the
``wasmhub serve`` process: the supervisor when there are several workers) answers
Envoy's four ways of asking for extension configs, with one implementation:

- ``ExtensionConfigDiscoveryService.StreamExtensionConfigs`` (state of the world) and
  ``DeltaExtensionConfigs`` (incremental), for ``config_discovery`` sources with
  ``api_config_source`` ``GRPC`` / ``DELTA_GRPC``;
- ``AggregatedDiscoveryService`` (ADS, both variants) for an ``ads: {}`` source; requests
  for other resource types on the aggregated stream are left unanswered.

Each response carries one resource (``TypedExtensionConfig``), so an ACK or NACK
(``error_detail``) names exactly one revision; ``version_info`` / the delta resource
``version`` is the revision number and every response has a fresh nonce. A delta client
that reconnects saying it already has the current revision (``initial_resource_versions``)
is not sent it again.

The database is the source of truth (:class:`~wasmhub.fleet.service.FleetService`): the
server polls the deployments' generations every ``xds_poll_seconds`` and reloads what
changed, so a rollout set through any worker (or another replica) reaches every stream;
ACKs, NACKs and node identity are written back, read by the REST API and the CLI.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from envoy.config.core.v3 import extension_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from envoy.service.extension.v3 import config_discovery_pb2_grpc
from google.protobuf import any_pb2, json_format

from wasmhub.errors import WasmhubError
from wasmhub.fleet.service import FleetService, NodeInfo, ResourceState, RevisionView

log = logging.getLogger(__name__)
ECDS_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
FOLLOW_TAG_EVERY = 5  # poll rounds between checks of followed tags
# A NACK is retried (the same revision resent) this many times, after 1, 2, 4 ... s: with
# ``nack_on_code_cache_miss`` Envoy NACKs a module it has not fetched yet while it fetches
# it, with the same words as a module that fails; only a NACK that persists is reported.
NACK_ATTEMPTS = 4


class XdsListenError(WasmhubError):
    """The xDS server cannot listen on its address."""


def node_info(node: Any) -> NodeInfo:
    version = ""
    if node.HasField("user_agent_build_version"):
        v = node.user_agent_build_version.version
        version = f"{v.major_number}.{v.minor_number}.{v.patch}"
    elif node.user_agent_version:
        version = node.user_agent_version
    locality = {k: getattr(node.locality, k) for k in ("region", "zone", "sub_zone")
                if getattr(node.locality, k)}
    return NodeInfo(node.id or "(no node id)", node.cluster, locality, version,
                    node.user_agent_name)


def packed_config(resource: str, revision: RevisionView, attempt: int = 0) -> any_pb2.Any:
    message = extension_pb2.TypedExtensionConfig()
    json_format.ParseDict(revision.extension_config(resource, attempt), message)
    out = any_pb2.Any()
    out.Pack(message)
    return out


@dataclass
class _Sent:
    resource: str
    revision: int
    digest: str


@dataclass(eq=False)  # one per gRPC stream, kept in a set by identity
class _Stream:
    delta: bool
    node: NodeInfo | None = None
    subscribed: set[str] = field(default_factory=set)
    sent: dict[str, int | None] = field(default_factory=dict)  # resource -> revision
    pending: dict[str, _Sent] = field(default_factory=dict)  # nonce -> what it carried
    attempts: dict[tuple[str, int], int] = field(default_factory=dict)  # NACKs so far
    nonces: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class XdsServer:
    """``start()`` binds and serves in a thread; ``stop()`` ends it (streams are cut and
    the Envoys keep their last config until they reconnect)."""

    def __init__(self, service: FleetService, host: str, port: int, *,
                 poll_seconds: float = 1.0, max_streams: int = 1000,
                 max_names: int = 100, stale_seconds: float = 60.0) -> None:
        self.service = service
        self.host, self.port = host, port
        self.poll_seconds = poll_seconds
        self.max_streams = max_streams
        self.max_names = max_names
        self.heartbeat_seconds = stale_seconds / 4
        self.state: dict[str, ResourceState] = {}
        self._generations: dict[str, int] = {}
        self._streams: set[_Stream] = set()
        self._node_streams: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        self._thread = threading.Thread(target=self._run, name="wasmhub-xds", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise XdsListenError(f"the xDS server did not start in {timeout:.0f}s")
        if self._error is not None:
            raise XdsListenError(str(self._error)) from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); logged if it was running
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("xDS server stopped")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # No HTTP/2 max_concurrent_streams: that limit is per connection and makes a stream
        # past it wait unanswered; serve() refuses past xds_max_streams (all connections)
        # with RESOURCE_EXHAUSTED, which the proxy logs and retries.
        server = grpc.aio.server()
        config_discovery_pb2_grpc.add_ExtensionConfigDiscoveryServiceServicer_to_server(
            _Ecds(self), server)
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Ads(self), server)
        where = f"{self.host}:{self.port}"
        try:
            bound = server.add_insecure_port(where)
        except RuntimeError as exc:
            raise XdsListenError(f"cannot listen for xDS on {where}: {exc}") from None
        if not bound:
            raise XdsListenError(f"cannot listen for xDS on {where} (in use?); choose "
                                 "another with --xds-port or WASMHUB_XDS_PORT")
        await server.start()
        await self._reload()
        self._ready.set()
        tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._heartbeat())]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await server.stop(grace=1)

    async def _reload(self) -> None:
        generations = await asyncio.to_thread(self.service.generations)
        if generations == self._generations:
            return
        self.state = await asyncio.to_thread(self.service.snapshot)
        self._generations = {k: v.generation for k, v in self.state.items()}
        for stream in self._streams:
            stream.wake.set()

    async def _poll(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self.poll_seconds)
            rounds += 1
            try:
                if rounds % FOLLOW_TAG_EVERY == 0:
                    await asyncio.to_thread(self.service.follow_tags)
                await self._reload()
            except Exception:  # the database may be down for a while: keep serving
                log.exception("xDS: reading fleet deployments failed")

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                live = sorted(self._node_streams)
                await asyncio.to_thread(self.service.heartbeat, live)
                # A node whose last stream ended while the heartbeat ran may have been
                # marked disconnected before the heartbeat's write: mark it again.
                for node_id in live:
                    if node_id not in self._node_streams:
                        await asyncio.to_thread(self.service.node_disconnected, node_id)
            except Exception:
                log.exception("xDS: heartbeat failed")

    # -- streams --------------------------------------------------------------------------

    async def serve(self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext,
                    *, delta: bool) -> AsyncIterator[Any]:
        if len(self._streams) >= self.max_streams:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"this hub serves at most {self.max_streams} xDS streams")
        stream = _Stream(delta)
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        async def read() -> None:
            try:
                async for request in requests:
                    await inbox.put(request)
            except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.CancelledError):
                pass  # the stream ended (the proxy went away, or the server stops)
            finally:
                inbox.put_nowait(None)

        reader = asyncio.create_task(read())
        self._streams.add(stream)
        try:
            while True:
                waiter = asyncio.create_task(inbox.get())
                woken = asyncio.create_task(stream.wake.wait())
                done, _ = await asyncio.wait({waiter, woken},
                                             return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if waiter in done:
                    request = waiter.result()
                    if request is None:
                        return
                    if request.type_url and request.type_url != ECDS_TYPE:
                        continue  # ADS: a type this server does not serve
                    if not self._within_names(stream, request):
                        await context.abort(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"one xDS stream subscribes to at most {self.max_names} names")
                    await self._on_request(stream, request)
                else:
                    waiter.cancel()
                    stream.wake.clear()
                for response in await self._updates(stream):
                    yield response
        finally:
            reader.cancel()
            self._streams.discard(stream)
            await self._gone(stream)

    def _within_names(self, stream: _Stream, request: Any) -> bool:
        """The stream's subscriptions after ``request`` stay within ``max_names`` (the port
        has no authentication: each name a node subscribes to is a row in the database)."""
        if stream.delta:
            names = (stream.subscribed | set(request.resource_names_subscribe)) \
                - set(request.resource_names_unsubscribe)
        else:
            names = set(request.resource_names)
        return len(names) <= self.max_names

    async def _on_request(self, stream: _Stream, request: Any) -> None:
        if stream.node is None:
            stream.node = node_info(request.node)
            fresh = self._node_streams.get(stream.node.node_id, 0) == 0
            self._node_streams[stream.node.node_id] = \
                self._node_streams.get(stream.node.node_id, 0) + 1
            await asyncio.to_thread(self.service.node_seen, stream.node, fresh=fresh)
        node_id = stream.node.node_id
        if request.response_nonce:
            sent = stream.pending.pop(request.response_nonce, None)
            if sent is not None:
                key = (sent.resource, sent.revision)
                if request.HasField("error_detail"):
                    tries = stream.attempts.get(key, 0) + 1
                    stream.attempts[key] = tries
                    if tries < NACK_ATTEMPTS:
                        self._resend_later(stream, sent.resource, 2.0 ** (tries - 1))
                    else:
                        await asyncio.to_thread(self.service.node_nacked, node_id,
                                                sent.resource, sent.revision,
                                                request.error_detail.message)
                else:
                    stream.attempts.pop(key, None)
                    await asyncio.to_thread(self.service.node_acked, node_id, sent.resource,
                                            sent.revision, sent.digest)
        if stream.delta:
            added = set(request.resource_names_subscribe)
            stream.subscribed |= added
            stream.subscribed -= set(request.resource_names_unsubscribe)
            for name, version in request.initial_resource_versions.items():
                current = self._current(stream, name)
                if current is not None and version == str(current.revision):
                    stream.sent[name] = current.revision  # it has it: do not resend
                    await asyncio.to_thread(self.service.node_acked, node_id, name,
                                            current.revision, current.digest)
        else:
            names = set(request.resource_names)
            added = names - stream.subscribed
            stream.subscribed = names
        for gone in set(stream.sent) - stream.subscribed:
            stream.sent.pop(gone, None)
        if added:
            await asyncio.to_thread(self.service.node_subscribed, node_id, sorted(added))

    def _resend_later(self, stream: _Stream, resource: str, delay: float) -> None:
        def resend() -> None:
            stream.sent.pop(resource, None)
            stream.wake.set()

        asyncio.get_running_loop().call_later(delay, resend)

    def _current(self, stream: _Stream, resource: str) -> RevisionView | None:
        state = self.state.get(resource)
        if state is None or stream.node is None:
            return None
        return state.revision_for(stream.node)[0]

    async def _updates(self, stream: _Stream) -> list[Any]:
        if stream.node is None:
            return []
        out = []
        for resource in sorted(stream.subscribed):
            state = self.state.get(resource)
            if state is None:
                # No such deployment. Delta xDS says so with removed_resources (Envoy then
                # applies the filter's default config, or keeps it); state of the world
                # has no way to but leaving it out (Envoy's initial_fetch_timeout).
                if stream.delta and resource not in stream.sent:
                    stream.sent[resource] = None
                    out.append(discovery_pb2.DeltaDiscoveryResponse(
                        type_url=ECDS_TYPE, nonce=str(next(stream.nonces)),
                        removed_resources=[resource]))
                continue
            revision, held = state.revision_for(stream.node)
            number = revision.revision if revision else None
            if resource in stream.sent and stream.sent[resource] == number:
                continue
            stream.sent[resource] = number
            await asyncio.to_thread(self.service.node_sent, stream.node.node_id, resource,
                                    number, held)
            if revision is None:
                continue  # nothing servable: Envoy keeps (or starts with) its default config
            nonce = str(next(stream.nonces))
            stream.pending[nonce] = _Sent(resource, revision.revision, revision.digest)
            packed = packed_config(resource, revision,
                                   stream.attempts.get((resource, revision.revision), 0))
            if stream.delta:
                out.append(discovery_pb2.DeltaDiscoveryResponse(
                    system_version_info=str(state.generation), type_url=ECDS_TYPE, nonce=nonce,
                    resources=[discovery_pb2.Resource(
                        name=resource, version=str(revision.revision), resource=packed)]))
            else:
                out.append(discovery_pb2.DiscoveryResponse(
                    version_info=str(revision.revision), type_url=ECDS_TYPE, nonce=nonce,
                    resources=[packed]))
        return out

    async def _gone(self, stream: _Stream) -> None:
        if stream.node is None:
            return
        node_id = stream.node.node_id
        left = self._node_streams.get(node_id, 1) - 1
        if left > 0:
            self._node_streams[node_id] = left
            return
        self._node_streams.pop(node_id, None)
        try:
            # Shielded: gRPC cancels the stream's task when the peer goes away, and a
            # cancelled to_thread that had not started yet would never record the
            # disconnect (the node then stayed "connected" with no stream).
            await asyncio.shield(asyncio.to_thread(self.service.node_disconnected, node_id))
        except Exception:
            log.exception("xDS: recording %s's disconnect failed", node_id)


class _Ecds:
    """ExtensionConfigDiscoveryService (the generated servicer's methods)."""

    def __init__(self, server: XdsServer) -> None:
        self.server = server

    async def StreamExtensionConfigs(self, request_iterator: Any, context: Any
                                 ) -> AsyncIterator[Any]:
        async for response in self.server.serve(request_iterator, context, delta=False):
            yield response

    async def DeltaExtensionConfigs(self, request_iterator: Any, context: Any
                                 ) -> AsyncIterator[Any]:
        async for response in self.server.serve(request_iterator, context, delta=True):
            yield response


    async def FetchExtensionConfigs(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                            "use StreamExtensionConfigs or DeltaExtensionConfigs")


class _Ads:
    """AggregatedDiscoveryService (the generated servicer's methods)."""

    def __init__(self, server: XdsServer) -> None:
        self.server = server

    async def StreamAggregatedResources(self, request_iterator: Any, context: Any
                                    ) -> AsyncIterator[Any]:
        async for response in self.server.serve(request_iterator, context, delta=False):
            yield response

    async def DeltaAggregatedResources(self, request_iterator: Any, context: Any
                                    ) -> AsyncIterator[Any]:
        async for response in self.server.serve(request_iterator, context, delta=True):
            yield response
