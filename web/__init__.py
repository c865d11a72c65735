"""The web page, the calendar feed and the operator console: Flask blueprints, Jinja templates, a little CSS and JS.

``init_web(app, limiter)`` is called by ``app.create_app``. No front-end build and no CDN: the
stylesheet and script are served by the app itself (``/web-static/``). Each blueprint carries its
own security (CSRF on its forms, the strict headers) from its module: see web.security.
"""

from __future__ import annotations

from flask import Flask

from bot.operator_console import OperatorConsole
from bot.personal_page import PersonalPage
from bot.service import Bot
from web import admin, person
from web.security import init_security
from webhooks.limits import RequestLimits

# Per client address, on the forms that take a secret (a sign-in link, the admin token): guessing
# either is hopeless already (256 bits; ADMIN_TOKEN has 32 characters or more), this keeps it so.
SIGN_IN_LIMIT = "30/minute"


def init_web(app: Flask, limiter: RequestLimits) -> None:
    """Register the pages, the feed and the console, with their sessions and rate limits."""
    bot: Bot = app.extensions["bot"]
    pages = (person.links, person.blueprint, person.feeds, admin.blueprint)
    init_security(app, bot.settings, frozenset(blueprint.name for blueprint in pages))
    app.extensions["personal_page"] = PersonalPage(bot.session_factory, bot.settings, bot.clock, bot.wake)
    app.extensions["operator_console"] = OperatorConsole(bot.session_factory, bot.clock, bot.wake)
    for blueprint in pages:
        app.register_blueprint(blueprint)
    limiter.limit((person.links.name, admin.blueprint.name), SIGN_IN_LIMIT, methods=["POST"])
