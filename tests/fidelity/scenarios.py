"""What the fidelity suite sends through each module (test data, not product code).

Every module in ../shared/corpus and every sample in examples/ gets the same two requests
(a GET with headers, a POST with a body); a module whose purpose is to reject requests also
gets the request it should reject and one it should let through, with the configuration it
needs, here. Samples take their configuration and their requests (in order, repeats
expanded, with each case's upstream answer) from their own tests.yaml; cases that move the
virtual clock are left out (a proxy's clock cannot be moved). Used by
tests/fidelity/test_fidelity.py and bench/fidelity.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmhub.runtime import HostConfig, HttpRequest, UpstreamResponse
from wasmhub.runtime.differential import Scenario
from wasmhub.runtime.testfile import config_bytes, header_pairs, load_test_file

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "modules"
EXAMPLES = ROOT / "examples"
SAMPLES = ("add-header", "auth-tenant", "rate-limit", "data-mask", "c-add-header")

GET = HttpRequest("GET", "/hello?lang=en", [("x-test", "one"), ("user-agent", "fidelity/1.0")],
                  authority="example.com")
POST = HttpRequest("POST", "/submit", [("content-type", "text/plain"),
                                       ("content-length", "11")], b"hello body!",
                   authority="example.com")
UPSTREAM = UpstreamResponse(200, [("content-type", "text/plain")], b"upstream says hello\n")
CALLOUT = UpstreamResponse(200, [("content-type", "application/json")],
                           b'{"uuid": "6f1c3e1e-0000-4000-8000-000000000000"}')


GET2 = HttpRequest("GET", "/other", [("x-test", "two"), ("accept", "*/*")],
                   authority="example.com")
AUTH_RANDOM = ("authorises each request with a call to the httpbin cluster, forwarding the "
               "request's own headers: for a POST that includes its content-length without "
               "the body, so the answer is up to the callout server (it waits for the body "
               "until the call times out); GETs only")


@dataclass
class Extra:
    """Per-module additions: configuration it needs and the requests its purpose calls
    for (``why`` is shown in the report)."""

    plugin_config: Any = None
    root_id: str = ""
    requests: list[HttpRequest] = field(default_factory=list)
    callouts: dict[str, UpstreamResponse] = field(default_factory=dict)
    why: str = ""
    # Replace the standard GET + POST (when the module's behaviour for one of them is
    # decided by something outside either host; ``why`` says what).
    only: list[HttpRequest] | None = None
    # What the module randomises on purpose (random_get): matches are replaced by
    # <random> in both hosts' log lines and upstream header values before comparing.
    random_log: str = ""


def _get(path: str, **headers: str) -> HttpRequest:
    return HttpRequest("GET", path, [(k.replace("_", "-"), v) for k, v in headers.items()],
                       authority="example.com")


# Keyed by the module's path under the corpus. Configuration formats are the modules' own
# (from their source repositories' READMEs and tests).
EXTRAS: dict[str, Extra] = {
    "Kong__kong/proxy_wasm_key_auth.wasm": Extra(
        plugin_config={"key_names": ["apikey"], "hide_credentials": True,
                       "key_in_header": True, "key_in_query": True, "key_in_body": False,
                       "run_on_preflight": True, "realm": "wasmhub",
                       "keys": {"secret-key": {"id": "k1", "consumer": {
                           "id": "c1", "username": "alice", "custom_id": "a-1"}}}},
        requests=[_get("/private"), _get("/private", apikey="wrong"),
                  _get("/private", apikey="secret-key")],
        why="key auth: no key and a wrong key are rejected, the right key passes"),
    "tetratelabs__proxy-wasm-go-sdk/http_auth_random.wasm": Extra(
        callouts={"httpbin": CALLOUT}, only=[GET, GET2],
        why=AUTH_RANDOM),
    "roastedroot__proxy-wasm-java-sdk/go__http_auth_random.wasm": Extra(
        callouts={"httpbin": CALLOUT}, only=[GET, GET2],
        why=AUTH_RANDOM),
    "roastedroot__proxy-wasm-java-sdk/go__http_routing.wasm": Extra(
        random_log=r"(?<=value: )\d+|^example\.com(-canary)?$",
        why="routes each request at random (random_get) to the canary, and logs the "
            "number: the number and the upstream host (example.com or "
            "example.com-canary) are normalised"),
}


# Differences known and explained in docs/fidelity.md: the test expects them (strictly,
# so it fails the day the module becomes identical and the entry must go).
KNOWN_DIFFERENCES: dict[str, str] = {}


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def corpus_scenarios() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for path in sorted(CORPUS.glob("*/*.wasm")):
        name = _case_id(path)
        extra = EXTRAS.get(name, Extra())
        config = HostConfig(plugin_config=config_bytes(extra.plugin_config),
                            root_id=extra.root_id)
        requests = [GET, POST] if extra.only is None else list(extra.only)
        found[name] = Scenario(path, config, [*requests, *extra.requests], UPSTREAM,
                               callouts=dict(extra.callouts))
    return found


def sample_scenario(name: str, module: Path) -> Scenario:
    spec = load_test_file(EXAMPLES / name / "tests.yaml")
    config = HostConfig(plugin_config=config_bytes(spec.plugin_config),
                        vm_config=config_bytes(spec.vm_config), vm_env=dict(spec.vm_env),
                        root_id=spec.root_id, plugin_name=spec.plugin_name)
    requests: list[HttpRequest] = []
    responses: list[UpstreamResponse] = []
    for case in spec.cases:
        if case.advance_ms or case.request is None or case.connection is not None:
            continue
        req = case.request
        request = HttpRequest(req.method, req.path, header_pairs(req.headers),
                              req.body.encode(), [], req.authority, req.scheme)
        if req.body and not any(k == "content-length" for k, _ in request.headers):
            request.headers.append(("content-length", str(len(req.body.encode()))))
        up = case.upstream
        response = UpstreamResponse(up.status, header_pairs(up.headers), up.body.encode())
        for _ in range(case.repeat):
            requests.append(request)
            responses.append(response)
    return Scenario(module, config, [GET, POST, *requests], UPSTREAM,
                    responses=[UPSTREAM, UPSTREAM, *responses])


def build_samples(out: Path) -> dict[str, Path]:
    from wasmhub.build import build_project

    built: dict[str, Path] = {}
    for name in SAMPLES:
        target = out / f"{name}.wasm"
        build_project(EXAMPLES / name, target, sink=lambda _line: None)
        built[f"examples/{name}"] = target
    return built


def all_scenarios(out: Path) -> dict[str, Scenario]:
    scenarios = corpus_scenarios()
    for name, module in build_samples(out).items():
        scenarios[name] = sample_scenario(name.split("/", 1)[1], module)
    return scenarios


def why(name: str) -> str:
    return EXTRAS.get(name, Extra()).why


def random_log(name: str) -> str:
    return EXTRAS.get(name, Extra()).random_log
