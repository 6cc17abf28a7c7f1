"""``flask --app app telemetry status|enable|disable|preview``."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

telemetry_cli = AppGroup("telemetry", help="Show or set what telemetry this install sends.")


@telemetry_cli.command("status")
def status_command():
    """Each layer's state and why, the install id and the stored choice."""
    from . import service
    from flask import current_app

    install = current_app.extensions[service.EXTENSION_KEY].installation.read()
    base, analytics = service.base_layer_state(), service.analytics_layer_state()
    click.echo(f"install_id: {install.install_id}")
    click.echo(f"base telemetry: {base.reason}")
    click.echo(f"detailed analytics: {analytics.reason}")
    choice = {None: "not asked yet", True: "opted in", False: "opted out"}
    click.echo(f"stored choice: {choice[service.get_telemetry_preference()]}")
    if install.problem:
        click.echo(f"installation.json: {install.problem}")


@telemetry_cli.command("enable")
def enable_command():
    """Opt in to detailed analytics (sets the value; does not toggle)."""
    _set(True)


@telemetry_cli.command("disable")
def disable_command():
    """Opt out of detailed analytics (sets the value; does not toggle)."""
    _set(False)


def _set(enabled: bool) -> None:
    from . import service
    from .installation import InstallationWriteError

    try:
        service.set_telemetry_preference(enabled, changed_by="cli")
    except InstallationWriteError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Detailed analytics " + ("enabled." if enabled else "disabled."))
    click.echo(f"detailed analytics: {service.analytics_layer_state().reason}")


@telemetry_cli.command("preview")
def preview_command():
    """Print the exact JSON of the next heartbeat."""
    from . import service

    click.echo(json.dumps(service.next_heartbeat_preview(), indent=2, sort_keys=True))
