"""``flask --app app ...`` commands for operators."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from .services import setup as setup_service
from .services.errors import ServiceError

NOT_MIGRATED = ("The database has no tables yet: run `make run` or "
                "`flask --app app db upgrade` first.")


def _require_migrated_database() -> None:
    """One clear line instead of a SQL traceback when the schema is missing or behind."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from .extensions import db

    try:
        tables = set(inspect(db.engine).get_table_names())
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The database cannot be reached ({type(getattr(exc, 'orig', exc)).__name__}).") from None
    if not {"settings", "users", "api_tokens"} <= tables:
        raise click.ClickException(NOT_MIGRATED)


@click.command("setup")
@click.option("--admin-username", required=True, help="Username of the first admin.")
@click.option(
    "--admin-password-stdin", is_flag=True, required=True,
    help="Read the admin password from the first line of standard input.",
)
@click.option("--admin-email", default=None, help="Optional email of the first admin.")
@click.option("--company-name", default=None, help="Company or team name shown in the UI.")
@click.option("--timezone", "tz", default=None, help="Default time zone, e.g. Europe/Berlin.")
@click.option(
    "--analytics/--no-analytics", default=False, show_default=True,
    help="Opt in to detailed, pseudonymous usage analytics (off unless given).",
)
@with_appcontext
def setup_command(admin_username, admin_password_stdin, admin_email, company_name, tz, analytics):
    """Complete first-run setup without the browser wizard."""
    _require_migrated_database()
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        setup_service.complete_setup(
            admin_username=admin_username,
            admin_password=password,
            admin_email=admin_email,
            company_name=company_name,
            timezone=tz,
            allow_analytics=analytics,
        )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        "Setup complete: admin account created; detailed analytics "
        + ("enabled." if analytics else "disabled.")
    )
    _deliver_first_seen()


def _deliver_first_seen() -> None:
    """Wait (bounded) for base_telemetry.first_seen before this short-lived process exits.

    It is recorded as sent only once the receiver acknowledged it; when the sink cannot
    be reached in time, nothing is recorded and a running server sends it within
    ``TELEMETRY_BASE_INTERVAL_SECONDS`` (docs/telemetry/architecture.md).
    """
    from . import telemetry

    client = telemetry.client()
    if client is None or client.consumer is None:
        return
    client.flush(float(client.app.config.get("TELEMETRY_EXPORT_TIMEOUT_SECONDS", 2.0)) * 3)
    client.invalidate()
    if client.state().first_seen_sent_at:
        click.echo("base telemetry: first_seen delivered.")
    else:
        click.echo("base telemetry: first_seen not delivered yet; the running server retries "
                   "it every minute.")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label to recognise the token by.")
@click.option("--expires-in", default=None, metavar="DURATION",
              help="Lifetime such as 90d, 12w, 24h or 1y (default: never expires).")
@click.option("--read-only", is_flag=True, help="Allow only reading requests (GET).")
@with_appcontext
def create_token_command(username, name, expires_in, read_only):
    """Create a personal API token for USERNAME and print it (shown only once)."""
    from .services import api_tokens
    from .services.users import find_by_username

    _require_migrated_database()
    user = find_by_username(username)
    if user is None or not user.is_active:
        raise click.ClickException(f"No active user named {username!r}.")
    try:
        issued = api_tokens.create_token(
            user, name, expires_in=expires_in,
            scope=api_tokens.SCOPE_READ if read_only else api_tokens.SCOPE_FULL)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(issued.secret)


@click.command("user-id")
@click.argument("username")
@with_appcontext
def telemetry_user_id_command(username):
    """Print the pseudonymous id detailed analytics uses for USERNAME (for data-subject
    requests: the recipient can find that user's events by it, and by nothing else)."""
    from . import telemetry
    from .services.users import find_by_username

    user = find_by_username(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    pseudonym = telemetry.client().pseudonymous_id(user.id)
    if pseudonym is None:
        raise click.ClickException("The database did not answer; try again.")
    click.echo(pseudonym)


@click.group("users")
def users_cli():
    """Accounts: list them, and restore an admin when none is left."""


@users_cli.command("list")
@with_appcontext
def users_list_command():
    """Print every account: username, role, active or not (admins first)."""
    from .services.users import list_users

    _require_migrated_database()
    users = sorted(list_users(), key=lambda u: (not u.is_admin, u.username))
    for user in users:
        click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'deactivated'}")
    active_admins = sum(1 for u in users if u.is_admin and u.active)
    if not active_admins:
        click.echo("No active admin: run `flask users promote USERNAME` to make one.", err=True)


@users_cli.command("promote")
@click.argument("username")
@with_appcontext
def users_promote_command(username):
    """Make USERNAME an active admin (reactivated if deactivated): the way back in when
    no admin is left."""
    from .services.users import promote_to_admin

    _require_migrated_database()
    try:
        user = promote_to_admin(username)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.username} is now an active admin.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(setup_command)
    app.cli.add_command(create_token_command)
    app.cli.add_command(users_cli)
    from .telemetry.cli import telemetry_cli

    if "user-id" not in telemetry_cli.commands:
        telemetry_cli.add_command(telemetry_user_id_command)
    app.cli.add_command(telemetry_cli)
