"""The pages' forms (WTForms through Flask-WTF): each field's limits once, and a CSRF token in every form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from bot.language.commands import MAX_TEXT_LENGTH
from bot.personal_page import MAX_WHEN_LENGTH, SNOOZES


class AddForm(FlaskForm):
    """A new reminder: when (in the SMS words), what, and optionally to whom."""

    when = StringField("When", validators=[DataRequired(), Length(max=MAX_WHEN_LENGTH)],
                       render_kw={"placeholder": "tomorrow 9am, every monday at 8am", "autocomplete": "off"})
    text = TextAreaField("Reminder", validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)],
                         render_kw={"placeholder": "call mom", "rows": 2})
    to = StringField("To (leave empty for you)", validators=[Optional(), Length(max=40)],
                     render_kw={"placeholder": "+1 555 010 0000", "inputmode": "tel", "autocomplete": "off"})


class TextForm(FlaskForm):
    """New text for a reminder."""

    text = TextAreaField("Text", validators=[DataRequired(), Length(max=MAX_TEXT_LENGTH)], render_kw={"rows": 3})


class TimeForm(FlaskForm):
    """A new time for a reminder, in the SMS words."""

    when = StringField("New time", validators=[DataRequired(), Length(max=MAX_WHEN_LENGTH)],
                       render_kw={"placeholder": "friday 5pm", "autocomplete": "off"})


class SnoozeForm(FlaskForm):
    """How long to snooze a reminder."""

    choice = SelectField("Snooze", choices=[SelectChoice(key, label) for key, (label, _) in SNOOZES.items()])


class ZoneForm(FlaskForm):
    """The person's time zone: an IANA name or a name the SMS "tz" command takes."""

    zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)],
                       render_kw={"list": "zones", "autocomplete": "off"})


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token: delete, sign in, sign out, the calendar link."""


class AdminSignInForm(FlaskForm):
    """The operator's ADMIN_TOKEN."""

    token = PasswordField("Admin token", validators=[DataRequired(), Length(max=512)],
                          render_kw={"autocomplete": "current-password"})


class AdminSearchForm(FlaskForm):
    """A number to look up (a GET form: it changes nothing, so it needs no CSRF token)."""

    class Meta:
        csrf = False

    number = StringField("Number", validators=[DataRequired(), Length(max=40)],
                         render_kw={"placeholder": "+1 555 010 0000", "inputmode": "tel"})
