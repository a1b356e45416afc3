"""HTTP: the ASGI app factory, the native API and the vendor dialects."""
