"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from bot.service import Bot
from bot.timeutil import iso_utc, utc_now

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    bot: Bot = current_app.extensions["bot"]
    database = bot.database_ok()
    dispatcher = bot.dispatch_timer.running
    last_tick = bot.last_tick_at()
    tick_age = (utc_now() - last_tick).total_seconds() if last_tick else None
    ready = database and (dispatcher or not bot.settings.run_dispatcher)
    # Informational too: without Redis the rate limits count in this process's memory and everything
    # else works, so it does not make the instance unready. null when REDIS_URL is not set.
    redis = current_app.extensions["rate_limiter"].shared_store_answers() if bot.settings.redis_url else None
    body = {"status": "ok" if ready else "unavailable", "database": database, "dispatcher": dispatcher,
            "last_tick_at": iso_utc(last_tick), "last_tick_age_seconds": tick_age,
            # Informational: the Telnyx SDK loads in the background for about two seconds after
            # start (at once under gunicorn, whose master imports it); sends wait for it meanwhile.
            "transport_ready": bot.transport.ready, "redis": redis}
    return jsonify(body), 200 if ready else 503
