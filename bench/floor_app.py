"""The durable-accept floor: the least any endpoint can do that stores the request before answering.

A second baseline beside bench/bare_app.py. Its webhook checks the Telnyx signature
(``webhooks.signature``, as ours does) and commits the raw event in one
``INSERT ... ON CONFLICT DO NOTHING``; its ``POST /sms/schedule`` checks the bearer token and
commits the body under a random id. Nothing else: no parsing, no commands, no reply, no
dispatcher. It uses our engine settings (``bot.storage.db.make_engine``: WAL and the writer lock on
SQLite, psycopg 3 and pre-ping on PostgreSQL), so "ours / floor" is what the bot's own work costs
and "floor / bare" what storing anything costs on this machine. Call ``prepare(url)`` once
before serving (the workers must not race to create the table).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

from flask import Flask, request
from sqlalchemy import Column, Engine, MetaData, String, Table, Text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.storage.db import make_engine  # noqa: E402
from bot.storage.queries import dialect_module  # noqa: E402
from webhooks.signature import SignatureError, verify_signature  # noqa: E402

metadata = MetaData()
accepted = Table("accepted", metadata, Column("id", String(128), primary_key=True), Column("body", Text))


def prepare(database_url: str) -> None:
    """Create the floor's one table."""
    engine = make_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()


def _store(engine: Engine, row_id: str, body: str) -> None:
    insert = dialect_module(engine.dialect.name).insert(accepted).on_conflict_do_nothing()
    with engine.begin() as connection:
        connection.execute(insert, {"id": row_id, "body": body})


def create_app() -> Flask:
    """Build the floor app from DATABASE_URL, TELNYX_PUBLIC_KEY and API_TOKEN."""
    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"])
    public_key = os.environ["TELNYX_PUBLIC_KEY"]
    expected_authorization = f"Bearer {os.environ['API_TOKEN']}"

    @app.post("/webhooks/telnyx")
    def webhook() -> tuple[dict[str, str], int]:
        raw = request.get_data()
        try:
            verify_signature(raw, request.headers, public_key, time.time())
        except SignatureError:
            return {"error": "invalid_signature"}, 401
        _store(engine, json.loads(raw)["data"]["id"], raw.decode())
        return {"status": "handled"}, 200

    @app.post("/sms/schedule")
    def schedule() -> tuple[dict[str, str], int]:
        if request.headers.get("Authorization") != expected_authorization:
            return {"error": "unauthorized"}, 401
        job_id = secrets.token_hex(8)
        _store(engine, job_id, json.dumps(request.get_json()))
        return {"job_id": job_id}, 200

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threaded=True,
                     use_reloader=False)
