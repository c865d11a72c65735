"""The person's pages: sign in by a texted link, the reminders page, and the private calendar feed.

Thin views: each reads its form (web.forms), calls one bot.personal_page.PersonalPage method and
renders or redirects. Everything works without JavaScript: plain forms, POST then redirect (303).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask.typing import ResponseReturnValue

from bot.calendar_feed import feed_host
from bot.language import wording
from bot.language.commands import MAX_TEXT_LENGTH
from bot.personal_page import Outcome, PersonalPage
from web.errors import render_errors_as_pages
from web.forms import ActionForm, AddForm, SnoozeForm, TextForm, TimeForm, ZoneForm
from web.security import add_security_headers, protect_forms

# The texted link's page: its own blueprint, so that its POST alone is rate-limited per address.
links = Blueprint("links", __name__, template_folder="templates")
blueprint = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/web-static")
feeds = Blueprint("feeds", __name__)
for _each in (links, blueprint, feeds):
    add_security_headers(_each)
    render_errors_as_pages(_each)
# The link page is served with Referrer-Policy: no-referrer, so its form is posted without a Referer.
protect_forms(links, referrer_exempt=frozenset({"links.link_sign_in"}))

# Zones offered as suggestions on the page (any IANA name, or a name "tz" takes, is accepted).
COMMON_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Mexico_City",
                "America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin",
                "Europe/Madrid", "Africa/Johannesburg", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
                "Australia/Sydney", "Pacific/Auckland", "UTC")


def _page() -> PersonalPage:
    return current_app.extensions["personal_page"]


# --- signing in by the texted link ---------------------------------------------------------------

@links.get("/w/<token>")
def link_page(token: str) -> ResponseReturnValue:
    """Show one sign-in button; uses nothing up, since messaging apps fetch links for their previews."""
    if not _page().link_usable(token):
        return _no_referrer(render_template("web/link_unusable.html", message=wording.web_link_unusable()), 410)
    return _no_referrer(render_template("web/link.html", form=ActionForm(), token=token), 200)


@links.post("/w/<token>")
def link_sign_in(token: str) -> ResponseReturnValue:
    """Use the link: open a session (a new cookie) and go to the reminders page."""
    signed_in = _page().sign_in(token)
    if signed_in is None:
        return _no_referrer(render_template("web/link_unusable.html", message=wording.web_link_unusable()), 410)
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    session.permanent = True
    session["sid"] = signed_in.session_token
    return redirect(url_for("web.reminders"), 303)


def _no_referrer(body: str, status: int) -> Response:
    # The URL holds the token: no Referer may carry it anywhere, not even to our own stylesheet.
    response = Response(body, status, mimetype="text/html")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# --- the signed-in pages -------------------------------------------------------------------------

@blueprint.before_request
def require_sign_in() -> ResponseReturnValue | None:
    """Find the signed-in number; answer 401 with how to sign in when there is none."""
    if request.endpoint == "web.static":
        return None
    g.number = _page().signed_in_number(session.get("sid"))
    if g.number is None:
        session.pop("sid", None)
        return render_template("web/signed_out.html"), 401
    return None


protect_forms(blueprint)


def _result(outcome: Outcome | None, back: str) -> ResponseReturnValue:
    """Flash what an action did and go back (POST, then redirect); 404 when the reminder is not the person's."""
    if outcome is None:
        abort(404, "There is no such reminder of yours.")
    flash(outcome.message, "ok" if outcome.ok else "error")
    return redirect(back, 303)


@blueprint.get("/me")
def reminders() -> ResponseReturnValue:
    return _render_page(AddForm(formdata=None))


def _render_page(add_form: AddForm, preview: str | None = None, status: int = 200) -> ResponseReturnValue:
    view = _page().view(g.number)
    zone_form = ZoneForm(formdata=None, zone=view.zone)
    return render_template("web/reminders.html", view=view, add_form=add_form, preview=preview, zone_form=zone_form,
                           action_form=ActionForm(formdata=None), zones=COMMON_ZONES), status


@blueprint.post("/me/add")
def add() -> ResponseReturnValue:
    """Preview how the time was read (nothing saved), or save what was previewed."""
    form = AddForm()
    if not form.validate():
        flash(wording.web_time_problem() if form.when.errors else wording.web_text_problem(MAX_TEXT_LENGTH), "error")
        return _render_page(form, status=422)
    if request.form.get("action") != "save":
        reading = _page().read(g.number, form.when.data, form.text.data, form.to.data or "")
        if reading.remind is None:
            flash(reading.preview, "error")
            return _render_page(form, status=422)
        return _render_page(form, preview=reading.preview)
    outcome = _page().add(g.number, form.when.data, form.text.data, form.to.data or "")
    if not outcome.ok:
        flash(outcome.message, "error")
        return _render_page(form, status=422)
    return _result(outcome, url_for("web.reminders"))


@blueprint.get("/me/r/<reminder_id>")
def reminder(reminder_id: str) -> ResponseReturnValue:
    return _render_reminder(reminder_id, TimeForm(formdata=None))


def _render_reminder(reminder_id: str, time_form: TimeForm, preview: str | None = None,
                     status: int = 200) -> ResponseReturnValue:
    detail = _page().detail(g.number, reminder_id)
    if detail is None:
        abort(404, "There is no such reminder of yours.")
    return render_template("web/reminder.html", detail=detail, text_form=TextForm(formdata=None, text=detail.text),
                           time_form=time_form, preview=preview, snooze_form=SnoozeForm(formdata=None),
                           action_form=ActionForm(formdata=None)), status


@blueprint.post("/me/r/<reminder_id>/delete")
def delete(reminder_id: str) -> ResponseReturnValue:
    ActionForm()  # its CSRF token was checked before this view
    return _result(_page().delete(g.number, reminder_id), url_for("web.reminders"))


@blueprint.post("/me/r/<reminder_id>/text")
def change_text(reminder_id: str) -> ResponseReturnValue:
    form = TextForm()
    if not form.validate():
        return _result(Outcome(False, wording.web_text_problem(MAX_TEXT_LENGTH)), url_for("web.reminder", reminder_id=reminder_id))
    return _result(_page().change_text(g.number, reminder_id, form.text.data),
                   url_for("web.reminder", reminder_id=reminder_id))


@blueprint.post("/me/r/<reminder_id>/time")
def change_time(reminder_id: str) -> ResponseReturnValue:
    """Preview the new time (nothing saved), or save what was previewed."""
    form = TimeForm()
    back = url_for("web.reminder", reminder_id=reminder_id)
    if not form.validate():
        return _result(Outcome(False, wording.web_time_problem()), back)
    if request.form.get("action") != "save":
        if _page().detail(g.number, reminder_id) is None:
            abort(404, "There is no such reminder of yours.")
        reading = _page().read_new_time(g.number, form.when.data)
        if reading.remind is None:
            flash(reading.preview, "error")
            return _render_reminder(reminder_id, form, status=422)
        return _render_reminder(reminder_id, form, preview=reading.preview)
    return _result(_page().change_time(g.number, reminder_id, form.when.data), back)


@blueprint.post("/me/r/<reminder_id>/snooze")
def snooze(reminder_id: str) -> ResponseReturnValue:
    form = SnoozeForm()
    if not form.validate():
        abort(400, "Pick how long to snooze from the list.")
    return _result(_page().snooze(g.number, reminder_id, form.choice.data), url_for("web.reminders"))


@blueprint.post("/me/zone")
def set_zone() -> ResponseReturnValue:
    form = ZoneForm()
    name = (form.zone.data or "") if form.validate() else ""
    return _result(_page().set_zone(g.number, name), url_for("web.reminders"))


@blueprint.post("/me/calendar")
def new_calendar_link() -> ResponseReturnValue:
    """Make a new private feed URL and show it this once (only its hash is kept)."""
    token = _page().new_feed(g.number)
    path = url_for("feeds.calendar", token=token)
    base = _page().settings.public_base_url or request.host_url
    url = base.rstrip("/") + path
    webcal = "webcal://" + url.split("://", 1)[1]
    return render_template("web/calendar.html", url=url, webcal=webcal, action_form=ActionForm(formdata=None))


@blueprint.post("/me/calendar/off")
def revoke_calendar_link() -> ResponseReturnValue:
    return _result(_page().revoke_feed(g.number), url_for("web.reminders"))


@blueprint.post("/me/sign-out")
def sign_out() -> ResponseReturnValue:
    _page().sign_out(session.get("sid", ""))
    session.clear()
    return render_template("web/signed_out.html", message=wording.web_signed_out())


# --- the calendar feed ---------------------------------------------------------------------------

@feeds.get("/calendar/<token>.ics")
def calendar(token: str) -> ResponseReturnValue:
    """The private iCalendar feed; 404 once revoked."""
    page = _page()
    body = page.calendar(token, feed_host(page.settings.public_base_url, urlsplit(request.host_url).hostname or "localhost"))
    if body is None:
        return Response("This calendar link was turned off. Make a new one on your reminders page.\n", 404,
                        mimetype="text/plain")
    response = Response(body, 200, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="reminders.ics"'
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

