"""``flask --app app telemetry status|enable|disable|preview|send-due``."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

telemetry_cli = AppGroup("telemetry", help="Show or set what telemetry this install sends.")

_CHOICE = {None: "not asked yet", True: "opted in", False: "opted out"}


def _client():
    from . import client

    return client()


def echo_status() -> None:
    """Each layer's state and why, the install id, the stored choice, the file's health."""
    status = _client().status()
    click.echo(f"install_id: {status['install_id']}")
    click.echo(f"base telemetry: {status['base']['reason']}")
    click.echo(f"detailed analytics: {status['analytics']['reason']}")
    click.echo(f"stored choice: {_CHOICE[status['detailed_analytics']]}")
    click.echo(f"first_seen delivered: {status['first_seen_sent_at'] or 'not yet'}")
    file = status["installation_file"]
    if file["problem"]:
        click.echo(f"installation.json: {file['problem']}")
    elif file["repaired"]:
        click.echo(f"installation.json: {file['repaired']}")


@telemetry_cli.command("status")
def status_command():
    """Each layer's state and why, the install id and the stored choice."""
    echo_status()


@telemetry_cli.command("enable")
def enable_command():
    """Opt in to detailed analytics (sets the value; does not toggle)."""
    _set(True)


@telemetry_cli.command("disable")
def disable_command():
    """Opt out of detailed analytics (sets the value; does not toggle)."""
    _set(False)


def _set(enabled: bool) -> None:
    from .store import StoreUnavailable

    telemetry = _client()
    try:
        telemetry.set_consent(enabled, changed_by="cli")
    except StoreUnavailable as exc:
        raise click.ClickException(f"the database did not take the choice ({exc})") from None
    telemetry.flush()  # the opt-in event leaves before the command exits
    click.echo("Detailed analytics " + ("enabled." if enabled else "disabled."))
    click.echo(f"detailed analytics: {telemetry.analytics_layer().reason}")


@telemetry_cli.command("preview")
def preview_command():
    """Print the exact JSON of the next heartbeat."""
    click.echo(json.dumps(_client().preview(), indent=2, sort_keys=True))
