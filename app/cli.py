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
    help="Opt in to detailed anonymous usage analytics (off unless given).",
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


def register_cli(app: Flask) -> None:
    app.cli.add_command(setup_command)
    app.cli.add_command(create_token_command)
    from .telemetry.cli import telemetry_cli

    app.cli.add_command(telemetry_cli)
