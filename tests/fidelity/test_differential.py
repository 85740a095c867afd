"""The comparison machinery itself, on fixed inputs (no Envoy): Envoy's log is read into
callbacks and plugin lines, and only the documented normalisations hide a difference."""

from __future__ import annotations

from wasmhub.runtime.differential import Exchange, Observation, compare, normalise
from wasmhub.runtime.envoy import parse_log

LOG = (
    "@@debug|12|wasm|Thread-Local Wasm created 2 now active\n"
    "@@trace|12|wasm|[host->vm] proxy_on_request_headers(2, 8)\n"
    "@@trace|12|wasm|[vm->host] env.proxy_log(2, 100, 5)\n"
    # the main thread's timer fires while the worker is inside a callback
    "@@trace|7|wasm|[host->vm] proxy_on_tick(1)\n"
    "@@info|7|wasm|wasm log my-plugin my-root my-vm: tick\n"
    "@@warning|12|wasm|wasm log my-plugin my-root my-vm: two\nlines\n"
    "@@trace|7|wasm|[host<-vm] proxy_on_tick return: void\n"
    "@@trace|12|wasm|[vm<-host] env.proxy_log return: 0\n"
    "@@trace|12|wasm|[host<-vm] proxy_on_request_headers return: 1\n"
    "@@info|12|wasm|wasm log my-plugin my-vm: \r\n"
    "@@error|7|main|something else\n"
)


def test_envoy_log_entries_carry_their_callback_and_plugin_text() -> None:
    entries = parse_log(LOG)
    plugin = [(e.level, e.plugin_message, e.callback) for e in entries
              if e.plugin_message is not None]
    assert plugin == [(2, "tick", "proxy_on_tick"), (3, "two\nlines", "proxy_on_request_headers"),
                      (2, "\r", None)]
    assert entries[-1].logger == "main" and entries[-1].plugin_message is None


def _observation(headers: list[tuple[str, str]], logs: list[str]) -> Observation:
    exchange = Exchange(200, headers, "ok", None, logs)
    return Observation("x", True, exchanges=[exchange])


def test_only_what_a_proxy_adds_is_normalised() -> None:
    request_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert normalise(f"id={request_id}") == "id=<request-id>"
    same = _observation([("x-a", "1")], ["info: hi <request-id>"])
    assert compare(same, _observation([("x-a", "1")], ["info: hi <request-id>"])) == []
    differs = compare(same, _observation([("x-a", "2")], ["info: hi <request-id>"]))
    assert differs and "headers" in differs[0]
    refused = Observation("local", False, "configure", "rejected")
    assert compare(same, refused)[0].startswith("load: envoy loaded it, wasmhub refused")
