"""Entry point for server workers: settings come from the environment and voxgate.toml."""

from __future__ import annotations

from fastapi import FastAPI

from voxgate.api.app import create_app
from voxgate.settings import load_settings


def app_from_env() -> FastAPI:
    return create_app(load_settings())
