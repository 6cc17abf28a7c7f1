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
    click.echo(f"catalogue version: {status['catalogue_version']} (consent given for "
               f"{status['consented_catalogue_version'] or 'none'})")
    changes = status["catalogue_changes"]
    if changes:
        click.echo("  paused until accepted (Admin → Telemetry, or `flask telemetry enable`): "
                   + json.dumps(changes, sort_keys=True))
    _echo_disclosure(_client().disclosure())
    file = status["installation_file"]
    if file["problem"]:
        click.echo(f"installation.json: {file['problem']}")
    elif file["repaired"]:
        click.echo(f"installation.json: {file['repaired']}")


def _echo_disclosure(disclosure: dict) -> None:
    """The same words as the wizard and the admin page, from the catalogue and the config."""
    if not disclosure["sends"]:
        reason = disclosure["kill_switch"] or "no endpoint is configured (GRAFANA_OTLP_ENDPOINT)"
        click.echo(f"nothing is sent: {reason}")
        return
    click.echo("base fields: " + ", ".join(name for name, _ in disclosure["base_fields"]))
    click.echo("resource fields (once per batch): "
               + ", ".join(name for name, _ in disclosure["resource_fields"]))
    click.echo(f"detailed analytics: {len(disclosure['detailed_events'])} events, each with a "
               "pseudonymous user id (keyed hash) and the source")
    recipient = disclosure["recipient"]
    if recipient["endpoint"]:
        click.echo(f"recipient: {recipient['endpoint']}"
                   + (f", run by {recipient['name']}" if recipient["name"] else "")
                   + (f", keeps records {recipient['retention_days']} days"
                      if recipient["retention_days"] else ", retention not stated")
                   + (f", privacy notice {recipient['privacy_url']}" if recipient["privacy_url"] else "")
                   + "; the receiver sees this server's IP address")


@telemetry_cli.command("status")
def status_command():
    """Each layer's state and why, the install id and the stored choice."""
    echo_status()


@telemetry_cli.command("enable")
def enable_command():
    """Opt in to detailed analytics (sets the value; does not toggle). After a catalogue
    change it prints what is new and accepts it."""
    _set(True)


@telemetry_cli.command("disable")
def disable_command():
    """Opt out of detailed analytics (sets the value; does not toggle)."""
    _set(False)


def _set(enabled: bool) -> None:
    from .client import ConsentRefused
    from .store import StoreUnavailable

    telemetry = _client()
    shown = None
    if enabled:
        # The command shows what it accepts before accepting it, as the admin page does.
        changes = telemetry.catalogue_changes()
        if changes:
            click.echo(f"accepting catalogue {telemetry.catalogue_version}, which changed since "
                       "the opt-in: " + json.dumps(changes, sort_keys=True))
        shown = telemetry.catalogue_version
    try:
        telemetry.set_consent(enabled, changed_by="cli", shown_version=shown)
    except StoreUnavailable as exc:
        raise click.ClickException(f"the database did not take the choice ({exc})") from None
    except ConsentRefused as exc:
        raise click.ClickException(str(exc)) from None
    telemetry.flush()  # the opt-in event leaves before the command exits
    click.echo("Detailed analytics " + ("enabled." if enabled else "disabled."))
    click.echo(f"detailed analytics: {telemetry.analytics_layer().reason}")


@telemetry_cli.command("preview")
@click.option("--all", "show_all", is_flag=True,
              help="Also an example of every detailed event (built like the real records).")
def preview_command(show_all: bool):
    """Print the exact JSON of the next heartbeat (and, with --all, of every detailed event)."""
    telemetry = _client()
    if not show_all:
        click.echo(json.dumps(telemetry.preview(), indent=2, sort_keys=True))
        return
    click.echo(json.dumps({"next_heartbeat": telemetry.preview(),
                           "detailed_examples": telemetry.example_payloads()},
                          indent=2, sort_keys=True))
