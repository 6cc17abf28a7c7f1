"""The "API tokens" card on the profile page: create (shown once) and revoke."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import (
    Blueprint, abort, current_app, flash, make_response, redirect, render_template, session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from ..services import api_tokens
from ..services.errors import ServiceError

bp = Blueprint("tokens", __name__, url_prefix="/profile/tokens")

# The new secret travels from the POST to the page that shows it (post/redirect/get, so a
# reload cannot create a second token) inside the session cookie, encrypted: Flask's
# session is only signed, and a flash would have put the secret there in the clear. The
# GET removes it, so it is shown once, and only within HANDOFF_SECONDS.
_HANDOFF_KEY = "tt_new_api_token"
HANDOFF_SECONDS = 300


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"api-token-handoff:" + str(current_app.secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


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
    session[_HANDOFF_KEY] = [issued.token.id, _fernet().encrypt(issued.secret.encode()).decode()]
    return redirect(url_for("tokens.created"))


@bp.get("/created")
@login_required
def created():
    """Show a token created a moment ago, once; a reload finds nothing and says so."""
    handoff = session.pop(_HANDOFF_KEY, None)
    try:
        token_id, sealed = handoff
        secret = _fernet().decrypt(sealed.encode(), ttl=HANDOFF_SECONDS).decode()
        token = api_tokens.get_token(current_user, token_id)
    except (TypeError, ValueError, InvalidToken, ServiceError):
        flash("A token's secret is shown only once, right after it is created. "
              "If you did not copy it, revoke that token and create a new one.", "info")
        return redirect(url_for("auth.profile"))
    # no-store keeps the secret out of caches and the back button.
    response = make_response(render_template(
        "auth/token_created.html", issued=api_tokens.IssuedToken(token=token, secret=secret)))
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
