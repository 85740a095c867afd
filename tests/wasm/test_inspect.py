"""inspect_module on real modules assembled from tests/wasm/fixtures."""

from __future__ import annotations

import hashlib
import json

from tests.wasm.conftest import BuildWat, producers_section
from wasmhub.wasm import inspect_module


def test_abi_0_1_0_http_filter(build_wat: BuildWat) -> None:
    data = build_wat("abi_0_1_0_http")
    report = inspect_module(data)
    assert report.is_proxy_wasm
    assert report.abi_version == "0.1.0"
    assert report.abi_marker == "proxy_abi_version_0_1_0"
    assert report.filter_types == {"http"}
    assert report.size == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    uses = {h.name: h for h in report.host_functions}
    assert uses["proxy_continue_request"].in_abi is True
    assert uses["proxy_continue_request"].defined_in == ("0.1.0",)
    assert uses["proxy_get_configuration"].in_abi is True
    assert report.wasi is None
    assert report.warnings == ()


def test_abi_0_2_0_http_filter(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_0_http"))
    assert report.abi_version == "0.2.0"
    assert "proxy_on_request_body" in report.callbacks
    uses = {h.name: h for h in report.host_functions}
    assert uses["proxy_continue_stream"].defined_in == ("0.2.0", "0.2.1", "0.3.0")
    assert all(h.in_abi for h in report.host_functions)


def test_abi_0_2_1_with_wasi(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_1_http"))
    assert report.abi_version == "0.2.1"
    assert report.wasi == "wasi_snapshot_preview1"
    assert report.wasi_functions == ("wasi_snapshot_preview1.fd_write",)
    assert report.entrypoints == ("_initialize",)
    uses = {h.name: h for h in report.host_functions}
    assert uses["proxy_get_log_level"].defined_in == ("0.2.1", "0.3.0")
    assert uses["proxy_get_log_level"].in_abi is True
    assert uses["proxy_send_local_response"].signature == (
        "(i32, i32, i32, i32, i32, i32, i32, i32) -> (i32)"
    )


def test_import_outside_the_declared_abi_is_flagged(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_1_wrong_import"))
    uses = {h.name: h for h in report.host_functions}
    assert uses["proxy_get_configuration"].in_abi is False
    assert uses["proxy_get_configuration"].defined_in == ("0.1.0",)
    assert uses["proxy_made_up_call"].in_abi is False
    assert uses["proxy_made_up_call"].defined_in == ()
    assert report.unknown_imports == ("env.proxy_made_up_call",)


def test_network_filter(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("network_filter"))
    assert report.filter_types == {"network"}
    assert "proxy_on_downstream_connection_close" in report.callbacks


def test_tinygo_shaped_module(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("tinygo_like_wasi", debug_names=True))
    assert report.wasi == "wasi_snapshot_preview1"
    assert "wasi_snapshot_preview1.fd_filestat_get" in report.wasi_functions
    assert report.entrypoints == ("_start",)
    assert report.language == "go"
    assert report.sdk == "proxy-wasm-go-sdk"


def test_assemblyscript_shaped_module(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("assemblyscript_like"))
    assert report.wasi == "wasi_unstable"
    assert report.language == "assemblyscript"
    assert report.sdk == "solo-io/proxy-runtime"
    assert report.toolchain == "asc"
    # env.abort is AssemblyScript's, not a proxy-wasm host function.
    assert "env.abort" in report.unknown_imports


def test_assemblyscript_built_with_abort_mapped_to_proc_exit(build_wat: BuildWat) -> None:
    # What `wasmhub build` makes of the AssemblyScript template: no env.abort, no
    # producers section; the runtime's own exports are the evidence.
    report = inspect_module(build_wat("assemblyscript_proc_exit"))
    assert (report.language, report.toolchain) == ("assemblyscript", "asc")
    assert report.sdk == "solo-io/proxy-runtime"
    assert report.unknown_imports == ()


def test_plain_module_is_not_proxy_wasm(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("plain_module"))
    assert not report.is_proxy_wasm
    assert report.abi_version is None
    assert report.filter_types == frozenset()
    assert report.counts["elements"] == 1
    assert report.counts["data_segments"] == 2
    assert report.counts["globals"] == 2
    assert report.memory is not None
    assert (report.memory.min_pages, report.memory.max_pages) == (1, 4)
    assert report.memory.exported_as is None
    assert report.unknown_imports == ()  # a global import, not a function
    assert report.warnings == ()


def test_unpublished_abi_0_3_0_marker(build_wat: BuildWat) -> None:
    assert inspect_module(build_wat("abi_0_3_0")).abi_version == "0.3.0"


def test_callbacks_without_marker_warn(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("no_marker"))
    assert report.is_proxy_wasm
    assert report.abi_version is None
    assert any("Missing or unknown Proxy-Wasm ABI version" in w for w in report.warnings)


def test_name_and_producers_sections(build_wat: BuildWat) -> None:
    data = build_wat("abi_0_2_1_http", debug_names=True) + producers_section(
        {
            "language": [("Rust", "")],
            "processed-by": [("rustc", "1.79.0")],
            "sdk": [("proxy-wasm-rust-sdk", "0.2.2")],
        }
    )
    report = inspect_module(data)
    assert report.language == "rust"
    assert report.toolchain == "rustc"
    assert report.sdk == "proxy-wasm-rust-sdk"
    assert report.producers["processed-by"] == (("rustc", "1.79.0"),)
    assert report.counts["named_functions"] > 0
    assert [s[0] for s in report.sections][-2:] == ["name", "producers"]


def test_malformed_custom_section_is_a_warning(build_wat: BuildWat) -> None:
    # A producers section whose field count promises more than it holds.
    from tests.wasm.conftest import custom_section

    report = inspect_module(build_wat("abi_0_2_1_http") + custom_section("producers", b"\x05"))
    assert report.producers == {}
    assert any("producers" in w for w in report.warnings)


def test_c_module_built_with_clang(c_filter_wasm: bytes) -> None:
    report = inspect_module(c_filter_wasm)
    assert report.abi_version == "0.2.1"
    assert report.language == "c"
    assert report.toolchain == "clang"
    assert report.filter_types == {"http"}
    assert report.entrypoints == ("_initialize",)
    assert {h.name for h in report.host_functions} == {"proxy_log", "proxy_add_header_map_value"}
    assert report.memory is not None and report.memory.exported_as == "memory"


def test_to_json_is_stable_and_serialisable(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("abi_0_2_1_http"))
    doc = report.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == [
        "schema_version",
        "size",
        "sha256",
        "is_proxy_wasm",
        "abi_version",
        "abi_marker",
        "filter_types",
        "callbacks",
        "host_functions",
        "unknown_imports",
        "wasi",
        "wasi_functions",
        "language",
        "sdk",
        "toolchain",
        "language_evidence",
        "producers",
        "module_name",
        "entrypoints",
        "memory",
        "imports",
        "exports",
        "counts",
        "sections",
        "warnings",
    ]
    assert doc["abi_version"] == "0.2.1"
    assert doc["filter_types"] == ["http"]
    assert doc["sections"][0] == {"name": "type", "offset": 8, "size": doc["sections"][0]["size"]}
