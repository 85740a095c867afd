"""compatibility(): verdicts grounded in data/platforms.yaml."""

from __future__ import annotations

import re

import pytest

from tests.wasm.conftest import BuildWat
from wasmhub.wasm import compatibility, inspect_module
from wasmhub.wasm.abi import load_data_file
from wasmhub.wasm.compat import platform_versions, platforms


def _by_key(build_wat: BuildWat, name: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    report = inspect_module(build_wat(name))
    return {f"{v.platform}@{v.version}": (v.status, v.reasons) for v in compatibility(report)}


def test_every_platform_family_is_covered() -> None:
    assert set(platforms()) == {"envoy", "istio", "envoy-gateway", "higress", "consul", "gloo"}
    for name in platforms():
        assert sum(1 for v in platform_versions() if v.platform == name) >= 2


def test_every_fact_names_a_known_source() -> None:
    raw = load_data_file("platforms.yaml")
    known = set(raw["sources"])
    for profile in raw["host_profiles"].values():
        assert set(profile["sources"]) <= known
    for platform in raw["platforms"].values():
        assert set(platform["sources"]) <= known
        for entry in platform["versions"]:
            assert set(entry.get("sources", [])) <= known


def test_abi_0_2_1_needs_istio_1_7(build_wat: BuildWat) -> None:
    verdicts = _by_key(build_wat, "abi_0_2_1_http")
    assert verdicts["istio@1.5"][0] == "incompatible"
    assert "ABI 0.2.1 is not supported" in verdicts["istio@1.5"][1][0]
    assert verdicts["istio@1.7"] == ("compatible", ())
    assert verdicts["envoy-gateway@1.4"] == ("compatible", ())
    assert verdicts["gloo@1.5"][0] == "unverified"


def test_abi_0_1_0_loads_on_istio_1_5(build_wat: BuildWat) -> None:
    verdicts = _by_key(build_wat, "abi_0_1_0_http")
    assert verdicts["istio@1.5"] == ("compatible", ())
    assert verdicts["envoy@1.34"] == ("compatible", ())


def test_host_function_from_another_abi_is_missing(build_wat: BuildWat) -> None:
    status, reasons = _by_key(build_wat, "abi_0_2_1_wrong_import")["envoy@1.30"]
    assert status == "incompatible"
    assert "missing import env.proxy_get_configuration (not provided for ABI 0.2.1)" in reasons
    assert "missing import env.proxy_made_up_call (not provided for ABI 0.2.1)" in reasons


def test_wasi_functions_decide_by_version(build_wat: BuildWat) -> None:
    verdicts = _by_key(build_wat, "tinygo_like_wasi")
    status, reasons = verdicts["istio@1.11"]
    assert status == "incompatible"
    assert any("wasi_snapshot_preview1.path_open" in r for r in reasons)
    # fd_filestat_get is missing everywhere upstream (cpp-host issue #308) ...
    status, reasons = verdicts["envoy@1.34"]
    assert reasons == (
        "missing import wasi_snapshot_preview1.fd_filestat_get (WASI function not provided)",
    )
    # ... but Higress builds may carry extra WASI calls, so it is only unverified there.
    assert verdicts["higress@2.1"][0] == "unverified"


def test_network_filter_only_where_l4_runs(build_wat: BuildWat) -> None:
    verdicts = _by_key(build_wat, "network_filter")
    assert verdicts["istio@1.22"] == ("compatible", ())
    assert verdicts["envoy@1.30"] == ("compatible", ())
    status, reasons = verdicts["consul@1.18"]
    assert status == "incompatible"
    assert "runs only http filters" in reasons[0]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("plain_module", "not a proxy-wasm module"),
        ("no_marker", "Missing or unknown Proxy-Wasm ABI version"),
        ("abi_0_3_0", "ABI 0.3.0 is not supported"),
        # Istio 1.5/1.6 refuse it earlier, for its ABI 0.2.0.
        ("assemblyscript_like", "missing import env.abort|ABI 0.2.0 is not supported"),
    ],
)
def test_incompatible_everywhere(build_wat: BuildWat, fixture: str, expected: str) -> None:
    report = inspect_module(build_wat(fixture))
    for verdict in compatibility(report):
        if verdict.status == "unverified":
            continue  # legacy Gloo 1.5
        assert verdict.status == "incompatible"
        assert verdict.loads is False
        assert any(re.search(expected, reason) for reason in verdict.reasons), verdict


def test_filter_by_platform_and_json(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_0_http"))
    verdicts = compatibility(report, "consul")
    assert {v.platform for v in verdicts} == {"consul"}
    assert verdicts[0].to_json()["status"] == "compatible"
    assert verdicts[0].loads is True
    with pytest.raises(ValueError, match="unknown platform"):
        compatibility(report, "nginx")


def test_assumptions_travel_with_verdicts(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_0_http"))
    istio_114 = next(v for v in compatibility(report, "istio") if v.version == "1.14")
    assert any("cpp-host #201" in note for note in istio_114.notes)
