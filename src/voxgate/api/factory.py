"""Entry point for server workers: settings come from the environment and voxgate.toml."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from voxgate.api.app import create_app
from voxgate.settings import load_settings


def app_from_env() -> FastAPI:
    app = create_app(load_settings())
    # A worker keeps what it has imported (modules, routes, schemas: ~120,000 objects) for
    # its whole life. Frozen, they are out of the collector's sight, and a full collection
    # takes well under a millisecond instead of tens of milliseconds in the middle of
    # requests.
    gc.collect()
    gc.freeze()
    return app
