"""Operating a running hub: health and readiness, Prometheus metrics, structured logs.

``wasmhub.app`` mounts :func:`health.routes` and wraps the app in
:class:`middleware.ObservabilityMiddleware`; ``wasmhub serve`` calls
:func:`logs.configure` and :func:`metrics.prepare_multiprocess` before workers start.
"""
