"""wasmhub: build, share, find, trust, test and deploy proxy-wasm plugins."""

from __future__ import annotations

__version__ = "0.1.0"
