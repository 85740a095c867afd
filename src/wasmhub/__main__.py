from __future__ import annotations

from wasmhub.cli import main

main()
