"""Proxy-wasm ABI constants and the per-version import/export tables.

Owns: status codes, enums (log level, buffer, map, stream, metric, peer types), the WASI
errno values the host uses, ABI detection from a module's exported
``proxy_abi_version_*`` marker, and the table of host functions (name → wasm signature)
offered to each ABI version. Values follow proxy-wasm/spec ``abi-versions/v0.2.1`` and
proxy-wasm-cpp-host (which registers the version-specific imports per ABI).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AbiVersion(StrEnum):
    V0_1_0 = "0.1.0"
    V0_2_0 = "0.2.0"
    V0_2_1 = "0.2.1"


ABI_MARKERS: dict[str, AbiVersion] = {
    "proxy_abi_version_0_1_0": AbiVersion.V0_1_0,
    "proxy_abi_version_0_2_0": AbiVersion.V0_2_0,
    "proxy_abi_version_0_2_1": AbiVersion.V0_2_1,
}


class Status(IntEnum):
    OK = 0
    NOT_FOUND = 1
    BAD_ARGUMENT = 2
    SERIALIZATION_FAILURE = 3
    PARSE_FAILURE = 4
    INVALID_MEMORY_ACCESS = 6
    EMPTY = 7
    CAS_MISMATCH = 8
    INTERNAL_FAILURE = 10
    UNIMPLEMENTED = 12


class LogLevel(IntEnum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
    CRITICAL = 5


class Action(IntEnum):
    """What a stream callback returns (Envoy's filter status values)."""

    CONTINUE = 0
    PAUSE = 1  # StopIteration (headers) / StopIterationAndBuffer (data)
    CONTINUE_AND_END_STREAM = 2
    STOP_ALL_AND_BUFFER = 3
    STOP_ALL_AND_WATERMARK = 4


class BufferType(IntEnum):
    HTTP_REQUEST_BODY = 0
    HTTP_RESPONSE_BODY = 1
    DOWNSTREAM_DATA = 2
    UPSTREAM_DATA = 3
    HTTP_CALL_RESPONSE_BODY = 4
    GRPC_CALL_MESSAGE = 5
    VM_CONFIGURATION = 6
    PLUGIN_CONFIGURATION = 7
    FOREIGN_FUNCTION_ARGUMENTS = 8


class MapType(IntEnum):
    HTTP_REQUEST_HEADERS = 0
    HTTP_REQUEST_TRAILERS = 1
    HTTP_RESPONSE_HEADERS = 2
    HTTP_RESPONSE_TRAILERS = 3
    GRPC_CALL_INITIAL_METADATA = 4
    GRPC_CALL_TRAILING_METADATA = 5
    HTTP_CALL_RESPONSE_HEADERS = 6
    HTTP_CALL_RESPONSE_TRAILERS = 7


class StreamType(IntEnum):
    HTTP_REQUEST = 0
    HTTP_RESPONSE = 1
    DOWNSTREAM = 2
    UPSTREAM = 3


class PeerType(IntEnum):
    UNKNOWN = 0
    LOCAL = 1
    REMOTE = 2


class MetricType(IntEnum):
    COUNTER = 0
    GAUGE = 1
    HISTOGRAM = 2


class Errno(IntEnum):
    """WASI errno values used by the host (wasi_snapshot_preview1 numbering)."""

    SUCCESS = 0
    BADF = 8
    FAULT = 21
    INVAL = 28
    NOENT = 44
    NOSYS = 52
    NOTSUP = 58
    SPIPE = 70


WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")

# Host functions in module "env": name -> parameter kinds ("i" i32, "I" i64).
# Every one returns an i32 status.
ENV_COMMON: dict[str, str] = {
    "proxy_log": "iii",
    "proxy_get_current_time_nanoseconds": "i",
    "proxy_set_tick_period_milliseconds": "i",
    "proxy_get_buffer_bytes": "iiiii",
    "proxy_get_buffer_status": "iii",
    "proxy_set_buffer_bytes": "iiiii",
    "proxy_get_header_map_pairs": "iii",
    "proxy_set_header_map_pairs": "iii",
    "proxy_get_header_map_value": "iiiii",
    "proxy_add_header_map_value": "iiiii",
    "proxy_replace_header_map_value": "iiiii",
    "proxy_remove_header_map_value": "iii",
    "proxy_get_header_map_size": "ii",
    "proxy_get_property": "iiii",
    "proxy_set_property": "iiii",
    "proxy_send_local_response": "iiiiiiii",
    "proxy_http_call": "iiiiiiiiii",
    "proxy_grpc_call": "iiiiiiiiiiii",
    "proxy_grpc_stream": "iiiiiiiii",
    "proxy_grpc_send": "iiii",
    "proxy_grpc_cancel": "i",
    "proxy_grpc_close": "i",
    "proxy_get_status": "iii",
    "proxy_set_shared_data": "iiiii",
    "proxy_get_shared_data": "iiiii",
    "proxy_register_shared_queue": "iii",
    "proxy_resolve_shared_queue": "iiiii",
    "proxy_enqueue_shared_queue": "iii",
    "proxy_dequeue_shared_queue": "iii",
    "proxy_define_metric": "iiii",
    "proxy_increment_metric": "iI",
    "proxy_record_metric": "iI",
    "proxy_get_metric": "ii",
    "proxy_done": "",
    "proxy_set_effective_context": "i",
    "proxy_call_foreign_function": "iiiiii",
}

# Registered only for the named ABI versions, as proxy-wasm-cpp-host does.
ENV_BY_VERSION: dict[AbiVersion, dict[str, str]] = {
    AbiVersion.V0_1_0: {
        "proxy_get_configuration": "ii",
        "proxy_continue_request": "",
        "proxy_continue_response": "",
        "proxy_clear_route_cache": "",
    },
    AbiVersion.V0_2_0: {"proxy_continue_stream": "i", "proxy_close_stream": "i"},
    AbiVersion.V0_2_1: {
        "proxy_continue_stream": "i",
        "proxy_close_stream": "i",
        "proxy_get_log_level": "i",
    },
}

# WASI preview1, every function: name -> (parameter kinds, returns an errno?). The host
# offers all of them under both module names; see wasmhub.runtime.wasi for what each does.
WASI_FUNCS: dict[str, tuple[str, bool]] = {
    "args_get": ("ii", True),
    "args_sizes_get": ("ii", True),
    "environ_get": ("ii", True),
    "environ_sizes_get": ("ii", True),
    "clock_res_get": ("ii", True),
    "clock_time_get": ("iIi", True),
    "fd_advise": ("iIIi", True),
    "fd_allocate": ("iII", True),
    "fd_close": ("i", True),
    "fd_datasync": ("i", True),
    "fd_fdstat_get": ("ii", True),
    "fd_fdstat_set_flags": ("ii", True),
    "fd_fdstat_set_rights": ("iII", True),
    "fd_filestat_get": ("ii", True),
    "fd_filestat_set_size": ("iI", True),
    "fd_filestat_set_times": ("iIIi", True),
    "fd_pread": ("iiiIi", True),
    "fd_prestat_get": ("ii", True),
    "fd_prestat_dir_name": ("iii", True),
    "fd_pwrite": ("iiiIi", True),
    "fd_read": ("iiii", True),
    "fd_readdir": ("iiiIi", True),
    "fd_renumber": ("ii", True),
    "fd_seek": ("iIii", True),
    "fd_sync": ("i", True),
    "fd_tell": ("ii", True),
    "fd_write": ("iiii", True),
    "path_create_directory": ("iii", True),
    "path_filestat_get": ("iiiii", True),
    "path_filestat_set_times": ("iiiiIIi", True),
    "path_link": ("iiiiiii", True),
    "path_open": ("iiiiiIIii", True),
    "path_readlink": ("iiiiii", True),
    "path_remove_directory": ("iii", True),
    "path_rename": ("iiiiii", True),
    "path_symlink": ("iiiii", True),
    "path_unlink_file": ("iii", True),
    "poll_oneoff": ("iiii", True),
    "proc_exit": ("i", False),
    "proc_raise": ("i", True),
    "sched_yield": ("", True),
    "random_get": ("ii", True),
    "sock_accept": ("iii", True),
    "sock_recv": ("iiiiii", True),
    "sock_send": ("iiiii", True),
    "sock_shutdown": ("ii", True),
}

# Callbacks the host calls: name -> number of i32 params per ABI, and whether it returns.
def callback_arity(abi: AbiVersion) -> dict[str, tuple[int, bool]]:
    headers_arity = 2 if abi is AbiVersion.V0_1_0 else 3
    table: dict[str, tuple[int, bool]] = {
        "proxy_on_memory_allocate": (1, True),
        "malloc": (1, True),
        "proxy_on_context_create": (2, False),
        "proxy_on_vm_start": (2, True),
        "proxy_on_configure": (2, True),
        "proxy_on_done": (1, True),
        "proxy_on_log": (1, False),
        "proxy_on_delete": (1, False),
        "proxy_on_tick": (1, False),
        "proxy_on_queue_ready": (2, False),
        "proxy_on_request_headers": (headers_arity, True),
        "proxy_on_request_body": (3, True),
        "proxy_on_request_trailers": (2, True),
        "proxy_on_response_headers": (headers_arity, True),
        "proxy_on_response_body": (3, True),
        "proxy_on_response_trailers": (2, True),
        "proxy_on_http_call_response": (5, False),
        "proxy_on_grpc_receive_initial_metadata": (3, False),
        "proxy_on_grpc_receive": (3, False),
        "proxy_on_grpc_receive_trailing_metadata": (3, False),
        "proxy_on_grpc_close": (3, False),
        "proxy_on_new_connection": (1, True),
        "proxy_on_downstream_data": (3, True),
        "proxy_on_upstream_data": (3, True),
        "proxy_on_downstream_connection_close": (2, False),
        "proxy_on_upstream_connection_close": (2, False),
    }
    if abi is not AbiVersion.V0_1_0:
        table["proxy_on_foreign_function"] = (3, False)
    return table


def detect_abi(export_names: list[str]) -> AbiVersion | None:
    """The first ``proxy_abi_version_*`` marker among the exports, as the C++ host does."""
    for name in export_names:
        version = ABI_MARKERS.get(name)
        if version is not None:
            return version
    return None
