"""The plugin catalog: an index of the registry's Wasm plugins, search, add-by-URL, seed.

``service.CatalogService`` is the entry point for the API and the web UI (its docstring
lists the methods); ``indexer`` keeps the index in step with registry events and
rebuilds it from stored manifests; ``search`` owns the full-text queries; ``fetch`` and
``adding`` implement add-by-URL; ``seed`` publishes the bundled samples.
"""
