"""The first-run setup: creates the first admin and records the analytics choice."""

from __future__ import annotations

from sqlalchemy import update

from .. import events
from ..extensions import db
from ..models import ROLE_ADMIN, Settings
from ..models.types import utcnow
from .errors import Conflict
from .settings import get_settings
from .users import new_user
from .validation import clean_name


class SetupAlreadyComplete(Conflict):
    pass


def is_setup_complete() -> bool:
    return get_settings().is_setup_complete


def complete_setup(
    *,
    admin_username: str,
    admin_password: str,
    allow_analytics: bool,
    admin_email: str | None = None,
    company_name: str | None = None,
    timezone: str | None = None,
):
    """Create the first admin and mark setup complete, atomically.

    The conditional UPDATE is the lock: of two concurrent setups only one sees
    ``setup_completed_at IS NULL``; the other rolls back its admin and fails.
    """
    settings = get_settings()
    if settings.is_setup_complete:
        raise SetupAlreadyComplete("Setup has already been completed.")
    admin = new_user(
        username=admin_username,
        password=admin_password,
        role=ROLE_ADMIN,
        email=admin_email,
        timezone=timezone or settings.default_timezone,
    )
    now = utcnow()
    values = {"setup_completed_at": now, "allow_analytics": bool(allow_analytics),
              "analytics_changed_at": now}
    if company_name and company_name.strip():
        # The same sanitiser as every other name (a NUL was a 500 on PostgreSQL).
        values["company_name"] = clean_name(company_name, "company_name")
    if timezone:
        values["default_timezone"] = admin.timezone
    try:
        db.session.add(admin)
        db.session.flush()  # the admin's id says who made the analytics choice
        values["analytics_changed_by"] = f"user:{admin.id} (setup)"
        claimed = db.session.execute(
            update(Settings)
            .where(Settings.id == 1, Settings.setup_completed_at.is_(None))
            .values(**values)
        ).rowcount
        if claimed != 1:
            raise SetupAlreadyComplete("Setup has already been completed.")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    db.session.expire(settings)
    # Telemetry learns that setup is done (base telemetry may start) from the event.
    events.announce(events.setup_completed, actor=admin, allow_analytics=bool(allow_analytics))
    return admin
