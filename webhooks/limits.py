"""Per-client request limits (Flask-Limiter): in memory, or in Redis when REDIS_URL is set."""

from __future__ import annotations

from flask import Blueprint, Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from bot.settings import Settings

# Guessing ids: a client that keeps asking for ids that do not exist is cut off early.
ID_MISS_LIMIT = "30/minute"


def _is_miss(response: Response) -> bool:
    return response.status_code == 404


def init_rate_limits(app: Flask, settings: Settings, webhook: Blueprint, api: Blueprint | None) -> Limiter:
    """Limit the webhook and the API per client address; the health probes are exempt."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        # O(1) per hit; the moving window keeps every hit's timestamp (6% of an API request's time
        # in the profile) for a precision a per-client limit does not need.
        strategy="sliding-window-counter",
        headers_enabled=True,
        key_prefix="reminder-bot",
    )
    limiter.limit(settings.rate_limit_webhook)(webhook)
    if api is not None:
        limiter.limit(settings.rate_limit_api)(api)
        limiter.limit(ID_MISS_LIMIT, deduct_when=_is_miss)(api)
    return limiter
