"""The "API tokens" card on the profile page: create (shown once) and revoke."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from ..services import api_tokens
from ..services.errors import ServiceError

bp = Blueprint("tokens", __name__, url_prefix="/profile/tokens")


EXPIRY_CHOICES = [SelectChoice(value, label) for value, label in (
    ("never", "Never"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("1y", "1 year"))]


class TokenCreateForm(FlaskForm):
    name = StringField("Token name", validators=[InputRequired(), Length(max=100)])
    expires_in = SelectField("Expires", choices=EXPIRY_CHOICES, default="90d")
    read_only = BooleanField("Read-only (GET requests only)")


@bp.app_context_processor
def _token_helpers():
    # Lazy: only the profile page calls it, so other pages cost no query.
    return {"api_tokens_for": api_tokens.list_tokens, "token_create_form": TokenCreateForm}


@bp.post("")
@login_required
def create():
    form = TokenCreateForm()
    if not form.validate_on_submit():
        flash("Give the token a name (at most 100 characters) and a listed expiry.", "error")
        return redirect(url_for("auth.profile"))
    try:
        issued = api_tokens.create_token(
            current_user, form.name.data, expires_in=form.expires_in.data,
            scope=api_tokens.SCOPE_READ if form.read_only.data else api_tokens.SCOPE_FULL)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.profile"))
    # Rendered directly, never flashed: a flash would put the secret in the
    # session cookie. no-store keeps it out of caches and the back button.
    response = make_response(render_template("auth/token_created.html", issued=issued))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    try:
        token = api_tokens.revoke_token(current_user, token_id)
    except ServiceError:
        abort(404)
    flash(f"Token “{token.name}” revoked.", "success")
    return redirect(url_for("auth.profile"))
