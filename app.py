"""The Flask application: ``create_app()`` for gunicorn and tests, ``python app.py`` to run it."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
from typing import Any, Mapping

from flask import Flask

from bot.logs import configure_logging
from bot.service import Bot
from bot.settings import load_settings


def create_app(config: Mapping[str, Any] | None = None, *, bot: Bot | None = None) -> Flask:
    """Build an app: defaults, then the environment (and ``.env``), then ``config`` overrides.

    ``config`` keys are the environment variable names (``DATABASE_URL``, ...). Set
    ``RUN_DISPATCHER`` false for an app that only accepts requests. A bad setting raises
    ``SettingsError``; the entry points (``main`` below, ``gunicorn.conf.py``) check the settings
    first and exit with one line instead.
    """
    config = dict(config or {})
    if config.pop("LOAD_DOTENV", True):
        from dotenv import load_dotenv

        load_dotenv()
    settings = load_settings(os.environ, config)
    configure_logging(settings.log_format, settings.log_level)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    bot = bot or Bot(settings)
    app.extensions["bot"] = bot
    if not settings.telnyx_public_key and not settings.twilio_enabled:
        logging.getLogger(__name__).warning(
            "TELNYX_PUBLIC_KEY is not set: /webhooks/telnyx will refuse every request.")
    if settings.twilio_enabled and not settings.public_base_url:
        logging.getLogger(__name__).warning("PUBLIC_BASE_URL is not set: /webhooks/twilio will refuse every "
                                            "request, and Twilio is not asked for delivery reports.")

    from webhooks import api, health, observability, telnyx, twilio
    from webhooks.errors import register_error_handlers
    from webhooks.limits import init_rate_limits

    register_error_handlers(app)
    observability.install_request_ids(app)
    app.register_blueprint(observability.blueprint)
    app.register_blueprint(telnyx.blueprint)
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(api.blueprint)
    app.extensions["rate_limiter"] = init_rate_limits(
        app, settings, webhooks=(telnyx.blueprint.name, twilio.blueprint.name), api=api.blueprint.name)
    from web import init_web  # the web page, the calendar feed and the operator console

    init_web(app, app.extensions["rate_limiter"])

    if settings.run_dispatcher:
        bot.start()
        atexit.register(bot.shutdown)
    return app


def main() -> None:
    """Run the development server on ``HOST``:``PORT`` until SIGTERM or Ctrl-C.

    A bad setting, an unreachable database or Redis stops it first: one line on stderr, exit status 2.
    """
    from dotenv import load_dotenv

    from bot.config_check import settings_or_exit

    load_dotenv()
    settings_or_exit(os.environ)
    app = create_app()
    bot: Bot = app.extensions["bot"]

    def _stop(signum: int, _frame: Any) -> None:
        bot.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    settings = bot.settings
    log = logging.getLogger(__name__)
    log.warning("This is Flask's development server, for development only; in production run "
                "gunicorn 'app:create_app()' -c gunicorn.conf.py (README: Production).")
    log.info("Serving on http://%s:%d (webhook: /webhooks/%s)", settings.host, settings.port,
             "twilio" if settings.twilio_enabled else "telnyx")
    app.run(host=settings.host, port=settings.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
