"""The ``voxgate`` command: serve, migrate, and tenant administration."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from voxgate.errors import VoxgateError
from voxgate.settings import Settings, load_settings

app = typer.Typer(help="voxgate: a self-hostable voice call platform.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants and their credentials.", no_args_is_help=True)
access_code_app = typer.Typer(help="Tenant access codes (caller numbers).", no_args_is_help=True)
softphone_app = typer.Typer(help="Mobile-agent softphone number ranges.", no_args_is_help=True)
extension_app = typer.Typer(help="Extensions (agent phones) and groups.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(access_code_app, name="access-code")
app.add_typer(softphone_app, name="softphone-range")
app.add_typer(extension_app, name="extension")

T = TypeVar("T")
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Path to voxgate.toml.")]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except VoxgateError as exc:
        typer.echo(f"voxgate: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _run(settings: Settings, job: Callable[[Any], Awaitable[T]]) -> T:
    """Run one service call against a migrated store, turning domain errors into messages."""
    from voxgate.api.services import Services
    from voxgate.store.migrate import upgrade

    async def main() -> T:
        services = Services.build(settings)
        try:
            return await job(services)
        finally:
            await services.close()

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.effective_database_url)
        return asyncio.run(main())
    except VoxgateError as exc:
        typer.echo(f"voxgate: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="HTTP address (VOXGATE_HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (VOXGATE_HTTP_PORT).")] = None,
    sip_host: Annotated[str | None, typer.Option(help="SIP address.")] = None,
    sip_port: Annotated[int | None, typer.Option(help="SIP port.")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy async URL.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    admin_token: Annotated[str | None, typer.Option(help="Admin bearer token.")] = None,
    workers: Annotated[int | None, typer.Option(help="HTTP worker processes.")] = None,
    media_workers: Annotated[
        int | None,
        typer.Option(help="Engine processes sharing the SIP port (default: one per core)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the platform: HTTP API, dispatcher, engine and webhook workers."""
    overrides = {
        "http_host": host,
        "http_port": port,
        "sip_host": sip_host,
        "sip_port": sip_port,
        "database_url": database_url,
        "data_dir": data_dir,
        "admin_token": admin_token,
        "http_workers": workers,
        "media_workers": media_workers,
    }
    settings = _settings(config, **overrides)
    from voxgate.observability.logging import configure
    from voxgate.security.secrets import load_or_create_key

    configure(settings.log_level)
    from voxgate.store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_key(
        settings.secret_key.get_secret_value() if settings.secret_key else None, settings.data_dir
    )
    upgrade(settings.effective_database_url)
    # Worker processes load settings from the environment: hand the flags down that way.
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"VOXGATE_{key.upper()}"] = str(value)
    if config is not None:
        os.chdir(config.parent)
    engines = None
    if settings.engine_processes:
        from voxgate.engine.node import node_engines
        from voxgate.engine.rtp_session import PortRange

        rtp = PortRange(settings.rtp_port_low, settings.rtp_port_high)
        count = settings.engine_processes
        engines = node_engines(settings.sip_host, settings.sip_port, rtp, count, settings.log_level)
        try:
            engines.start()
        except OSError as exc:
            typer.echo(f"voxgate: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"voxgate SIP on udp:{settings.sip_host}:{settings.sip_port} "
            f"({settings.engine_processes} engine processes)",
            err=True,
        )
    typer.echo(
        f"voxgate listening on http://{settings.http_host}:{settings.http_port} "
        f"(store {settings.effective_database_url.split('://')[0]})",
        err=True,
    )
    try:
        _run_http(settings)
    finally:
        if engines is not None:
            engines.stop()


def _run_http(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "voxgate.api.factory:app_from_env",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # workers import the whole platform before answering; a busy machine needs time
        timeout_worker_healthcheck=60,
        # in-flight requests get this long to finish on shutdown; then connections are closed
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate(config: ConfigOpt = None) -> None:
    """Bring the database schema up to date."""
    from voxgate.store.migrate import upgrade

    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    typer.echo("schema is up to date")


@app.command("check-config")
def check_config(config: ConfigOpt = None) -> None:
    """Load the configuration and print it with secrets masked."""
    settings = _settings(config)
    typer.echo(json.dumps(json.loads(settings.model_dump_json()), indent=2, default=str))


@tenant_app.command("create")
def tenant_create(
    name: str,
    trial: Annotated[
        bool, typer.Option("--trial", help="Trial tenant (trust list, 10/day).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a tenant with one app and print its credentials (shown only once)."""
    creds = _run(_settings(config), lambda s: s.tenants.create(name, trial=trial))
    if as_json:
        typer.echo(json.dumps(creds.as_json(), indent=2))
        return
    data = creds.as_json()
    typer.echo(f"tenant {data['name']} ({data['tenant_id']}) created; keep these secrets:")
    for dialect in ("huawei", "nxcloud", "sipcall"):
        pairs = ", ".join(f"{k}={v}" for k, v in data[dialect].items())
        typer.echo(f"  {dialect}: {pairs}")


@tenant_app.command("show")
def tenant_show(tenant: str, config: ConfigOpt = None) -> None:
    """Show a tenant's settings, trust lists and number plan (no secrets)."""
    typer.echo(json.dumps(_run(_settings(config), lambda s: s.tenants.describe(tenant)), indent=2))


@tenant_app.command("set")
def tenant_set(
    tenant: str,
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE, e.g. trial=true")],
    config: ConfigOpt = None,
) -> None:
    """Change tenant settings: trial, vdn_enabled, anonymize_caller, status, ..."""
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep:
            typer.echo(f"voxgate: expected KEY=VALUE, got {item!r}", err=True)
            raise typer.Exit(2)
        values[key] = {"true": True, "false": False}.get(raw.lower(), raw)
    _run(_settings(config), lambda s: s.tenants.update(tenant, **values))
    typer.echo("updated")


@tenant_app.command("trust-callback")
def tenant_trust_callback(tenant: str, host: str, config: ConfigOpt = None) -> None:
    """Add HOST or HOST:PORT to the tenant's callback-URL trust list."""
    _run(_settings(config), lambda s: s.tenants.trust_callback_host(tenant, host))
    typer.echo(f"trusted callback host {host}")


@tenant_app.command("trust-number")
def tenant_trust_number(tenant: str, number: str, config: ConfigOpt = None) -> None:
    """Add NUMBER to a trial tenant's number trust list."""
    _run(_settings(config), lambda s: s.tenants.trust_number(tenant, number))
    typer.echo(f"trusted number {number}")


@access_code_app.command("add")
def access_code_add(tenant: str, code: str, config: ConfigOpt = None) -> None:
    """Give the tenant an access code."""
    _run(_settings(config), lambda s: s.tenants.add_access_code(tenant, code))
    typer.echo(f"access code {code} added")


@softphone_app.command("add")
def softphone_add(
    tenant: str,
    first: Annotated[str, typer.Argument(metavar="FROM")],
    last: Annotated[str, typer.Argument(metavar="TO")],
    config: ConfigOpt = None,
) -> None:
    """Give the tenant a block of mobile-agent softphone numbers."""
    _run(_settings(config), lambda s: s.tenants.add_softphone_range(tenant, first, last))
    typer.echo(f"softphone range {first}-{last} added")


@extension_app.command("add")
def extension_add(
    tenant: str,
    number: str,
    password: Annotated[str, typer.Option("--password", help="SIP digest password.")],
    group: Annotated[str | None, typer.Option("--group", help="Extension group name.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create or update an extension, optionally in a group."""
    _run(
        _settings(config),
        lambda s: s.tenants.add_extension(tenant, number, password=password, group=group),
    )
    typer.echo(f"extension {number} saved")


ivr_app = typer.Typer(help="IVR flows that called routes point at.", no_args_is_help=True)
app.add_typer(ivr_app, name="ivr-flow")


@ivr_app.command("add")
def ivr_flow_add(
    tenant: str,
    name: str,
    script: Annotated[Path, typer.Argument(help='JSON file: {"steps": [...]}')],
    config: ConfigOpt = None,
) -> None:
    """Add an IVR flow (a call script for inbound calls); prints its id."""
    try:
        body = json.loads(script.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"voxgate: cannot read {script}: {exc}", err=True)
        raise typer.Exit(2) from None
    flow_id = _run(_settings(config), lambda s: s.tenants.add_ivr_flow(tenant, name, body))
    typer.echo(str(flow_id))


@app.command()
def provision(file: Path, config: ConfigOpt = None) -> None:
    """Create or update tenants, credentials, trust lists and extensions from one TOML file."""
    from voxgate.tenancy.provisioning import load_plan

    try:
        plan = load_plan(file)
    except VoxgateError as exc:
        typer.echo(f"voxgate: {exc.message}", err=True)
        raise typer.Exit(2) from None
    report = _run(_settings(config), lambda s: plan.apply(s.tenants))
    typer.echo(json.dumps(report, indent=2))


def _mount_tts() -> None:
    if importlib.util.find_spec("voxgate.tts.cli") is None:
        return
    from voxgate.tts.cli import tts_app

    app.add_typer(tts_app, name="tts", help="Speech: render text as a callee hears it.")


_mount_tts()


from voxgate.engine.cli import call_command  # noqa: E402

app.command("call")(call_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
