"""Typed errors of the local proxy-wasm runtime.

- ``ModuleLoadError`` (InputError): the module cannot be compiled, has no known ABI marker,
  imports something the host does not provide, or exports a callback with a wrong type.
- ``PluginStartError`` (InputError): the plugin refused to start (``proxy_on_vm_start`` or
  ``proxy_on_configure`` returned false, or trapped).
- ``TestFileError`` (InputError): a test file is malformed; the message names the field.
- ``ModuleResolveError`` (InputError): a module reference cannot be turned into bytes.

A trap inside a stream callback is not an exception: it is reported on the request's
result as a :class:`wasmhub.runtime.model.PluginFailure`, and the request follows the
configured fail strategy, as Envoy does.
"""

from __future__ import annotations

from collections.abc import Sequence

from wasmhub.errors import InputError


class ModuleLoadError(InputError):
    """Refused before any plugin code ran (stage ``load``), as Envoy's "Failed to
    initialize Wasm code"."""

    stage = "load"
    plugin_logs: list[object] = []  # noqa: RUF012 - never mutated; nothing ran


class PluginStartError(InputError):
    """The plugin refused to start. ``stage`` is ``start`` (``_start``/``_initialize``/
    ``proxy_on_context_create``/``proxy_on_vm_start``: Envoy's "Failed to start base
    Wasm") or ``configure`` (``proxy_on_configure``: "Failed to configure base Wasm
    plugin"); ``callback`` the guest function that refused or trapped; ``plugin_logs``
    the :class:`~wasmhub.runtime.LogEntry` lines the plugin wrote before, which usually
    say why (Envoy logs them too)."""

    def __init__(self, message: str, *, stage: str = "start", callback: str = "",
                 plugin_logs: Sequence[object] | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.callback = callback
        self.plugin_logs = list(plugin_logs or [])


class TestFileError(InputError):
    __test__ = False  # not a pytest test class


class ModuleResolveError(InputError):
    pass


class GuestTrap(Exception):
    """A guest callback trapped or ran past its deadline (internal control flow)."""

    def __init__(self, callback: str, message: str) -> None:
        super().__init__(f"{callback}: {message}")
        self.callback = callback
        self.message = message


class GuestMemoryError(Exception):
    """A pointer/size pair from the guest is outside its linear memory (internal)."""


class HostTrap(Exception):
    """Raised by a host function to trap the guest on purpose (e.g. ``proc_exit``)."""


class PluginFailed(Exception):
    """A callback failed; carries the PluginFailure (internal control flow)."""

    def __init__(self, failure: object) -> None:
        describe = getattr(failure, "describe", None)
        super().__init__(describe() if callable(describe) else str(failure))
        self.failure = failure
