"""WTForms for the web UI. Forms check shape; services check meaning."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    SelectChoice,
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from ..models import ROLES, TASK_STATUSES

_DT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _optional_int(value):
    """An id from a menu: None for "none", garbage, or a number no database id can be
    (above 2**31 - 1: PostgreSQL's integer would overflow with a 500)."""
    if value in (None, "", "0", 0):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


class SetupForm(FlaskForm):
    company_name = StringField("Company or team name", validators=[Optional(), Length(max=200)])
    admin_username = StringField("Admin username", validators=[InputRequired(), Length(max=63)])
    admin_email = EmailField("Admin email (optional)", validators=[Optional(), Length(max=255)])
    admin_password = PasswordField("Password", validators=[InputRequired(), Length(min=8, max=256)])
    confirm_password = PasswordField(
        "Repeat password",
        validators=[InputRequired(), EqualTo("admin_password", "The passwords do not match.")],
    )
    timezone = SelectField("Default time zone", validate_choice=False)
    allow_analytics = BooleanField("Share detailed, pseudonymous usage analytics", default=False)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    remember = BooleanField("Remember me")


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    default_hourly_rate = StringField("Default hourly rate", validators=[Optional()])
    archived = BooleanField("Archived")


class ProjectForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    client_id = SelectField("Client", coerce=_optional_int, validate_choice=False)
    billable = BooleanField("Billable", default=True)
    hourly_rate = StringField("Hourly rate", validators=[Optional()])
    color = StringField("Colour", default="#3b82f6")
    archived = BooleanField("Archived")


class TaskForm(FlaskForm):
    name = StringField("Task name", validators=[InputRequired(), Length(max=200)])
    status = SelectField("Status", choices=[SelectChoice(s, s.replace("_", " ")) for s in TASK_STATUSES])
    hourly_rate = StringField("Hourly rate", validators=[Optional()])


class TimerStartForm(FlaskForm):
    project_id = SelectField("Project", coerce=_optional_int, validate_choice=False)
    task_id = SelectField("Task", coerce=_optional_int, validate_choice=False)
    notes = StringField("What are you working on?", validators=[Optional(), Length(max=5000)])
    # Sent by the "Switch" button: stop the running timer and start this one.
    switch = BooleanField("Switch", default=False)


class RunningTimerForm(FlaskForm):
    """Corrections to the running timer, on the dashboard."""

    project_id = SelectField("Project", coerce=_optional_int, validate_choice=False)
    task_id = SelectField("Task", coerce=_optional_int, validate_choice=False)
    started_at = DateTimeLocalField("Started at", format=_DT, validators=[InputRequired()])
    notes = StringField("Notes", validators=[Optional(), Length(max=5000)])


def _billable_choice(value):
    """The billable menu: "" = as the project, "yes", "no" → None / True / False."""
    if isinstance(value, bool) or value is None:
        return value
    return {"yes": True, "no": False}.get(str(value))


BILLABLE_CHOICES = [SelectChoice("", "As the project"), SelectChoice("yes", "Billable"),
                    SelectChoice("no", "Not billable")]
REPEATED_HOUR_MENU = [SelectChoice("", "— choose —"),
                      SelectChoice("first", "The first (before the clocks go back)"),
                      SelectChoice("second", "The second (after the clocks go back)")]


class EntryForm(FlaskForm):
    project_id = SelectField("Project", coerce=_optional_int, validate_choice=False)
    task_id = SelectField("Task", coerce=_optional_int, validate_choice=False)
    started_at = DateTimeLocalField("Start", format=_DT, validators=[InputRequired()])
    ended_at = DateTimeLocalField("End", format=_DT, validators=[Optional()])
    duration = StringField("or Duration", validators=[Optional(), Length(max=20)])
    repeated_hour = SelectField("Which one?", choices=REPEATED_HOUR_MENU, validate_choice=False)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    tags = StringField("Tags", validators=[Optional(), Length(max=1200)])
    billable = SelectField("Billable", choices=BILLABLE_CHOICES, coerce=_billable_choice,
                              validate_choice=False)
    confirm_long = BooleanField("Confirm long entry (more than 24 hours)")


class EntryFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: filters are not a state change

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    project_id = SelectField("Project", coerce=_optional_int, validate_choice=False)
    client_id = SelectField("Client", coerce=_optional_int, validate_choice=False)
    user_id = SelectField("User", coerce=_optional_int, validate_choice=False)
    tag_id = SelectField("Tag", coerce=_optional_int, validate_choice=False)


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=63)])
    display_name = StringField("Display name", validators=[Optional(), Length(max=120)])
    email = EmailField("Email", validators=[Optional(), Length(max=255)])
    password = PasswordField("Initial password", validators=[InputRequired(), Length(min=8, max=256)])
    role = SelectField("Role", choices=list(ROLES), default="user")
    timezone = SelectField("Time zone", validate_choice=False)


class UserEditForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES))
    active = BooleanField("Active")


REVOKE_TOKENS_LABEL = "Also revoke all API tokens"


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=256)])
    # Ticked unless the admin unticks it: a reset is often a recovery, and a token is a
    # credential as lasting as the password (services.users.reset_password).
    revoke_tokens = BooleanField(REVOKE_TOKENS_LABEL, default=True)


class SettingsForm(FlaskForm):
    company_name = StringField("Company name", validators=[InputRequired(), Length(max=200)])
    default_timezone = SelectField("Default time zone", validate_choice=False)
    currency = SelectField("Currency", validate_choice=False)
    allow_analytics = BooleanField("Share detailed, pseudonymous usage analytics")


class ProfileForm(FlaskForm):
    display_name = StringField("Display name", validators=[Optional(), Length(max=120)])
    email = EmailField("Email", validators=[Optional(), Length(max=255)])
    timezone = SelectField("Time zone", validate_choice=False)
    hours_format = SelectField("Show hours as", validate_choice=False, choices=[
        SelectChoice("hm", "h:mm (1:30)"), SelectChoice("decimal", "Decimal (1.50)")])
    theme = SelectField("Colour scheme", validate_choice=False, choices=[
        SelectChoice("auto", "As my device (light or dark)"), SelectChoice("light", "Light"),
        SelectChoice("dark", "Dark")])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[Optional()])
    new_password = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=256)])
    confirm_password = PasswordField(
        "Repeat new password",
        validators=[InputRequired(), EqualTo("new_password", "The passwords do not match.")],
    )
    revoke_tokens = BooleanField(REVOKE_TOKENS_LABEL, default=True)
