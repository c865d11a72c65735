"""The baseline: a bare Flask app whose POST endpoints read the body and answer 200, nothing else.

Served exactly like ours (``gunicorn 'bare_app:create_app()'`` with the same config and flags, or
``python bench/bare_app.py`` on werkzeug's threaded server with ``PORT``), it is the most any Flask
view can do on this machine; our endpoints are reported as a fraction of it.
"""

from __future__ import annotations

import os

from flask import Flask, request


def create_app() -> Flask:
    """Build the bare app: the same paths as ours, no work behind them."""
    app = Flask(__name__)

    @app.post("/webhooks/telnyx")
    @app.post("/sms/schedule")
    def accept() -> tuple[str, int]:
        request.get_data()  # read the body, as any real view must, so keep-alive stays in step
        return "", 200

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threaded=True,
                     use_reloader=False)
