"""Typed, frozen settings for every wasmhub process.

Sources, highest priority first: explicit keyword arguments (the CLI passes its flags
this way), ``WASMHUB_<NAME>`` environment variables, the config file (YAML or TOML,
named by ``WASMHUB_CONFIG`` or ``--config``), then the defaults declared here. Every
field has the same name in all three places, e.g. ``data_dir`` / ``WASMHUB_DATA_DIR`` /
``data_dir:`` in the file.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wasmhub.errors import ConfigError

DEFAULT_PORT = 5080


def default_data_dir() -> Path:
    """The per-user data directory: ``$XDG_DATA_HOME/wasmhub`` or ``~/.local/share/wasmhub``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wasmhub"


class StorageBackend(StrEnum):
    FILESYSTEM = "filesystem"
    S3 = "s3"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class SignupMode(StrEnum):
    OPEN = "open"  # anyone may create an account
    INVITE_ONLY = "invite-only"  # sign-up needs a code from `wasmhub admin invite-code`
    CLOSED = "closed"  # only `wasmhub admin create-user` makes accounts


class Settings(BaseSettings):
    """Everything a wasmhub server or command needs to know about its deployment."""

    model_config = SettingsConfigDict(env_prefix="WASMHUB_", frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="TCP port of the server.")
    reuse_port: bool = Field(
        False, description="Let several `wasmhub serve` processes on one host listen on the "
        "same port (SO_REUSEPORT): the kernel spreads new connections among them.",
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="Blobs, uploads, SQLite.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/wasmhub.db."
    )
    database_pool_size: int = Field(
        20, ge=1, le=500, description="Connections each worker process keeps to a database "
        "server (opened as needed; past it requests wait): size max_connections for "
        "replicas x workers x this.",
    )
    public_url: str | None = Field(
        None, description="External base URL shown in pull commands and install snippets."
    )
    storage: StorageBackend = Field(StorageBackend.FILESYSTEM, description="Blob storage driver.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    max_manifest_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest manifest.")
    fetch_allow_private: list[str] = Field(
        default_factory=list,
        description="CIDRs that add-by-URL may fetch from although private or loopback.",
    )
    fetch_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest download add-by-URL accepts (all blobs)."
    )
    fetch_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Wall-clock limit for one add-by-URL download."
    )
    fetch_ca_bundle: Path | None = Field(
        None, description="PEM file of extra CAs add-by-URL trusts for https:// (private PKI)."
    )
    # -- Limits on add-by-URL and plugin analysis (docs/operations.md, "Limits") ----------
    max_concurrent_imports: int = Field(
        4, ge=1, le=256,
        description="Add-by-URL imports one server process runs at once; more get 503.",
    )
    max_module_bytes: int = Field(
        32 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024,
        description="Largest Wasm module a plugin image may hold, unpacked.",
    )
    max_concurrent_unpacks: int = Field(
        2, ge=1, le=64,
        description="Plugin images one process unpacks and inspects at once; others wait.",
    )


    # -- Scale-out: object storage, Redis, observability (docs/scaling.md) ------------
    # S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID /
    # AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or pod roles), never from here.
    s3_bucket: str | None = Field(None, description="S3 bucket of the blobs (storage: s3).")
    s3_prefix: str = Field("", description="Key prefix inside the bucket, e.g. 'wasmhub/'.")
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint for MinIO, Ceph RGW, GCS and others; default AWS."
    )
    s3_region: str | None = Field(None, description="S3 region (AWS); default from AWS config.")
    s3_addressing_style: str = Field(
        "auto", pattern="^(auto|path|virtual)$",
        description="auto, path (MinIO, Ceph) or virtual-hosted bucket addressing.",
    )
    s3_part_bytes: int = Field(
        8 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3,
        description="Multipart part size for chunked and large uploads.",
    )
    storage_redirect: bool = Field(
        False, description="Answer blob GETs with 307 to a presigned storage URL (s3)."
    )
    storage_redirect_seconds: int = Field(
        300, ge=10, le=7 * 86400, description="Lifetime of a presigned blob URL."
    )
    redis_url: str | None = Field(
        None, description="Redis URL (redis://host:6379/0) shared by every replica: download "
        "counts, rate-limit counters."
    )
    redis_key_prefix: str = Field(
        "wasmhub:", max_length=64, description="Prefix of every Redis key the hub uses."
    )
    download_flush_seconds: float = Field(
        2.0, gt=0, le=300, description="How often Redis-buffered download counts reach the DB."
    )
    log_format: LogFormat = Field(LogFormat.TEXT, description="text, or json (one object a line).")
    request_id_header: str = Field(
        "X-Request-ID", description="Header carrying the request id (taken or made, echoed)."
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics on /metrics.")
    shutdown_grace_seconds: int = Field(
        60, ge=1, le=3600, description="How long a stopping server lets in-flight requests end."
    )

    # -- limits against one request stalling, bloating or desynchronising the hub ----
    # (docs/operations.md "Limits"; robust-server's block)
    config_schema_timeout_seconds: float = Field(
        2.0, gt=0, le=60,
        description="Longest a plugin's config schema may take to check or validate a config.",
    )
    config_schema_workers: int = Field(
        2, ge=1, le=16, description="Processes per server worker that evaluate config schemas."
    )

    max_blob_bytes: int = Field(
        512 * 1024 * 1024, ge=1024,
        description="Largest blob one push may upload (monolithic or chunked); 413 past it.",
    )
    max_upload_sessions: int = Field(
        1000, ge=1, description="Resumable uploads open at once in the whole registry."
    )
    max_upload_sessions_per_client: int = Field(
        50, ge=1, description="Resumable uploads one client address may hold open."
    )
    upload_session_expiry_seconds: float = Field(
        3600.0, ge=1,
        description="An upload idle this long is removed by the server's sweeper.",
    )
    max_error_detail_bytes: int = Field(
        8192, ge=256, description="Largest error detail the registry sends (then a summary)."
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=4096, le=16 * 1024 * 1024,
        description="Largest request line plus headers; a bigger one is answered 431.",
    )
    worker_healthcheck_timeout_seconds: float = Field(
        60.0, ge=5, le=3600,
        description="How long the multi-worker supervisor waits for a worker's health "
        "answer before it restarts it (slow start-up on a loaded machine is not a hang).",
    )

    # -- identity and access (docs/operations.md) ------------------------------------
    signup: SignupMode = Field(SignupMode.CLOSED, description="open, invite-only or closed.")
    open_namespaces: bool = Field(
        False,
        description="Development hubs only: anyone, signed in or not, may push, move tags "
        "and delete in namespaces no user or organization owns.",
    )
    session_days: int = Field(14, ge=1, le=365, description="Lifetime of a web session.")
    cookie_secure: bool | None = Field(
        None, description="Mark cookies Secure; default: when public_url is https://."
    )
    registry_token_seconds: int = Field(
        300, ge=30, le=3600, description="Lifetime of registry bearer tokens (JWT)."
    )
    registry_key_file: Path | None = Field(
        None, description="The registry-token signing keys (JSON); default "
        "<data_dir>/auth/registry-keys.json. Replicas must share one (e.g. a mounted secret).",
    )
    signin_limit_per_account: int = Field(
        10, ge=1, description="Failed sign-ins per account per rate window."
    )
    signin_limit_per_address: int = Field(
        60, ge=1, description="Sign-in and token requests per client address per window."
    )
    rate_window_seconds: int = Field(300, ge=1, description="The rate-limit window.")

    # -- Envoy fleets: the ECDS server (docs/deploy.md "Envoy fleets"; docs/operations.md) --
    xds_port: int | None = Field(
        None, ge=1, le=65535,
        description="gRPC port of the ECDS (xDS) server for Envoy fleets; unset: off.",
    )
    xds_host: str | None = Field(
        None, description="Address the xDS server listens on; default: the server's host.",
    )
    xds_max_streams: int = Field(
        1000, ge=1, le=100_000,
        description="Concurrent xDS streams (one per connected Envoy); more are refused.",
    )
    xds_max_names_per_stream: int = Field(
        100, ge=1, le=10_000,
        description="Extension configs one xDS stream may subscribe to; more end it.",
    )
    xds_poll_seconds: float = Field(
        1.0, gt=0, le=60,
        description="How often the xDS server reads fleet deployments for changes.",
    )
    xds_stale_seconds: float = Field(
        60.0, ge=5, le=3600,
        description="A node not heard from (heartbeat: a quarter of this) is stale.",
    )

    # -- The plugin playground (docs/operations.md, "Limits") ---------------------------
    playground_enabled: bool = Field(
        True, description="Offer the plugin page's playground and its API endpoint.",
    )
    playground_max_concurrent: int = Field(
        2, ge=1, le=32, description="Playground runs one process serves at once; more get 503.",
    )
    playground_callback_ms: float = Field(
        200.0, gt=0, le=10_000,
        description="CPU deadline of each guest callback in a playground run.",
    )
    playground_memory_mb: int = Field(
        64, ge=1, le=4096, description="Linear-memory cap of a playground run's VM.",
    )
    playground_run_seconds: float = Field(
        10.0, gt=0, le=120, description="Wall-clock budget of one playground run.",
    )
    playground_max_body_bytes: int = Field(
        64 * 1024, ge=0, le=16 * 1024 * 1024,
        description="Largest request body a playground run accepts.",
    )
    playground_max_repeat: int = Field(
        50, ge=1, le=1000, description="Most times one playground run may send its request.",
    )

    # -- Deploy from the web UI: the hub's own cluster access (docs/deploy.md, "Web") ----
    # Unset (the default): the Apply page only renders and the Installed page says how to
    # give the hub a cluster. Reading and applying need the site-admin permissions
    # ``cluster:read`` / ``cluster:apply``.
    deploy_kubeconfig: Path | None = Field(
        None, description="Kubeconfig of the cluster the web UI's Installed page reads and "
        "Apply to cluster writes; none: no cluster access.",
    )
    deploy_kube_context: str | None = Field(
        None, description="Context in deploy_kubeconfig (default: its current context).",
    )
    deploy_in_cluster: bool = Field(
        False, description="Use the pod's service account as the cluster access (in-cluster).",
    )
    deploy_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of each Kubernetes API call the web UI makes.",
    )

    @property
    def effective_registry_key_file(self) -> Path:
        return self.registry_key_file or self.data_dir / "auth" / "registry-keys.json"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return level

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'wasmhub.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.base_url.startswith("https://")

    @property
    def cluster_access(self) -> bool:
        """Whether the web UI may talk to a Kubernetes cluster (deploy_* settings)."""
        return self.deploy_in_cluster or self.deploy_kubeconfig is not None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data: Any
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} is not valid: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of setting names to values")
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, file, environment and overrides.

    Raises ConfigError naming every bad setting and where it came from.
    """
    file_name = config_file or (Path(p) if (p := os.environ.get("WASMHUB_CONFIG")) else None)
    from_file = _read_config_file(file_name) if file_name else {}
    explicit = {k: v for k, v in overrides.items() if v is not None}
    env_names = {
        name for name in Settings.model_fields if f"WASMHUB_{name.upper()}" in os.environ
    }
    # The file is below the environment: only take file values the env does not set.
    merged = {k: v for k, v in from_file.items() if k not in env_names}
    merged.update(explicit)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            source = (
                "argument" if field in explicit
                else "config file" if field in from_file
                else f"WASMHUB_{field.upper()}" if field in env_names
                else "setting"
            )
            problems.append(f"{field} ({source}): {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from exc
